"""The runtime one service of one region gets: its router, its database, its outbox relay, and
decorators that turn plain handlers into FastStream subscribers with MAPnet's rules
(typed errors, idempotent commands, dead letters for events that keep failing)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from faststream.nats import NatsRouter
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from pydantic_settings import BaseSettings

from contracts.audit import AuditPage, ListAudit, audit_query
from contracts.envelope import Envelope
from contracts.health import Dependency, HealthStatus, health_query
from mapnet import __version__
from mapnet.runtime import compat, logs
from mapnet.runtime.audit import COLLECTION as AUDIT
from mapnet.runtime.audit import AuditLog
from mapnet.runtime.codec import reply_envelope, source
from mapnet.runtime.metrics import Metrics, Reading
from mapnet.runtime.mongo import Client, Database, database, ping
from mapnet.runtime.outbox import OutboxRelay
from mapnet.runtime.requests import REPLY_CACHE, RequestRoutes, Rules
from mapnet.runtime.routing import address, described
from mapnet.runtime.settings import Settings
from mapnet.runtime.subscriptions import Consumed, EventRoutes
from mapnet.runtime.unit_of_work import UnitOfWork

compat.apply()

Config = TypeVar("Config", bound=BaseSettings)


# The database is pinged in the background (see health_status) every 5 s, one ping shared by
# the services on one client (a ping tells of the server, whatever the database): an idle
# region's seven services pinged once a second each, then once every 2 s between them, still a
# tenth of ten idle regions' CPU with the embedded database's answers (issue 33). A readiness
# probe is asked every 10 s by default: 5 s is as often as it can use. A refused ping tells at
# once; stale after 12 s: no answer to two pings.
_PING_EVERY_S = 5.0
_PING_STALE_S = 12.0
# Each client's last ping: when it was sent and its answer (or the ping still on its way).
_PINGS: weakref.WeakKeyDictionary[Client, tuple[float, asyncio.Future[tuple[bool, str]]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class _Pinger:
    """One task per client pings for every running service on it: seven timers a process,
    each waking to share one ping, were as many wake-ups for nothing (issue 33)."""

    task: asyncio.Task[None] | None = None
    services: dict[int, Runtime] = field(default_factory=dict)  # by id: a Runtime is unhashable

    async def run(self) -> None:
        while True:
            # One ping, its answer handed to every service: a coroutine each, gathered, was
            # most of an idle process's wake-ups (some fifty a second of its 140).
            services = list(self.services.values())
            if services:
                pinged = services[0]
                try:
                    await pinged._check_database()
                except Exception as exc:  # a ping's failure is its answer, never raised
                    pinged._last_ping = {"ok": False, "detail": str(exc), "at": time.monotonic()}
                for rt in services[1:]:
                    rt._last_ping = pinged._last_ping
            await asyncio.sleep(_PING_EVERY_S)


_PINGERS: weakref.WeakKeyDictionary[Client, _Pinger] = weakref.WeakKeyDictionary()


@dataclass
class Runtime(RequestRoutes, EventRoutes):
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
    # Where it counts requests and its outbox, when the process serves /metrics (Assembly).
    metrics: Metrics | None = None
    # What the service counts itself (measure), read at each scrape of /metrics.
    readings: list[Reading] = field(default_factory=list)
    # Shared events of other regions this service reads: its process keeps the network linked.
    reads_network: bool = False
    # The durable consumers its routes keep (subscriptions.Consumed).
    consumed: list[Consumed] = field(default_factory=list)
    # Rules beyond the schema, by request subject: run on a body the schema refuses too.
    rules: dict[str, Rules] = field(default_factory=dict)
    startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    relay: OutboxRelay | None = None
    nc: NATS | None = None
    js: JetStreamContext | None = None
    # Where a service that also serves HTTP (the portal) listens, once it does.
    http_url: str | None = None
    # Set once the server holds every subscription of the process (Assembly.ready): until then
    # health answers "starting", since it may be subscribed before the commands are.
    ready: bool = False
    # The last background ping of the database (see health_status).
    _last_ping: dict[str, Any] = field(
        default_factory=lambda: {"ok": False, "detail": "", "at": 0.0}
    )

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

    # --- lifecycle ---------------------------------------------------------------------------

    async def _check_database(self) -> None:
        sent = _PINGS.get(self.mongo)
        if sent is None or time.monotonic() - sent[0] >= _PING_EVERY_S / 2:
            sent = (time.monotonic(), asyncio.ensure_future(ping(self.db)))
            _PINGS[self.mongo] = sent
        ok, detail = await asyncio.shield(sent[1])  # another service's wait may end first
        self._last_ping = {"ok": ok, "detail": detail, "at": time.monotonic()}

    async def _join_pinger(self) -> None:
        pinger = _PINGERS.setdefault(self.mongo, _Pinger())
        pinger.services[id(self)] = self
        if (
            pinger.task is None
            or pinger.task.done()
            or pinger.task.get_loop() is not asyncio.get_running_loop()  # a test's earlier loop
        ):
            pinger.task = asyncio.create_task(pinger.run(), name="database_ping")

    async def _leave_pinger(self) -> None:
        pinger = _PINGERS.get(self.mongo)
        if pinger is None or pinger.services.pop(id(self), None) is None or pinger.services:
            return
        if pinger.task is not None:  # the last service on the client: its pings end
            pinger.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger.task
            pinger.task = None

    async def health_status(self) -> HealthStatus:
        """The service's health as its health query and the process's /readyz give it: the
        database from the last background ping (never queued behind a long read of the
        one-at-a-time embedded database), NATS from the connection."""
        nats_ok = bool(self.nc and self.nc.is_connected)
        if not self._last_ping["at"]:
            await self._check_database()  # asked before the first background ping
        mongo_ok, mongo_detail = bool(self._last_ping["ok"]), str(self._last_ping["detail"])
        silent_s = time.monotonic() - float(self._last_ping["at"])
        if self._last_ping["at"] and silent_s > _PING_STALE_S:
            mongo_ok, mongo_detail = False, f"no answer to a ping for {silent_s:.0f} s"
        return HealthStatus(
            service=self.service,
            version=__version__,
            region=self.region,
            status="starting" if not self.ready else "ok" if nats_ok and mongo_ok else "degraded",
            nats=Dependency(ok=nats_ok),
            mongo=Dependency(ok=mongo_ok, detail=mongo_detail),
            instance=f"{socket.gethostname()}/{os.getpid()}",
            http_url=self.http_url,
        )

    def _health(self) -> None:
        op = health_query(self.service)
        self.startup.append(self._join_pinger)
        self.shutdown.insert(0, self._leave_pinger)

        async def health(msg: Any = None) -> bytes:
            status = await self.health_status()
            correlationid = getattr(msg, "correlationid", None) or "health"
            return reply_envelope(
                op, status, region=self.region, source=self.source, correlationid=correlationid
            )

        # An empty body is accepted too, so that a probe needs no envelope.
        async def empty_is_none(message: Any, decode: Any) -> Any:
            return await decode(message) if message.body else None

        health.__annotations__ = {"msg": op.envelope | None, "return": bytes}
        self.router.subscriber(
            address(op, self.region),
            decoder=empty_is_none,
            queue=self.queue,
            title=f"{op.service}.query.health",
            description=described(op),
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
        await self.audit.drain()
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

    def measure(
        self,
        name: str,
        doc: str,
        read: Callable[[], Mapping[tuple[str, ...], float]],
        *,
        labels: tuple[str, ...] = (),
        kind: Literal["gauge", "counter"] = "gauge",
    ) -> None:
        """A series of the service's own for /metrics, labelled with the region and service
        and ``labels``: ``read`` answers its values by those labels' values, and is called
        only when something scrapes (nothing is counted for a process that serves no
        /metrics beyond what the service keeps anyway). A counter's name gets ``_total``."""
        self.readings.append(Reading(name, doc, read, labels, kind))

    def unit_of_work(self) -> UnitOfWork:
        """What this service's handlers change records through: events of this region, and
        the relay woken after each write."""
        return UnitOfWork(self.region, self.envelope, self.written, source=self.source)

    def written(
        self, collection: str, record_id: Any, events: Sequence[Envelope[Any]] | None = None
    ) -> None:
        """Tell the relay that a record's outbox just received these events."""
        if self.relay:
            self.relay.wake(collection, record_id, events)
