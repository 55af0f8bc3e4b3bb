"""The outbox survives a crash between the write and the relay: published once after restart."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import nats
import pytest
from nats.js.api import ConsumerConfig

from contracts.registry import SME_REGISTERED
from contracts.subjects import stream_name
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings
from tests.fixtures import Servers
from tests.helpers import eventually


@pytest.fixture
async def js(servers: Servers) -> Any:
    nc = await nats.connect(servers.nats_url)
    yield nc.jetstream()
    await nc.close()


def crash_after_write(servers: Servers, region: str, event_id: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.crash_writer", servers.mongo_url, region, event_id],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr.decode()


def relaying_registry(settings: Settings, region: str) -> Runtime:
    """What a restarted registry process runs: a relay over its `smes` outbox."""
    rt = Runtime(region, "registry", settings, mongo.client(settings.mongo_url or ""))
    rt.outbox_collections.append("smes")
    return rt


async def events_in_stream(js: Any, region: str) -> int:
    info = await js.stream_info(stream_name(region, "registry"))
    return int(info.state.messages)


async def delivered_once(js: Any, region: str) -> list[bytes]:
    sub = await js.pull_subscribe(
        SME_REGISTERED.subject(region),
        durable="probe",
        stream=stream_name(region, "registry"),
        config=ConsumerConfig(),
    )
    msgs = await sub.fetch(10, timeout=10)
    for msg in msgs:
        await msg.ack()
    try:
        more = await sub.fetch(10, timeout=0.5)
    except TimeoutError:  # nothing more: what we want
        more = []
    return [m.data for m in [*msgs, *more]]


async def test_crash_between_write_and_relay(
    servers: Servers, settings: Settings, region: str, js: Any
) -> None:
    crash_after_write(servers, region, "evt-crash-1")
    db = mongo.database(mongo.client(servers.mongo_url), region, "registry")
    stored = await db.smes.find_one({"_id": "crash-1"})
    assert stored is not None and stored["outbox_pending"] == 1

    async with Assembly(settings, [], [region], runtimes=[relaying_registry(settings, region)]):
        await eventually(lambda: events_in_stream(js, region), until=lambda n: n == 1)
        await eventually(
            lambda: db.smes.find_one({"_id": "crash-1"}),
            until=lambda doc: doc is not None and doc["outbox_pending"] == 0 and not doc["outbox"],
        )
    # A second restart finds nothing left to send.
    async with Assembly(
        settings, [], [region], runtimes=[relaying_registry(settings, region)]
    ) as app:
        assert await app.runtimes[0].relay.flush() == 0  # type: ignore[union-attr]
    assert await events_in_stream(js, region) == 1
    payloads = await delivered_once(js, region)
    assert len(payloads) == 1 and b"evt-crash-1" in payloads[0]


async def test_crash_after_publish_before_mark(
    servers: Servers, settings: Settings, region: str, js: Any
) -> None:
    """The relay died after JetStream stored the event but before the record was marked sent:
    the restarted relay publishes again with the same Nats-Msg-Id, and JetStream drops it."""
    crash_after_write(servers, region, "evt-crash-2")
    db = mongo.database(mongo.client(servers.mongo_url), region, "registry")
    record = await db.smes.find_one({"_id": "crash-1"})
    assert record is not None
    entry = record["outbox"]["evt-crash-2"]
    async with Assembly(settings, [], [region], runtimes=[]):
        await js.publish(
            entry["subject"], entry["payload"].encode(), headers={"Nats-Msg-Id": "evt-crash-2"}
        )
    assert await events_in_stream(js, region) == 1

    async with Assembly(settings, [], [region], runtimes=[relaying_registry(settings, region)]):
        await eventually(
            lambda: db.smes.find_one({"_id": "crash-1"}),
            until=lambda doc: doc is not None and doc["outbox_pending"] == 0,
        )
    assert await events_in_stream(js, region) == 1
    assert len(await delivered_once(js, region)) == 1
