"""What an idle region does on its own: as little as its purpose needs (issue 33: ten idle
regions burnt a whole core). The consumers' waiting is in tests/test_consumers.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from mapnet.dev.localnet import LocalNetwork
from mapnet.dev.mailbox import MailStore
from mapnet.federation.links import LinkKeeper
from mapnet.runtime import logs, mongo
from mapnet.runtime.codec import make_envelope
from mapnet.runtime.http import QuietServer
from mapnet.runtime.mongo import Database
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings
from services.notify.adapters.mail import SmtpPool
from services.notify.adapters.repository import NotifyStore
from services.notify.adapters.webhooks import WebhookPoster
from services.notify.service_layer.dispatcher import Dispatcher
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.three_regions import T


async def _count(items: list[Any]) -> int:
    return len(items)


async def _value(value: Any) -> Any:
    return value


class Pings(CommandListener):
    def __init__(self) -> None:
        self.sent = 0

    def started(self, event: CommandStartedEvent) -> None:
        self.sent += event.command_name == "ping"

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


async def test_the_services_on_one_database_client_share_its_ping(
    servers: Servers, settings: Settings, region: str
) -> None:
    """Health's background ping tells of the server, whatever the database: the services of a
    process (one client) ping once between them, not once each."""
    pings = Pings()
    client = mongo.client(servers.mongo_url, event_listeners=[pings])
    runtimes = [Runtime(region, s, settings, client) for s in ("registry", "events", "matching")]
    for _ in range(3):
        await asyncio.gather(*(rt._check_database() for rt in runtimes))
    assert pings.sent == 1
    assert all([(await rt.health_status()).mongo.ok for rt in runtimes])
    client.close()


async def test_a_link_keeper_with_nothing_to_do_looks_less_and_less_often(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While every copy is complete the keeper looks twice as late each time, up to
    STEADY_MAX_S, and only at its own server's word on the sources (no request across the
    hub); a look there that finds a source not heard from is followed at once by asking the
    origins, and anything to do brings the keeper back to its interval."""
    monkeypatch.setattr("mapnet.federation.links.STEADY_MAX_S", 0.4)
    looked: list[tuple[str, float]] = []
    unheard_at = 6  # the sixth look finds a source not heard from
    stalled_at = unheard_at + 1  # ... and the origins asked then, a source to restart

    class Watched(LinkKeeper):
        async def sources_heard_from(self) -> bool:
            looked.append(("local", time.monotonic()))
            return len(looked) != unheard_at

        async def add_answering_sources(self) -> list[str]:
            looked.append(("origins", time.monotonic()))
            return []

        async def restart_stalled_sources(self) -> list[str]:
            self.steady = len(looked) != stalled_at
            return []

    nc: Any = None
    keeper = Watched(nc, "tallinn", ["tallinn", "riga"], logs.get(), interval_s=0.05)
    keeper.start()
    try:
        await eventually(lambda: _count(looked), until=lambda n: n >= stalled_at + 2)
    finally:
        await keeper.stop()
    kinds = [kind for kind, _ in looked][: stalled_at + 2]
    assert kinds == ["origins", *["local"] * 5, "origins", "origins", "local"], kinds
    gaps = [round(b - a, 2) for (_, a), (_, b) in itertools.pairwise(looked)]
    # 0.1, 0.2, 0.4, 0.4, 0.4, then the origins at once, 0.05 after the look that found a
    # source to restart (a loaded machine adds a bit)
    expected = [0.1, 0.2, 0.4, 0.4, 0.4, 0.0, 0.05, 0.1]
    assert all(e <= g < e + 0.1 for g, e in zip(gaps, expected, strict=False)), gaps


async def test_a_steady_link_keeper_still_asks_the_origins_now_and_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What its server's word could miss: the origins are asked every ORIGINS_EVERY_S."""
    monkeypatch.setattr("mapnet.federation.links.STEADY_MAX_S", 0.1)
    monkeypatch.setattr("mapnet.federation.links.ORIGINS_EVERY_S", 0.5)
    looked: list[str] = []

    class Watched(LinkKeeper):
        async def sources_heard_from(self) -> bool:
            looked.append("local")
            return True

        async def add_answering_sources(self) -> list[str]:
            looked.append("origins")
            return []

        async def restart_stalled_sources(self) -> list[str]:
            self.steady = True
            return []

    nc: Any = None
    keeper = Watched(nc, "tallinn", ["tallinn", "riga"], logs.get(), interval_s=0.05)
    keeper.start()
    try:
        await eventually(lambda: _count(looked), until=lambda n: looked.count("origins") >= 3)
    finally:
        await keeper.stop()
    between = "".join("o" if kind == "origins" else "l" for kind in looked).split("o")[1:-1]
    assert all(3 <= len(locals_) <= 6 for locals_ in between), looked  # some 0.5 s apart


async def test_an_idle_http_server_ticks_once_a_second_and_stops_when_asked() -> None:
    """The portal's and the probes' uvicorn: its Date header renewed once a second, not woken
    ten times a second to look whether it should stop; asked to stop, it stops at once."""
    ticks: list[int] = []

    class Counted(QuietServer):
        async def on_tick(self, counter: int) -> bool:
            ticks.append(counter)
            return await super().on_tick(counter)

    async def hello(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    config = uvicorn.Config(hello, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = Counted(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _value(server.started), until=bool)
    port = server.servers[0].sockets[0].getsockname()[1]
    await asyncio.sleep(2.5)
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"http://127.0.0.1:{port}/")
    assert answer.text == "hello"
    # Renewed once a second, as uvicorn does: a second behind at most (and rounded down).
    assert time.time() - parsedate_to_datetime(answer.headers["date"]).timestamp() < 2.1
    assert 2 <= len(ticks) <= 4, ticks  # uvicorn's own loop: some 25
    # Each tick counts as uvicorn's ten: its once-a-second work (the Date) is done on each.
    assert all(t % 10 == 0 for t in ticks), ticks
    asked = time.monotonic()
    server.should_exit = True
    await asyncio.wait_for(task, 5)
    assert time.monotonic() - asked < 0.5


class CountedStore(NotifyStore):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.claims: list[float] = []

    async def claim(self, owner: str, lease_s: float, most: int) -> list[dict[str, Any]]:
        self.claims.append(time.monotonic())
        return await super().claim(owner, lease_s, most)


async def test_an_idle_notify_reads_its_delivery_log_when_something_falls_due(
    db: Database, mailbox: tuple[MailStore, int]
) -> None:
    """Notify's scanner reads the log when a delivery it saw there falls due (here another
    sender's, which crashed, its lease running out in 2 s), and otherwise a lease after its
    last look: not every second (two reads of the log a second in every idle region)."""
    received, port = mailbox
    store = CountedStore(db)
    message = "Message-ID: <idle-1@mapnet.eu>\r\nSubject: idle\r\n\r\nHello\r\n"
    await store.enqueue_many(
        [{"_id": "d1", "event_id": "e1", "channel": "email", "kind": "weekly_digest",
          "recipient": "p1@example.ee", "message": message, "correlationid": "e1"}],
        "a crashed instance", lease_s=2,
    )  # fmt: skip
    dispatcher = Dispatcher(
        store, SmtpPool(f"smtp://127.0.0.1:{port}", 1), WebhookPoster(1.0),
        region="idle", sender="noreply@mapnet.eu", workers=2, give_up_s=60, retry_base_s=0.1,
        attempt_timeout_s=1.0, log=logs.get(), written=lambda *args: None,
        envelope=lambda op, data, **kw: make_envelope(op, data, region="idle",
                                                      source="mapnet/idle/notify", **kw),
    )  # fmt: skip
    started = time.monotonic()
    dispatcher.start()
    try:
        # Taken once its lease has run out (nx-27017 compares the times to the second).
        await eventually(lambda: _count(received.received), until=bool, timeout_s=8)
        assert time.monotonic() - started < 6
        looked = len(store.claims)
        await asyncio.sleep(3)
        idle_claims = len(store.claims) - looked
    finally:
        await dispatcher.stop()
    assert idle_claims <= 1, store.claims  # every second: 3
    assert looked <= 4, store.claims  # the first look, then at the lease's end (and a second)


async def test_a_region_server_hears_from_every_source_while_linked(net: LocalNetwork) -> None:
    """What a steady keeper's local look reads: its server hears from every source (their
    heartbeats) while linked, and not from any once the region is cut from the hub."""
    nc = await nats.connect(net.regions[T].nats_url)
    keeper = LinkKeeper(nc, T, net.ids, logs.get())
    try:
        await eventually(keeper.sources_heard_from, until=bool, timeout_s=60)
        await net.cut(T)
        try:
            await eventually(keeper.sources_heard_from, until=lambda heard: not heard)
        finally:
            await net.heal(T)
        await eventually(keeper.sources_heard_from, until=bool, timeout_s=60)
    finally:
        await nc.close()


async def test_the_services_on_one_database_client_keep_one_ping_timer(
    servers: Servers, settings: Settings, region: str
) -> None:
    """One task pings for all the services of a process (one client), not a timer each that
    wakes to share the ping; it ends with the last of them."""
    pings = Pings()
    client = mongo.client(servers.mongo_url, event_listeners=[pings])

    def timers() -> set[asyncio.Task[Any]]:
        return {t for t in asyncio.all_tasks() if "database_ping" in t.get_name()}

    others = timers()  # other tests' services, running in this loop
    runtimes = [Runtime(region, s, settings, client) for s in ("registry", "events", "matching")]
    for rt in runtimes:
        for start in rt.startup:
            await start()
    try:
        await eventually(lambda: _value(pings.sent), until=bool)
        assert len(timers() - others) == 1, timers() - others
        assert pings.sent == 1  # one for the three, the next 5 s later
        # Its answer reaches each of them (one that joined after a ping, with the next).
        await eventually(lambda: _value([rt._last_ping["at"] for rt in runtimes]), until=all)
        assert all([(await rt.health_status()).mongo.ok for rt in runtimes])
    finally:
        for rt in runtimes:
            for stop in rt.shutdown:
                await stop()
    assert not timers() - others
    client.close()
