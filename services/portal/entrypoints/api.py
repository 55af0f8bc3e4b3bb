"""`/api/v1/`: what a partner system may do on the bus, over HTTP, for partners that cannot speak
NATS. One route per command or query the roles table gives partners (`POST
/api/v1/<service>/<name>`, JSON in and out), typed errors with the bus's body and codes, an
`Idempotency-Key` header as the envelope id, and OpenAPI 3.1 at `/api/v1/openapi.json`.

The API key is the partner's own NATS login from `mapnet partner add` (`Bearer <user>:<password>`):
each request goes out on a connection made with it, so the NATS server itself checks the key and
stamps who sends (exactly as for a partner on the bus), and the portal keeps no second copy of
partners' secrets. Connections are kept per key for a while, not made per request."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import nats
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from nats.errors import Error as NatsError

from contracts.envelope import ErrorBody, ErrorReply, new_id
from contracts.errors import Refused
from contracts.operations import CATALOGUE, Operation
from mapnet.runtime.codec import encode, invalid_fields, make_envelope
from mapnet.runtime.credentials import with_login

# The HTTP status of each error code, for the API and the pages alike.
HTTP_STATUS = {"validation_failed": 422, "invalid_cursor": 422, "unknown_type": 422,
                "invalid_json": 400, "forbidden": 403, "not_found": 404, "conflict": 409,
                "duplicate": 409, "id_reused": 409, "not_home": 421, "region_unavailable": 503,
                "not_implemented": 501, "internal": 500}  # fmt: skip
_IDLE_S = 300.0


def partner_operations() -> list[Operation[Any, Any]]:
    return [op for op in CATALOGUE.values() if op.kind != "event" and "partner" in op.roles]


class PartnerLinks:
    """A NATS connection per API key, made with it (so the server checks it), closed when idle."""

    def __init__(self, nats_url: str, region: str) -> None:
        self.nats_url, self.region = nats_url, region
        self.links: dict[str, tuple[Any, float]] = {}

    async def link(self, key: str) -> Any:
        user, _, password = key.partition(":")
        if not user or not password:
            raise Refused("forbidden", "the API key is <user>:<password> from mapnet partner add")
        digest = hashlib.sha256(key.encode()).hexdigest()
        await self._close_idle()
        if found := self.links.get(digest):
            self.links[digest] = (found[0], time.monotonic())
            return found[0]
        # No lock: a slow or refused key must not hold up the other partners' requests.
        try:
            nc = await nats.connect(with_login(self.nats_url, user, password),
                                    connect_timeout=2, max_reconnect_attempts=0,
                                    allow_reconnect=False, name=f"api:{user}")  # fmt: skip
        except (NatsError, OSError, TimeoutError):
            raise Refused("forbidden", "the API key is not a partner's") from None
        if found := self.links.get(digest):  # another request with the key connected first
            await nc.close()
            return found[0]
        self.links[digest] = (nc, time.monotonic())
        return nc

    async def _close_idle(self) -> None:
        now = time.monotonic()
        idle = [d for d, (nc, used) in self.links.items()
                if now - used > _IDLE_S or not nc.is_connected]  # fmt: skip
        for nc, _ in [self.links.pop(d) for d in idle]:
            await nc.close()

    async def close(self) -> None:
        for nc, _ in self.links.values():
            await nc.close()
        self.links.clear()


def error(body: ErrorBody) -> JSONResponse:
    reply = ErrorReply(error=body).model_dump(mode="json")
    return JSONResponse(reply, status_code=HTTP_STATUS.get(body.code, 400))


def _route(op: Operation[Any, Any], links: PartnerLinks) -> Any:
    async def call(
        request: Request,
        body: Any,
        authorization: str = Header(description="Bearer <user>:<password>"),
        idempotency_key: str | None = Header(default=None, max_length=200),
    ) -> Response:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return error(ErrorBody(code="forbidden", message="send Authorization: Bearer <key>"))
        try:
            nc = await links.link(key.strip())
        except Refused as refused:
            return error(refused.body())
        env = make_envelope(op, body, region=links.region, source="mapnet/api",
                            id=idempotency_key or new_id())  # fmt: skip
        try:
            msg = await nc.request(op.subject(links.region), encode(env), timeout=10)
        except (NatsError, TimeoutError):
            return error(ErrorBody(code="region_unavailable", message="no answer in time"))
        data = json.loads(msg.data).get("data", {})
        if "error" in data:
            return error(ErrorReply.model_validate(data).error)
        return JSONResponse(data)

    call.__annotations__ = {"request": Request, "body": op.data, "return": Response}
    call.__name__ = op.name
    return call


def create_api(nats_url: str, region: str) -> tuple[FastAPI, PartnerLinks]:
    api = FastAPI(title="MAPnet partner API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json")  # fmt: skip
    links = PartnerLinks(nats_url, region)
    for op in partner_operations():
        api.add_api_route(
            f"/{op.service}/{op.name}", _route(op, links), methods=["POST"],
            response_model=op.reply, summary=op.summary, operation_id=f"{op.service}_{op.name}",
            responses={400: {"model": ErrorReply}, 403: {"model": ErrorReply},
                       404: {"model": ErrorReply}, 409: {"model": ErrorReply},
                       422: {"model": ErrorReply}, 503: {"model": ErrorReply}},
        )  # fmt: skip

    @api.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return error(exc.body())

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        """The bus's answer to a bad body: every bad field named, as `data.<path>`."""
        fields = [
            {"field": ".".join(["data", *(str(p) for p in e["loc"][1:])]) if e["loc"][0] == "body"
             else ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]  # fmt: skip
        return error(invalid_fields(fields))

    return api, links
