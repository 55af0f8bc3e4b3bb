"""`/api/v1/`: what a partner system may do on the bus, over HTTP, for partners that cannot speak
NATS. One route per command or query the roles table gives partners (`POST
/api/v1/<service>/<name>`, JSON in and out), typed errors with the bus's body and codes, an
`Idempotency-Key` header as the envelope id, and OpenAPI 3.1 at `/api/v1/openapi.json`.

The API key is the partner's own NATS login from `mapnet partner add` (`Bearer <user>:<password>`):
each request goes out on a connection made with it, so the NATS server itself checks the key and
stamps who sends (exactly as for a partner on the bus), and the portal keeps no second copy of
partners' secrets. Connections are kept per key for a while, not made per request."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from collections import OrderedDict
from typing import Annotated, Any

import nats
from fastapi import FastAPI, Header, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from contracts.envelope import ErrorBody, ErrorReply, new_id
from contracts.errors import Refused
from contracts.operations import CATALOGUE, Operation
from mapnet.runtime.codec import encode, invalid_fields, make_envelope

# The HTTP status of each error code, for the API and the pages alike.
HTTP_STATUS = {"validation_failed": 422, "invalid_cursor": 422, "unknown_type": 422,
                "invalid_json": 400, "forbidden": 403, "not_found": 404, "conflict": 409,
                "duplicate": 409, "id_reused": 409, "not_home": 421, "region_unavailable": 503,
                "not_implemented": 501, "internal": 500}  # fmt: skip
_IDLE_S = 300.0
# Only what `mapnet partner add` makes is a key (mapnet/ops/partners.py: the name's pattern, and
# a password of secrets.token_urlsafe(24)): nothing else reaches the NATS server, so no key can
# name a host, a port or an option of the connection.
PARTNER_USER = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
PARTNER_PASSWORD = re.compile(r"[A-Za-z0-9_-]{32}")
# Connections kept at once (the least recently used goes first), and connection attempts in
# flight: the portal must not become a way to hold the NATS server's connections or to make it
# check passwords (bcrypt) as fast as someone can send requests.
MAX_LINKS = 200
MAX_CONNECTING = 8
# After a wrong key, an address waits 1 s, then 2, 4 ... up to this before its next try.
MAX_WAIT_S = 300.0
_KEPT_ADDRESSES = 10_000
REALM = 'Bearer realm="mapnet-partner-api"'


class Unauthenticated(Exception):
    """No key, or not a partner's: answered 401 with WWW-Authenticate (RFC 6750)."""

    def __init__(self, message: str, invalid: bool) -> None:
        super().__init__(message)
        self.message = message
        self.challenge = REALM + (', error="invalid_token"' if invalid else "")


class Throttled(Exception):
    """Too many wrong keys from one address: answered 429 with Retry-After."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"too many wrong API keys from this address: try again in {wait_s:.0f} s")
        self.wait_s = wait_s


class WrongKeys:
    """Wrong keys per address, each making the address's next try wait twice as long."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.by_address: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def check(self, address: str) -> None:
        if (found := self.by_address.get(address)) and (wait := found[1] - self.clock()) > 0:
            raise Throttled(wait)

    def failed(self, address: str) -> None:
        count = self.by_address.pop(address, (0, 0.0))[0] + 1
        self.by_address[address] = (count, self.clock() + min(2.0 ** (count - 1), MAX_WAIT_S))
        while len(self.by_address) > _KEPT_ADDRESSES:
            self.by_address.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self.by_address.pop(address, None)


def partner_operations() -> list[Operation[Any, Any]]:
    return [op for op in CATALOGUE.values() if op.kind != "event" and "partner" in op.roles]


def partner_login(key: str) -> tuple[str, str]:
    """The user and password of a key `<user>:<password>`, if it is one `partner add` makes."""
    user, _, password = key.partition(":")
    if not PARTNER_USER.fullmatch(user) or not PARTNER_PASSWORD.fullmatch(password):
        raise Unauthenticated("the API key is <user>:<password> from mapnet partner add", True)
    return user, password


class PartnerLinks:
    """A NATS connection per API key, made with it (so the server checks it) to the region's
    server and no other, closed when idle or when more than MAX_LINKS are open."""

    def __init__(self, nats_url: str, region: str, max_links: int = MAX_LINKS) -> None:
        self.nats_url, self.region, self.max_links = nats_url, region, max_links
        self.links: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self.wrong = WrongKeys()
        self.connecting = asyncio.Semaphore(MAX_CONNECTING)

    async def link(self, key: str, address: str) -> Any:
        user, password = partner_login(key)
        digest = hashlib.sha256(key.encode()).hexdigest()
        await self._close_idle()
        if found := self._used(digest):  # a working key is never held up by others' guesses
            return found
        self.wrong.check(address)
        # No lock per key: a slow or refused key must not hold up the other partners' requests.
        try:
            async with self.connecting:
                nc = await nats.connect(
                    servers=[self.nats_url], user=user, password=password,
                    # The partner's replies come to its own inboxes (the server may allow it
                    # no others).
                    inbox_prefix=f"_INBOX.{user}", name=f"api:{user}", connect_timeout=2,
                    max_reconnect_attempts=0, allow_reconnect=False,
                )  # fmt: skip
        except (NatsError, OSError, TimeoutError):
            self.wrong.failed(address)
            raise Unauthenticated("the API key is not a partner's", True) from None
        self.wrong.succeeded(address)
        if found := self._used(digest):  # another request with the key connected first
            await nc.close()
            return found
        self.links[digest] = (nc, time.monotonic())
        while len(self.links) > self.max_links:
            oldest, _ = self.links.popitem(last=False)[1]
            await oldest.close()
        return nc

    def _used(self, digest: str) -> Any:
        if (found := self.links.get(digest)) is None:
            return None
        self.links[digest] = (found[0], time.monotonic())
        self.links.move_to_end(digest)
        return found[0]

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


_BEARER = HTTPBearer(auto_error=False, description="<user>:<password> from mapnet partner add")


def _route(op: Operation[Any, Any], links: PartnerLinks) -> Any:
    async def call(
        request: Request,
        body: Any,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
        idempotency_key: str | None = Header(default=None, max_length=200),
    ) -> Response:
        if credentials is None:
            raise Unauthenticated("send Authorization: Bearer <user>:<password>", False)
        address = request.client.host if request.client else "unknown"
        nc = await links.link(credentials.credentials.strip(), address)
        env = make_envelope(op, body, region=links.region, source="mapnet/api",
                            id=idempotency_key or new_id())  # fmt: skip
        try:
            msg = await nc.request(op.subject(links.region), encode(env), timeout=10)
        except NoRespondersError:
            return error(ErrorBody(code="region_unavailable", message="nobody answers",
                                   details={"reason": "no_responders"}))  # fmt: skip
        except (NatsError, TimeoutError):
            return error(ErrorBody(code="region_unavailable", message="no answer in time",
                                   details={"reason": "timeout", "timeout_s": 10}))  # fmt: skip
        data = json.loads(msg.data).get("data", {})
        if "error" in data:
            return error(ErrorReply.model_validate(data).error)
        return JSONResponse(data)

    call.__annotations__ = {**call.__annotations__, "body": op.data}
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
                       401: {"model": ErrorReply}, 422: {"model": ErrorReply},
                       429: {"model": ErrorReply}, 503: {"model": ErrorReply}},
        )  # fmt: skip

    @api.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return error(exc.body())

    @api.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        reply = ErrorReply(error=ErrorBody(code="forbidden", message=exc.message))
        return JSONResponse(reply.model_dump(mode="json"), status_code=401,
                            headers={"WWW-Authenticate": exc.challenge})  # fmt: skip

    @api.exception_handler(Throttled)
    async def throttled(request: Request, exc: Throttled) -> Response:
        body = ErrorBody(code="forbidden", message=str(exc),
                         details={"retry_after_s": math.ceil(exc.wait_s)})  # fmt: skip
        return JSONResponse(ErrorReply(error=body).model_dump(mode="json"), status_code=429,
                            headers={"Retry-After": str(math.ceil(exc.wait_s))})  # fmt: skip

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
