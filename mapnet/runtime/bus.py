"""JetStream streams of a region and a typed request/reply client for commands and queries."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import nats
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig, StreamInfo, StreamSource, SubjectTransform
from nats.js.errors import APIError, BadRequestError, NotFoundError, ServiceUnavailableError
from pydantic import BaseModel

from contracts.access import Actor, Role
from contracts.envelope import ErrorReply, new_id
from contracts.errors import Refused
from contracts.operations import Operation, shared_events
from contracts.subjects import (
    dlq_stream,
    inbox_prefix,
    network_stream,
    service_events,
    shared_stream,
    stream_name,
)
from mapnet.runtime import logs, tracing
from mapnet.runtime.codec import encode, make_envelope
from mapnet.runtime.credentials import servers

Out = TypeVar("Out", bound=BaseModel)

DUPLICATE_WINDOW_S = 120.0


STREAM_REPLICAS_VAR = "MAPNET_STREAM_REPLICAS"


def stream_replicas() -> int:
    """How many servers keep each of MAPnet's streams: 1 on one server, 3 on a JetStream
    cluster of three (``MAPNET_STREAM_REPLICAS``), so that losing one server loses nothing and
    stops nothing. Consumers keep as many as their stream. A stream made with fewer is raised
    to it when the services next start (JetStream copies it to the new replicas)."""
    given = os.environ.get(STREAM_REPLICAS_VAR, "1").strip() or "1"
    if not given.isdigit() or not 1 <= int(given) <= 5:
        raise ValueError(f"{STREAM_REPLICAS_VAR} must be a whole number from 1 to 5, not {given!r}")
    return int(given)


def region_streams(region: str, services: Sequence[str]) -> list[StreamConfig]:
    """A stream per service of the region, its dead letters and what it shares."""
    configs = [
        StreamConfig(
            name=stream_name(region, service),
            subjects=[service_events(region, service)],
            storage=StorageType.FILE,
            num_replicas=stream_replicas(),
            duplicate_window=DUPLICATE_WINDOW_S,
            description=f"Events of the {service} service of region {region}",
        )
        for service in services
    ]
    configs.append(
        StreamConfig(
            name=dlq_stream(region),
            subjects=[f"mapnet.{region}.*.dlq.>"],
            storage=StorageType.FILE,
            num_replicas=stream_replicas(),
            description=f"Dead letters of region {region}: messages that kept failing",
        )
    )
    configs.append(shared_stream_config(region, services))
    return configs


SHARED_STREAM_MAX_CONSUMERS = 64


def shared_stream_config(region: str, services: Sequence[str]) -> StreamConfig:
    """The region's shared events, copied from its services' streams in its own domain."""
    sources = []
    for service in services:
        subjects = [op.subject(region) for op in shared_events() if op.service == service]
        if subjects:
            transforms = [SubjectTransform(src=s, dest=s) for s in subjects]
            sources.append(
                StreamSource(name=stream_name(region, service), subject_transforms=transforms)
            )
    return StreamConfig(
        name=shared_stream(region),
        subjects=[],
        sources=sources,
        storage=StorageType.FILE,
        num_replicas=stream_replicas(),
        duplicate_window=DUPLICATE_WINDOW_S,
        description=f"What region {region} shares with the network",
        # Other regions create consumers on it across the hub (one each, replaced on restart):
        # a bound, so that none can make the server keep consumers without end.
        max_consumers=SHARED_STREAM_MAX_CONSUMERS,
    )


def network_stream_config(region: str) -> StreamConfig:
    return StreamConfig(
        name=network_stream(region),
        subjects=[],
        sources=[],
        storage=StorageType.FILE,
        num_replicas=stream_replicas(),
        duplicate_window=DUPLICATE_WINDOW_S,
        description=f"Region {region}'s copy of what the other regions share",
    )


# What JetStream answers while a cluster is still forming (no meta leader yet, its peers not
# all known for the replicas asked): a moment later it is ready. bench/failover.py saw services
# die at start on a just-formed cluster (the supervisor restarted them) before this waited.
# No suitable peers for placement; temporarily unavailable; insufficient resources.
FORMING_ERR_CODES = {10005, 10008, 10023}
STREAM_EXISTS = 10058  # a stream of that name is there (with another configuration)
FORMING_WAIT_S = 30.0


def _still_forming(exc: Exception) -> bool:
    if isinstance(exc, NatsTimeout | NoRespondersError | ServiceUnavailableError):
        return True
    return isinstance(exc, APIError) and exc.err_code in FORMING_ERR_CODES


async def ensure_streams(js: JetStreamContext, region: str, services: Sequence[str]) -> None:
    """The region's streams, as this release declares them; waits up to FORMING_WAIT_S for a
    JetStream cluster that is still forming, and raises what it answers after that."""
    deadline, pause = time.monotonic() + FORMING_WAIT_S, 0.25
    while True:
        try:
            return await _ensure_streams(js, region, services)
        except Exception as exc:
            if not _still_forming(exc) or time.monotonic() + pause > deadline:
                raise
            logs.get(region=region).warning(
                "jetstream_not_ready", error=f"{type(exc).__name__}: {exc}"
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


async def _ensure_streams(js: JetStreamContext, region: str, services: Sequence[str]) -> None:
    # In this order: a sourcing stream created before its origin exists waits out NATS's
    # retry back-off (tens of seconds) before it copies anything.
    for config in region_streams(region, services):
        try:
            await js.add_stream(config)
        except BadRequestError as exc:
            # Only a stream already there is updated: "no suitable peers" is a 400 as well, and
            # its update was answered "stream not found", which killed services at start.
            if exc.err_code != STREAM_EXISTS:
                raise
            await js.update_stream(config)
    await ensure_network_stream(js, region)


async def ensure_network_stream(js: JetStreamContext, region: str) -> StreamInfo:
    """The region's network stream, created without sources if it is not there; never updated
    from here, since its sources are the link keeper's to add, when the other regions answer."""
    try:
        return await js.stream_info(network_stream(region))
    except NotFoundError:
        return await js.add_stream(network_stream_config(region))


class BusClient:
    """What a partner system, the CLI, tests and benchmarks use to talk to MAPnet services."""

    def __init__(
        self,
        nc: NATS,
        *,
        source: str = "mapnet/cli",
        timeout_s: float = 5.0,
        role: Role = "operator",
        actor: Actor | None = None,
        home: str | None = None,
    ) -> None:
        """Requests act for ``actor``, or else for this client itself (its source as id) in
        ``role`` and its ``home`` region (the region each request goes to, if not given: a
        request that crosses to another region acts only for its home region's people, as the
        hub's stamp tells the other region). A partner system's actor is replaced by the
        server's stamp of its user name, whatever it says."""
        self.nc = nc
        self.source = source
        self.timeout_s = timeout_s
        self.role: Role = role
        self.actor = actor
        self.home = home

    def acting(self, region: str) -> Actor:
        return self.actor or Actor(id=self.source, role=self.role, region=self.home or region)

    @classmethod
    async def connect(cls, url: str, *, region: str | None = None, **kwargs: Any) -> BusClient:
        """``region``: the region whose server ``url`` is, so that answers from other regions
        find their way back (see ``contracts.subjects.inbox_prefix``)."""
        nc = await nats.connect(
            servers(url),
            name="mapnet-client",
            connect_timeout=2,
            max_reconnect_attempts=3,
            inbox_prefix=inbox_prefix(region) if region else "_INBOX",
        )
        return cls(nc, home=region, **kwargs)

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
        actor: Actor | None = None,
    ) -> dict[str, Any]:
        """Send one command or query; answer the reply document, error replies included."""
        env = make_envelope(
            op,
            data,
            region=region,
            source=self.source,
            id=id or new_id(),
            correlationid=correlationid,
            actor=actor or self.acting(region),
        )
        subj = op.subject(region)
        waited_s = timeout_s or self.timeout_s
        # details.reason tells "nobody listens" (NATS says so at once: the region is cut off or
        # down, or the subject is not one it takes from here) from "a listener did not answer in
        # time" (it is slow or stuck; a command may still be carried out, so send it again).
        try:
            msg = await self.nc.request(
                subj, encode(env), timeout=waited_s, headers=tracing.inject({}) or None
            )
        except NoRespondersError as exc:
            raise Refused(
                "region_unavailable", f"nobody answers {subj}", subject=subj, region=region,
                reason="no_responders",
            ) from exc  # fmt: skip
        except NatsTimeout as exc:
            raise Refused(
                "region_unavailable", f"no answer on {subj} in {waited_s:g} s", subject=subj,
                region=region, reason="timeout", timeout_s=waited_s,
            ) from exc  # fmt: skip
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
