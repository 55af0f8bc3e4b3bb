"""However many instances: two `mapnet serve events` processes in one queue group, on the same
region and database, take registrations for a small course at once: no seat is sold twice, and
every request gets a typed answer."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts import events as c
from contracts.errors import Refused
from mapnet.ops.servers import Managed
from mapnet.runtime.bus import BusClient
from services.events.tests.test_events_bus import course, person
from tests.fixtures import Servers
from tests.helpers import eventually

SEATS, PEOPLE = 5, 60


def events_process(servers: Servers, region: str, log: Path) -> Managed:
    env = {**os.environ, "NATS_URL": servers.nats_url, "MONGO_URL": servers.mongo_url,
           "MAPNET_REGIONS": region, "MAPNET_LOG_LEVEL": "DEBUG"}  # fmt: skip
    process = Managed(log.stem, [sys.executable, "-m", "mapnet", "serve", "events"], log, env=env)
    process.start()
    return process


async def ready(processes: list[Managed]) -> list[bool]:
    """Each process says so once the server holds all its subscriptions (a round trip after
    subscribing); its health query alone is answered earlier."""
    return [p.alive() and "service_ready" in p.log_path.read_text() for p in processes]


def received(process: Managed, op: str) -> int:
    """How many requests of this operation the process took (FastStream's debug lines)."""
    return sum(
        f".events.cmd.{op}" in line and '"event": "Received"' in line
        for line in process.log_path.read_text().splitlines()
    )


@pytest.mark.timeout(180)
async def test_two_events_processes_never_sell_a_seat_twice(
    servers: Servers, client: BusClient, region: str, tmp_path: Path
) -> None:
    processes = [events_process(servers, region, tmp_path / f"events{n}.log") for n in (1, 2)]
    try:
        await eventually(lambda: ready(processes), until=all, timeout_s=90)
        event = await client.call(c.PUBLISH_EVENT, course("two", capacity=SEATS), region)
        # Everyone at once, and each of the first ten twice (a double click): the second of a
        # pair is refused as a duplicate, by whichever process gets it.
        asked = [person(event.event_id, n) for n in range(PEOPLE)] + [
            person(event.event_id, n) for n in range(10)
        ]
        answers: list[Any] = await asyncio.gather(
            *(client.call(c.REGISTER_PARTICIPANT, one, region, timeout_s=60) for one in asked),
            return_exceptions=True,
        )
        stored = await client.call(
            c.LIST_REGISTRATIONS, c.ListRegistrations(event_id=event.event_id, limit=100), region
        )
    finally:
        for p in processes:
            p.stop()
    untyped = [a for a in answers if isinstance(a, BaseException) and not isinstance(a, Refused)]
    assert not untyped, untyped
    refused = [a for a in answers if isinstance(a, Refused)]
    assert [r.code for r in refused] == ["duplicate"] * 10, refused
    registered = [a for a in answers if isinstance(a, c.Registration)]
    confirmed = [r for r in registered if r.status == "confirmed"]
    waitlisted = [r for r in registered if r.status == "waitlisted"]
    assert len(confirmed) == SEATS and len(waitlisted) == PEOPLE - SEATS
    assert sorted(r.position or 0 for r in waitlisted) == list(range(1, PEOPLE - SEATS + 1))
    # And as stored: what a later reader is told.
    assert stored.next_cursor is None and len(stored.items) == PEOPLE
    assert sum(r.status == "confirmed" for r in stored.items) == SEATS
    # Both processes took registrations, each request one of them.
    taken = [received(p, "register_participant") for p in processes]
    assert all(taken) and sum(taken) == len(asked), taken
