"""Event consumers over real JetStream: idempotent, and dead letters instead of endless retries."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import nats
import pytest
from faststream.nats import JStream, NatsBroker, PullSub
from nats.js.errors import NotFoundError

from contracts.envelope import Envelope
from contracts.registry import SME_REGISTERED, SmeRegistered
from contracts.subjects import dlq_stream
from mapnet.ops.servers import free_port, logged_in_url, nats_server, start_and_wait
from mapnet.runner import Assembly
from mapnet.runtime import compat, mongo
from mapnet.runtime.codec import encode
from mapnet.runtime.compat import LONG_POLL_ALONE_S, LONG_POLL_S, long_poll_s
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings
from tests.fixtures import Servers
from tests.helpers import CommandsSent, eventually, sme_registered


def registered(region: str, sme_id: str = "s1") -> Envelope[SmeRegistered]:
    env: Envelope[SmeRegistered] = sme_registered(region, sme_id)
    return env


async def dlq_messages(js: Any, region: str) -> int:
    try:
        info = await js.stream_info(dlq_stream(region))
    except NotFoundError:
        return 0
    return int(info.state.messages)


@pytest.fixture
async def js(servers: Servers) -> Any:
    nc = await nats.connect(servers.nats_url)
    yield nc.jetstream()
    await nc.close()


async def test_event_delivered_twice_is_handled_once(
    settings: Settings, region: str, js: Any
) -> None:
    seen: list[str] = []
    rt = Runtime(region, "matching", settings, mongo.client(settings.mongo_url or ""))

    @rt.consumes(SME_REGISTERED)
    async def on_registered(env: Envelope[SmeRegistered]) -> None:
        seen.append(env.data.sme_id)

    async with Assembly(settings, [], [region], runtimes=[rt]):
        env = registered(region)
        # Two copies that JetStream cannot deduplicate (different Nats-Msg-Id, same event).
        await js.publish(SME_REGISTERED.subject(region), encode(env), headers={"Nats-Msg-Id": "a"})
        await js.publish(SME_REGISTERED.subject(region), encode(env), headers={"Nats-Msg-Id": "b"})
        other = registered(region, "s2")
        await js.publish(SME_REGISTERED.subject(region), encode(other))
        await eventually(lambda: _value(seen), until=lambda s: len(s) >= 2)
        info = await eventually(
            lambda: js.consumer_info(
                f"{region.upper()}_REGISTRY", "matching__registry_sme_registered"
            ),
            until=lambda i: i.num_ack_pending == 0 and i.num_pending == 0,
        )
        assert info.delivered.stream_seq == 3
        # The copy passed over is counted on the event's entry in the log, the other's not.
        log = mongo.database(mongo.client(settings.mongo_url or ""), region, "matching")
        again = {
            doc["_id"].split(":", 1)[1]: doc.get("seen_again", 0)
            async for doc in log["processed_events"].find()
        }
        assert again == {env.id: 1, other.id: 0}
    assert sorted(seen) == ["s1", "s2"]


async def test_failing_handler_dead_letters_after_bounded_deliveries(
    settings: Settings, region: str, js: Any
) -> None:
    attempts: list[int] = []
    rt = Runtime(region, "notify", settings, mongo.client(settings.mongo_url or ""))

    @rt.consumes(SME_REGISTERED)
    async def always_fails(env: Envelope[SmeRegistered]) -> None:
        attempts.append(1)
        raise RuntimeError("smtp exploded")

    async with Assembly(settings, [], [region], runtimes=[rt]):
        await js.publish(SME_REGISTERED.subject(region), encode(registered(region)))
        try:
            await eventually(lambda: dlq_messages(js, region), until=lambda n: n == 1)
        except AssertionError as late:
            # Seen once on a loaded machine; say where the message was, to find out why.
            info = await js.consumer_info(
                f"{region.upper()}_REGISTRY", "notify__registry_sme_registered"
            )
            raise AssertionError(f"{late}; attempts={len(attempts)}; consumer={info}") from late
        msg = await js.get_last_msg(dlq_stream(region), f"mapnet.{region}.notify.dlq.>")
        assert msg.headers["Mapnet-Dlq-Reason"] == "RuntimeError: smtp exploded"
        assert msg.headers["Mapnet-Dlq-Deliveries"] == str(settings.max_deliveries)
        assert msg.headers["Mapnet-Dlq-Subject"] == SME_REGISTERED.subject(region)
    assert len(attempts) == settings.max_deliveries


@pytest.mark.parametrize(
    "body", [b'{"not": "an envelope"}', b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"]
)
async def test_undecodable_event_goes_straight_to_dead_letters(
    settings: Settings, region: str, js: Any, body: bytes
) -> None:
    handled: list[Any] = []
    rt = Runtime(region, "matching", settings, mongo.client(settings.mongo_url or ""))

    @rt.consumes(SME_REGISTERED)
    async def on_registered(env: Envelope[SmeRegistered]) -> None:
        handled.append(env)

    async with Assembly(settings, [], [region], runtimes=[rt]):
        await js.publish(SME_REGISTERED.subject(region), body)
        await eventually(lambda: dlq_messages(js, region), until=lambda n: n == 1)
        msg = await js.get_last_msg(dlq_stream(region), f"mapnet.{region}.matching.dlq.>")
        assert msg.headers["Mapnet-Dlq-Reason"].startswith(("validation_failed", "invalid_json"))
        assert msg.data == body
    assert handled == []


async def _value(x: Any) -> Any:
    return x


async def test_a_batch_is_handed_on_without_waiting_for_it_to_fill(servers: Servers) -> None:
    """One event is handled at once, not after the pull's timeout (FastStream's own loop waited
    for a full batch or the timeout: 0.2 s per consumer in MAPnet; 30 s here, to tell)."""
    compat.apply()
    name = f"fill_{uuid.uuid4().hex[:8]}"
    broker = NatsBroker(servers.nats_url)
    batches: list[list[str]] = []
    handled = asyncio.Event()

    @broker.subscriber(
        f"{name}.events",
        stream=JStream(name, subjects=[f"{name}.events"]),
        durable=name,
        pull_sub=PullSub(batch_size=64, timeout=30, batch=True),
    )
    async def handle(bodies: list[str]) -> None:
        batches.append(bodies)
        handled.set()

    async with broker:
        await broker.start()
        try:
            await broker.publish("one", f"{name}.events", stream=name)
            await asyncio.wait_for(handled.wait(), timeout=10)
        finally:
            nc = await nats.connect(servers.nats_url)
            await nc.jetstream().delete_stream(name)
            await nc.close()
    assert batches == [["one"]]


async def test_a_waiting_consumer_asks_again_once_its_restarted_server_is_back(
    servers: Servers, region: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle consumer's pull request waits on the server (compat.LONG_POLL_ALONE_S on a
    server alone, 60 s here, to tell); a server that restarts has forgotten it. Once
    reconnected the consumer asks again at once (the broker's reconnected_cb), and an event
    published then is handled in seconds, not after the rest of the wait."""
    monkeypatch.setattr("mapnet.runtime.compat.LONG_POLL_ALONE_S", 60.0)
    port = free_port()
    server = nats_server(region, port, tmp_path, any_region=True)
    start_and_wait(server, port)
    url = logged_in_url(region, port, tmp_path)
    settings = Settings.model_validate(
        {"MAPNET_REGIONS": region, "NATS_URL": url, "MONGO_URL": servers.mongo_url}
    )
    handled = asyncio.Event()
    rt = Runtime(region, "matching", settings, mongo.client(servers.mongo_url))

    @rt.consumes(SME_REGISTERED)
    async def on_registered(env: Envelope[SmeRegistered]) -> None:
        handled.set()

    try:
        async with Assembly(settings, [], [region], runtimes=[rt]):
            await asyncio.sleep(1)  # the consumer's pull request waits on the server
            server.kill()
            start_and_wait(server, port)
            assert rt.nc is not None
            await eventually(lambda: _value(rt.nc), until=lambda nc: nc.is_connected)
            nc = await nats.connect(url)
            try:
                await nc.jetstream().publish(
                    SME_REGISTERED.subject(region), encode(registered(region))
                )
            finally:
                await nc.close()
            await asyncio.wait_for(handled.wait(), timeout=15)
    finally:
        server.kill()


async def test_an_idle_consumer_waits_on_the_server_instead_of_polling(
    settings: Settings, region: str, servers: Servers
) -> None:
    """While nothing happens, a consumer's pull request waits on the server (compat.py): over
    3 s the consumer asks at most once or twice (it asked every 0.2 s, fifteen times, and so
    did each of a region's 35 consumers: most of an idle region's CPU). On a server alone (the
    suite's, one replica) the request waits the long time, LONG_POLL_ALONE_S: no leader can
    move away from it while the connection stays."""
    rt = Runtime(region, "matching", settings, mongo.client(settings.mongo_url or ""))

    @rt.consumes(SME_REGISTERED)
    async def on_registered(env: Envelope[SmeRegistered]) -> None:
        pass

    (consumed,) = rt.consumed
    watcher = await nats.connect(servers.nats_url)
    asked: list[bytes] = []
    every: list[bytes] = []

    async def pulled(msg: Any) -> None:
        asked.append(msg.data)
        every.append(msg.data)

    try:
        await watcher.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.*.{consumed.durable}", cb=pulled)
        async with Assembly(settings, [], [region], runtimes=[rt]):
            await eventually(lambda: _value(asked), until=bool)  # it has started to wait
            asked.clear()
            await asyncio.sleep(3)
    finally:
        await watcher.close()
    assert len(asked) <= 2, asked
    waits = [json.loads(request)["expires"] / 1e9 for request in every]
    assert waits and all(LONG_POLL_S < wait <= LONG_POLL_ALONE_S for wait in waits)


def test_only_a_consumer_whose_leader_may_move_gets_the_short_wait() -> None:
    assert long_poll_s(3) == long_poll_s(2) == LONG_POLL_S
    assert long_poll_s(1) == LONG_POLL_ALONE_S
    assert long_poll_s(1, servers=3) == LONG_POLL_S  # a cluster left on one replica


async def test_a_batch_worked_through_past_the_ack_wait_is_not_delivered_again(
    settings: Settings, region: str, js: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose handling takes longer than the ack wait (2 s here, 30 s in MAPnet) keeps
    its messages in progress on the server: none is delivered again while it is handled (the
    server redelivered the end of such a batch, met again after its first handling)."""
    monkeypatch.setattr("mapnet.runtime.subscriptions.ACK_WAIT_S", 2.0)
    published = asyncio.Event()
    seen: list[str] = []
    rt = Runtime(region, "matching", settings, mongo.client(settings.mongo_url or ""))

    @rt.consumes(SME_REGISTERED)
    async def on_registered(env: Envelope[SmeRegistered]) -> None:
        await published.wait()  # the rest come in one batch, fetched while this one is handled
        seen.append(env.data.sme_id)
        await asyncio.sleep(0.8)

    async with Assembly(settings, [], [region], runtimes=[rt]):
        for n in range(6):
            await js.publish(SME_REGISTERED.subject(region), encode(registered(region, f"s{n}")))
        published.set()
        await eventually(
            lambda: js.consumer_info(
                f"{region.upper()}_REGISTRY", "matching__registry_sme_registered"
            ),
            until=lambda i: i.num_ack_pending == 0 and i.num_pending == 0,
            timeout_s=20,
        )
        log = mongo.database(mongo.client(settings.mongo_url or ""), region, "matching")
        again = [doc.get("seen_again", 0) async for doc in log["processed_events"].find()]
    assert sorted(seen) == [f"s{n}" for n in range(6)]
    assert again == [0] * 6


async def test_an_idempotent_handler_skips_the_look_up_and_its_repeats_are_still_counted(
    settings: Settings, region: str, js: Any
) -> None:
    """A consumer whose handler is idempotent by its own write (a read copy at its newest
    version) does not read the log of handled events before each batch; a copy met again is
    handled again (changing nothing) and counted on the log as before."""
    commands = CommandsSent()
    seen: list[str] = []
    rt = Runtime(region, "matching", settings, mongo.client(settings.mongo_url or "", [commands]))

    @rt.consumes(SME_REGISTERED, idempotent=True)
    async def on_registered(env: Envelope[SmeRegistered]) -> None:
        seen.append(env.data.sme_id)

    async with Assembly(settings, [], [region], runtimes=[rt]):
        env = registered(region)
        await js.publish(SME_REGISTERED.subject(region), encode(env), headers={"Nats-Msg-Id": "a"})
        await eventually(lambda: _value(seen), until=lambda s: len(s) >= 1)
        await js.publish(SME_REGISTERED.subject(region), encode(env), headers={"Nats-Msg-Id": "b"})
        await eventually(lambda: _value(seen), until=lambda s: len(s) >= 2)
        log = mongo.database(mongo.client(settings.mongo_url or ""), region, "matching")
        entries = await eventually(
            lambda: log["processed_events"].find().to_list(None),
            until=lambda docs: [d.get("seen_again", 0) for d in docs] == [1],
        )
    assert [d["_id"].split(":", 1)[1] for d in entries] == [env.id]
    assert ("find", "processed_events") not in commands.sent
    assert ("insert", "processed_events") in commands.sent
