"""JetStream streams of a region and a typed request/reply client for commands and queries."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError
from pydantic import BaseModel

from contracts.envelope import ErrorReply, new_id
from contracts.errors import Refused
from contracts.operations import Operation
from contracts.subjects import SERVICES, dlq_stream, service_events, stream_name

from .codec import encode, make_envelope

Out = TypeVar("Out", bound=BaseModel)

DUPLICATE_WINDOW_S = 120.0


def region_streams(region: str) -> list[StreamConfig]:
    configs = [
        StreamConfig(
            name=stream_name(region, service),
            subjects=[service_events(region, service)],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_S,
            description=f"Events of the {service} service of region {region}",
        )
        for service in SERVICES
    ]
    configs.append(
        StreamConfig(
            name=dlq_stream(region),
            subjects=[f"mapnet.{region}.*.dlq.>"],
            storage=StorageType.FILE,
            description=f"Dead letters of region {region}: messages that kept failing",
        )
    )
    return configs


async def ensure_streams(js: JetStreamContext, region: str) -> None:
    for config in region_streams(region):
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.update_stream(config)


class BusClient:
    """What a partner system, the CLI, tests and benchmarks use to talk to MAPnet services."""

    def __init__(self, nc: NATS, *, source: str = "mapnet/cli", timeout_s: float = 5.0) -> None:
        self.nc = nc
        self.source = source
        self.timeout_s = timeout_s

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> BusClient:
        nc = await nats.connect(
            url, name="mapnet-client", connect_timeout=2, max_reconnect_attempts=3
        )
        return cls(nc, **kwargs)

    async def close(self) -> None:
        await self.nc.drain()

    async def raw(
        self,
        op: Operation[Any, Any],
        data: BaseModel,
        region: str,
        *,
        id: str | None = None,
        correlationid: str | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Send one command or query; answer the reply document, error replies included."""
        env = make_envelope(
            op,
            data,
            region=region,
            source=self.source,
            id=id or new_id(),
            correlationid=correlationid,
        )
        subj = op.subject(region)
        try:
            msg = await self.nc.request(subj, encode(env), timeout=timeout_s or self.timeout_s)
        except NoRespondersError as exc:
            raise Refused(
                "region_unavailable", f"nobody answers {subj}", subject=subj, region=region
            ) from exc
        except NatsTimeout as exc:
            raise Refused(
                "region_unavailable", f"no answer on {subj} in time", subject=subj, region=region
            ) from exc
        reply: dict[str, Any] = json.loads(msg.data)
        return reply

    async def call(
        self, op: Operation[Any, Out], data: BaseModel, region: str, **kwargs: Any
    ) -> Out:
        """Send and decode: the typed result, or Refused with the typed error."""
        reply = await self.raw(op, data, region, **kwargs)
        body = reply.get("data") or {}
        if "error" in body:
            err = ErrorReply.model_validate(body).error
            raise Refused(err.code, err.message, **err.details)
        assert op.reply is not None
        return op.reply.model_validate(body)
