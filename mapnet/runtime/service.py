"""The runtime one service of one region gets: its router, its database, its outbox relay, and
decorators that turn plain handlers into FastStream subscribers with MAPnet's rules
(typed errors, idempotent commands, dead letters for events that keep failing)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsRouter, PullSub
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from contracts.audit import AuditPage, ListAudit, audit_query
from contracts.envelope import Envelope, ErrorBody, utcnow
from contracts.errors import Refused
from contracts.health import Dependency, HealthStatus, health_query
from contracts.operations import Operation
from contracts.subjects import network_stream, stream_name
from mapnet import __version__
from mapnet.runtime import compat, logs
from mapnet.runtime.access import acting
from mapnet.runtime.audit import AuditLog
from mapnet.runtime.codec import error_envelope, make_envelope, reply_envelope, source
from mapnet.runtime.consumer import BatchHandler, EventConsumer, EventHandler
from mapnet.runtime.mongo import Client, Database, database, ping
from mapnet.runtime.outbox import OutboxRelay
from mapnet.runtime.settings import Settings
from mapnet.runtime.unit_of_work import UnitOfWork

compat.apply()

Config = TypeVar("Config", bound=BaseSettings)
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
RequestHandler = Callable[[Envelope[In]], Awaitable[Out]]

# Region placeholder used when the routers are built only to export the AsyncAPI document.
SPEC_REGION = "{region}"
REPLY_CACHE = "command_replies"
AUDIT = "audit"
PROCESSED = "processed_events"


def _address(op: Operation[Any, Any], region: str) -> str:
    if region == SPEC_REGION:
        return f"mapnet.{region}.{op.service}.{op.kind}.{op.name}"
    return op.subject(region)


def _described(op: Operation[Any, Any]) -> str:
    if op.kind == "event":
        if op.network:
            return f"{op.summary}. Shared: copied into every other region of the network."
        return op.summary
    described = op.summary
    if op.network:
        described += ". Other regions may send this across the hub"
    return f"{described}. Roles that may send it: {', '.join(op.roles)}."


@dataclass
class Runtime:
    region: str
    service: str
    settings: Settings
    mongo: Client
    router: NatsRouter = field(default_factory=NatsRouter)
    # The service's own settings (its declaration's settings class), if it has any.
    config: BaseSettings | None = None
    # Fields naming the record a command or answer is about (from the declaration).
    record_fields: tuple[str, ...] = ()
    outbox_collections: list[str] = field(default_factory=list)
    # Shared events of other regions this service reads: its process keeps the network linked.
    reads_network: bool = False
    startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    relay: OutboxRelay | None = None
    nc: NATS | None = None
    js: JetStreamContext | None = None

    def __post_init__(self) -> None:
        self.source = source(self.region, self.service)
        self.log = logs.get(region=self.region, service=self.service)
        self.audit = AuditLog(self.db[AUDIT], self.service, self.log)
        self._health()
        self._audit_trail()

    @property
    def db(self) -> Database:
        return database(self.mongo, self.region, self.service)

    def config_as(self, kind: type[Config]) -> Config:
        """The service's settings, as the class it declared."""
        if not isinstance(self.config, kind):
            raise TypeError(f"{self.service} runs with {self.config!r}, not {kind.__name__}")
        return self.config

    def _record_id(self, model: Any) -> str | None:
        """The record a command or its answer is about, so that cached answers can be forgotten."""
        for name in self.record_fields:
            if isinstance(value := getattr(model, name, None), str):
                return value
        return None

    @property
    def queue(self) -> str:
        return f"{self.region}-{self.service}"

    # --- commands and queries ----------------------------------------------------------------

    def handles(
        self, op: Operation[In, Out], *, remember_replies: bool = True
    ) -> Callable[[RequestHandler[In, Out]], RequestHandler[In, Out]]:
        """Register a command or query handler: it gets the validated envelope and returns the
        result, or raises Refused. Commands are answered from the reply cache when repeated,
        unless the handler gives the same answer to a repeated command by itself
        (``remember_replies=False``), which saves two database round trips."""
        cached = op.kind == "cmd" and remember_replies

        def register(handler: RequestHandler[In, Out]) -> RequestHandler[In, Out]:
            async def subscriber(msg: Any, message: Any = Context("message")) -> bytes:
                with logs.bound(
                    region=self.region,
                    service=self.service,
                    correlation_id=msg.correlationid,
                    operation=op.name,
                    message_id=msg.id,
                ):
                    return await self._answer(op, handler, msg, cached, message.headers)

            subscriber.__name__ = op.name
            subscriber.__annotations__ = {"msg": op.envelope, "message": Any, "return": bytes}
            self.router.subscriber(
                _address(op, self.region),
                queue=self.queue,
                # Requests are handled side by side: each waits mostly on the database.
                max_workers=self.settings.request_concurrency,
                title=f"{op.service}.{op.kind}.{op.name}",
                description=_described(op),
            )(subscriber)
            return handler

        return register

    async def _answer(
        self,
        op: Operation[In, Out],
        handler: RequestHandler[In, Out],
        msg: Envelope[In],
        cached: bool,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        try:
            msg = acting(op, msg, headers, self.region)
        except Refused as refusal:
            self.log.info("request_refused", code=refusal.code, reason=refusal.message)
            await self._audited(op, msg, self._record_id(msg.data), refusal)
            return error_envelope(
                refusal.body(),
                region=self.region,
                source=self.source,
                correlationid=msg.correlationid,
            )
        cache = self.db[REPLY_CACHE] if cached else None
        if cache is not None and (hit := await cache.find_one({"_id": msg.id})):
            self.log.info("command_repeated", answered_from_cache=True)
            return str(hit["reply"]).encode()
        refers_to = self._record_id(msg.data)
        try:
            result = await handler(msg)
        except Refused as refusal:
            self.log.info("request_refused", code=refusal.code, reason=refusal.message)
            await self._audited(op, msg, refers_to, refusal)
            reply = error_envelope(
                refusal.body(),
                region=self.region,
                source=self.source,
                correlationid=msg.correlationid,
            )
        except Exception as exc:
            # An internal fault is answered, never left to time out, and not cached: a retry
            # may succeed.
            self.log.exception("request_failed", error=str(exc))
            return error_envelope(
                ErrorBody(
                    code="internal", message=f"{type(exc).__name__} while handling {op.name}"
                ),
                region=self.region,
                source=self.source,
                correlationid=msg.correlationid,
            )
        else:
            refers_to = refers_to or self._record_id(result)
            await self._audited(op, msg, refers_to, None)
            reply = reply_envelope(
                op, result, region=self.region, source=self.source, correlationid=msg.correlationid
            )
        if cache is not None:
            record = {"reply": reply.decode(), "at": utcnow(), "op": op.name, "ref": refers_to}
            await cache.update_one({"_id": msg.id}, {"$setOnInsert": record}, upsert=True)
        return reply

    async def _audited(
        self, op: Operation[Any, Any], msg: Envelope[Any], record: str | None, refusal: Any
    ) -> None:
        """Commands accepted and requests refused go in the audit trail; bad input does not
        (it changed nothing and says nothing of who may do what)."""
        if refusal is None:
            if op.kind == "cmd":
                await self.audit.record(op.name, msg, record, "accepted", "")
        elif refusal.code != "validation_failed" and (
            op.kind == "cmd" or refusal.code == "forbidden"
        ):
            await self.audit.record(op.name, msg, record, refusal.code, refusal.message)

    async def forget_replies(self, ref: str) -> None:
        """Drop what this service keeps of the people of an erased record: cached answers that
        may quote them, and who acted for it in the audit trail (the erasure itself stays)."""
        await self.db[REPLY_CACHE].delete_many({"ref": ref})
        await self.audit.forget_contacts_of(ref)

    def not_yet(self, *ops: Operation[Any, Any]) -> None:
        """Routes that exist and are documented but whose behaviour is still to be built: they
        answer with a typed ``not_implemented`` error instead of leaving the caller to time out."""
        for op in ops:

            async def refuse(msg: Envelope[Any], name: str = op.name) -> BaseModel:
                raise Refused("not_implemented", f"{name} is not available yet in this version")

            self.handles(op)(refuse)

    # --- events ------------------------------------------------------------------------------

    def consumes(self, op: Operation[In, Any]) -> Callable[[EventHandler[In]], EventHandler[In]]:
        """Register an idempotent, durable consumer of an event of this region. A message that
        cannot be decoded, or whose handler keeps failing, goes to the region's dead letters."""
        return self._consumer(op, None)

    def consumes_network(
        self, op: Operation[In, Any]
    ) -> Callable[[EventHandler[In]], EventHandler[In]]:
        """As ``consumes``, for a shared event of the other regions, read from this region's copy
        of what they share (its network stream), so it works while the hub is out of reach."""
        self.reads_network = True
        return self._consumer(op, None, network=True)

    def consumes_batches(
        self, op: Operation[In, Any]
    ) -> Callable[[BatchHandler[In]], BatchHandler[In]]:
        """As ``consumes``, for a handler that takes a whole pulled batch at once (to write its
        outcome in a few bulk operations instead of a few per message)."""

        def register(batch_handler: BatchHandler[In]) -> BatchHandler[In]:
            async def one(event: Envelope[In]) -> None:
                await batch_handler([event])

            self._consumer(op, batch_handler)(one)
            return batch_handler

        return register

    def _consumer(
        self,
        op: Operation[In, Any],
        batch_handler: BatchHandler[In] | None,
        *,
        network: bool = False,
    ) -> Callable[[EventHandler[In]], EventHandler[In]]:
        durable = f"{self.service}__{'net_' if network else ''}{op.service}_{op.name}"
        if network:
            address = f"mapnet.*.{op.service}.{op.kind}.{op.name}"
            stream = network_stream(self.region)
        else:
            address, stream = _address(op, self.region), stream_name(self.region, op.service)

        def register(handler: EventHandler[In]) -> EventHandler[In]:
            consumer = EventConsumer(
                batch_handler=batch_handler,
                op=op,
                durable=durable,
                handler=handler,
                processed=self.db[PROCESSED],
                region=self.region,
                service=self.service,
                max_deliveries=self.settings.max_deliveries,
                js=lambda: self.js,
            )

            async def subscriber(body: Any, message: Any = Context("message")) -> None:
                await consumer.deliver(message.raw_message)

            # The consumer decodes and validates each message itself, sending what it cannot
            # read to the dead letters; FastStream's own JSON decoding would raise first.
            async def undecoded(message: Any) -> None:
                return None

            subscriber.__name__ = f"on_{'network_' if network else ''}{op.name}"
            self.router.subscriber(
                address,
                stream=JStream(stream, declare=False),
                durable=durable,
                decoder=undecoded,
                # A batch handler writes a whole batch in a few bulk operations: the bigger
                # the batch, the fewer round trips per event.
                pull_sub=PullSub(
                    batch_size=64 if batch_handler is None else 256, timeout=0.2, batch=True
                ),
                config=ConsumerConfig(
                    ack_wait=30, max_deliver=-1, deliver_policy=DeliverPolicy.ALL
                ),
                ack_policy=AckPolicy.MANUAL,
                title=f"{self.service} consumes {op.name}",
                include_in_schema=False,
            )(subscriber)
            return handler

        return register

    # --- events this service publishes (documented in AsyncAPI; sent by the outbox relay) -----

    def publishes(self, *ops: Operation[Any, Any]) -> None:
        for op in ops:
            self.router.publisher(
                _address(op, self.region),
                schema=op.envelope,
                title=f"{op.service}.{op.kind}.{op.name}",
                description=_described(op),
            )

    def envelope(
        self, op: Operation[In, Any], data: In, *, correlationid: str, subject: str | None = None
    ) -> Envelope[In]:
        return make_envelope(
            op,
            data,
            region=self.region,
            source=self.source,
            correlationid=correlationid,
            subject=subject,
        )

    # --- lifecycle ---------------------------------------------------------------------------

    def _health(self) -> None:
        op = health_query(self.service)
        instance = f"{socket.gethostname()}/{os.getpid()}"

        async def health(msg: Any = None) -> bytes:
            nats_ok = bool(self.nc and self.nc.is_connected)
            mongo_ok, mongo_detail = await ping(self.db)
            status = HealthStatus(
                service=self.service,
                version=__version__,
                region=self.region,
                status="ok" if nats_ok and mongo_ok else "degraded",
                nats=Dependency(ok=nats_ok),
                mongo=Dependency(ok=mongo_ok, detail=mongo_detail),
                instance=instance,
            )
            correlationid = getattr(msg, "correlationid", None) or "health"
            return reply_envelope(
                op, status, region=self.region, source=self.source, correlationid=correlationid
            )

        # An empty body is accepted too, so that a probe needs no envelope.
        async def empty_is_none(message: Any, decode: Any) -> Any:
            return await decode(message) if message.body else None

        health.__annotations__ = {"msg": op.envelope | None, "return": bytes}
        self.router.subscriber(
            _address(op, self.region),
            decoder=empty_is_none,
            queue=self.queue,
            title=f"{op.service}.query.health",
            description=_described(op),
        )(health)

    def _audit_trail(self) -> None:
        op = audit_query(self.service)

        async def list_audit(query: Envelope[ListAudit]) -> AuditPage:
            return await self.audit.page(query.data)

        self.handles(op)(list_audit)
        self.startup.append(self.audit.create_indexes)

    async def start(self, nc: NATS) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        # forget_replies() finds a record's cached answers by their ref.
        await self.db[REPLY_CACHE].create_index("ref", name="ref")
        for hook in self.startup:
            await hook()
        if self.outbox_collections and self.settings.relay_enabled:
            self.relay = OutboxRelay(
                self.js, [self.db[name] for name in self.outbox_collections], log=self.log
            )
            self.relay.start()

    async def stop(self) -> None:
        for hook in self.shutdown:
            await hook()
        if self.relay:
            await self.relay.stop()

    def every(self, interval_s: float, job: Callable[[], Awaitable[Any]], name: str) -> None:
        """Run ``job`` now and then every ``interval_s`` while the service runs. A failing run
        is logged with its traceback and the next one comes as planned: one bad run must not
        end the periodic work."""
        tasks: list[asyncio.Task[None]] = []

        async def loop() -> None:
            while True:
                try:
                    await job()
                except Exception as exc:
                    self.log.exception(f"{name}_failed", error=str(exc))
                await asyncio.sleep(interval_s)

        async def start() -> None:
            tasks.append(asyncio.create_task(loop(), name=f"{self.service}-{name}"))

        async def stop() -> None:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        self.startup.append(start)
        self.shutdown.insert(0, stop)

    def unit_of_work(self) -> UnitOfWork:
        """What this service's handlers change records through: events of this region, and
        the relay woken after each write."""
        return UnitOfWork(self.region, self.envelope, self.written)

    def written(
        self, collection: str, record_id: Any, events: Sequence[Envelope[Any]] | None = None
    ) -> None:
        """Tell the relay that a record's outbox just received these events."""
        if self.relay:
            self.relay.wake(collection, record_id, events)
