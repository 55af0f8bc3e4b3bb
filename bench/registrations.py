"""One large event: --seats seats, --registrations people registering through the bus from
--clients clients at once (the events service in its own process, on the embedded servers).
Once the seats are taken the rest are wait-listed; meanwhile every --cancel-every-th of the
later registrations is joined by a cancellation of a confirmed registration (its seat goes to the
head of the wait-list) and every second such time of a wait-listed one too.

Counted from what was acknowledged against what the service stores at the end (its database):
``oversold``, the confirmed registrations beyond the seats (as stored, and as the seat book
counts them); ``lost``, an acknowledged registration missing or stored otherwise than its
answers allow (an acknowledged cancellation not cancelled, a confirmed one no longer
confirmed, a wait-listed one neither wait-listed nor confirmed), and a seat left free while
someone waits. ``start_per_s`` and ``end_per_s``: the rate of the first and of the last tenth
of the registrations (by when their answers came), the end with the cancellations among it.

``db_ops_per_registration``: the database commands (round trips; nx-27017 serves one at a
time) the events service sent from the first registration until the last answer and what it
writes after (its audit outcomes, the outbox's marks of events sent), cancellations and
promotions included, per registration. Counted in the service's own process by a
``pymongo.monitoring.CommandListener`` (the service runs as ``mapnet serve events`` does, in a
process of its own, started through this module: ``--serve-counting``); each kind of command
is listed before the last line.

Last line: registrations=… per_s=… confirmed=… waitlisted=… oversold=… lost=… start_per_s=…
end_per_s=… db_ops_per_registration=…
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import monitoring

from bench.common import REGION, each, embedded_servers, figures, service_process
from contracts import events as ev
from contracts.errors import Refused
from mapnet.ops.status import wait_until_up
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient

STARTS = (datetime.now(UTC) + timedelta(days=60)).replace(hour=8, minute=0, microsecond=0)


class Counted(monitoring.CommandListener):
    """Every command the driver sends, by kind ("update seats"), written to ``path`` twice a
    second (the service process is stopped with a signal: nothing is left to write then)."""

    IGNORED = frozenset({"ping", "hello", "ismaster", "isMaster", "endSessions"})

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commands: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in self.IGNORED:
            return
        collection = event.command.get(event.command_name)
        kind = f"{event.command_name} {collection}" if isinstance(collection, str) else None
        self.commands[kind or event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def keep_writing(self) -> None:
        def write() -> None:
            while True:
                temporary = self.path.with_suffix(".tmp")
                temporary.write_text(json.dumps(dict(self.commands)))
                temporary.replace(self.path)
                time.sleep(0.5)

        threading.Thread(target=write, daemon=True, name="counted").start()


def serve_counting(path: Path) -> None:
    """``mapnet serve events``, its database commands counted into ``path``."""
    counted = Counted(path)
    monitoring.register(counted)  # every client made from now on: the service's
    counted.keep_writing()
    from mapnet.ops.cli import app

    sys.argv = ["mapnet", "serve", "events"]
    app()


def commands_sent(path: Path) -> Counter[str]:
    try:
        return Counter(json.loads(path.read_text()))
    except (OSError, ValueError):
        return Counter()


async def all_written(path: Path, quiet_s: float = 1.5, timeout_s: float = 60) -> Counter[str]:
    """The commands sent, once no more have come for ``quiet_s`` (the audit's outcomes and
    the outbox's marks follow the answers)."""
    deadline = time.monotonic() + timeout_s
    last = commands_sent(path)
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet_s)
        now = commands_sent(path)
        if now == last:
            return now
        last = now
    return last


@asynccontextmanager
async def events_counted(
    nats_url: str, mongo_url: str, logs: Path, counts: Path
) -> AsyncIterator[None]:
    """The events service in a process of its own, as ``serving`` starts it, but through
    this module so that its database commands are counted."""
    process = service_process("events", nats_url, mongo_url, logs)
    process.argv = [sys.executable, "-m", "bench.registrations", "--serve-counting", str(counts)]
    process.start()
    try:
        await wait_until_up(REGION, nats_url, ["events"])
        yield
    finally:
        process.stop()


def conference(seats: int) -> ev.PublishEvent:
    return ev.PublishEvent.model_validate(
        {
            "partner_id": "bench",
            "external_id": "largest",
            "kind": "conference",
            "title": "The largest event",
            "starts_at": STARTS.replace(tzinfo=None).isoformat(),
            "ends_at": (STARTS + timedelta(hours=8)).replace(tzinfo=None).isoformat(),
            "timezone": "Europe/Tallinn",
            "country": "EE",
            "capacity": seats,
        }
    )


def person(event_id: str, n: int) -> ev.RegisterParticipant:
    return ev.RegisterParticipant(
        event_id=event_id, person_name=f"Person {n}", email=f"person{n}@bench.example.ee"
    )


class Run:
    """What the clients were told: each registration's answer and when it came, and the
    cancellations acknowledged."""

    def __init__(self, event_id: str, seats: int, cancel_every: int) -> None:
        self.event_id = event_id
        self.seats = seats
        self.cancel_every = cancel_every
        self.answered: dict[int, ev.Registration] = {}
        self.answered_at: list[float] = []
        self.cancelled: set[str] = set()
        self.refused: list[str] = []

    def work(self, count: int) -> list[tuple[str, int]]:
        """The registrations in order; among the later ones, cancellations of earlier ones
        (by then long answered): a confirmed one each --cancel-every, a wait-listed one every
        second time."""
        items: list[tuple[str, int]] = []
        for n in range(count):
            items.append(("register", n))
            later = n - self.seats
            if later > 0 and later % self.cancel_every == 0:
                items.append(("cancel", (later * 7919) % max(1, self.seats // 2)))
                if later % (2 * self.cancel_every) == 0:
                    items.append(("cancel", self.seats + later // 2))
        return items

    async def act(self, client: BusClient, item: tuple[str, int]) -> None:
        what, n = item
        try:
            if what == "register":
                answer = await client.call(
                    ev.REGISTER_PARTICIPANT, person(self.event_id, n), REGION, timeout_s=120
                )
                self.answered[n] = answer
                self.answered_at.append(time.perf_counter())
                return
            reg = self.answered.get(n)
            if reg is None or reg.registration_id in self.cancelled:
                return  # not answered yet (or already cancelled): nothing to cancel
            cancel = ev.CancelRegistration(registration_id=reg.registration_id)
            await client.call(ev.CANCEL_REGISTRATION, cancel, REGION, timeout_s=120)
            self.cancelled.add(reg.registration_id)
        except Refused as refused:
            self.refused.append(f"{what} {n}: {refused.code} {refused}")


def rate(times: list[float], first: int, last: int, started: float) -> float:
    """Registrations answered from the ``first``-th to the ``last``-th, per second."""
    begin = started if first == 0 else times[first - 1]
    return (last - first) / max(times[last - 1] - begin, 1e-9)


async def stored(mongo_url: str, event_id: str) -> tuple[dict[str, str], dict[str, Any]]:
    db = mongo.database(mongo.client(mongo_url), REGION, "events")
    found = db["registrations"].find({"event_id": event_id}, {"status": 1})
    statuses = {doc["_id"]: doc["status"] async for doc in found}
    book = await db["seats"].find_one({"_id": event_id}) or {}
    return statuses, book


def count_lost(run: Run, statuses: dict[str, str], expected_confirmed: int) -> int:
    lost = 0
    for reg in run.answered.values():
        now = statuses.get(reg.registration_id)
        if reg.registration_id in run.cancelled:
            allowed = {"cancelled"}
        elif reg.status == "confirmed":
            allowed = {"confirmed"}
        else:
            allowed = {"waitlisted", "confirmed"}
        lost += now not in allowed
    confirmed = sum(status == "confirmed" for status in statuses.values())
    return lost + max(0, expected_confirmed - confirmed)  # a seat free while someone waits


async def main(seats: int, count: int, clients: int, cancel_every: int) -> None:
    with embedded_servers() as (nats_url, mongo_url), tempfile.TemporaryDirectory() as tmp:
        counts = Path(tmp) / "commands.json"
        async with events_counted(nats_url, mongo_url, Path(tmp), counts):
            client = await BusClient.connect(
                nats_url, source="mapnet/bench", timeout_s=60, role="map_staff"
            )
            event = await client.call(ev.PUBLISH_EVENT, conference(seats), REGION)
            run = Run(event.event_id, seats, cancel_every)
            items = run.work(count)
            before = await all_written(counts)
            print(f"{count} registrations for {seats} seats from {clients} clients …", flush=True)
            started = time.perf_counter()
            await each(items, lambda item: run.act(client, item), clients)
            elapsed = time.perf_counter() - started
            await client.close()
            commands = await all_written(counts) - before
            statuses, book = await stored(mongo_url, event.event_id)
    for kind, n in commands.most_common():
        print(f"  {kind}: {n} ({n / count:.2f} a registration)")
    for line in run.refused[:10]:
        print("refused:", line)
    answered = len(run.answered)
    tenth = max(1, answered // 10)
    times = sorted(run.answered_at)
    start_rate = rate(times, 0, tenth, started)
    end_rate = rate(times, answered - tenth, answered, started)
    active = answered - len(run.cancelled)
    confirmed = sum(status == "confirmed" for status in statuses.values())
    waitlisted = sum(status == "waitlisted" for status in statuses.values())
    oversold = max(0, confirmed - seats, int(book.get("confirmed", 0)) - seats)
    lost = count_lost(run, statuses, min(seats, active)) + (count - answered)
    print(
        f"{len(run.cancelled)} cancelled; start {start_rate:.0f}/s, end {end_rate:.0f}/s "
        f"({end_rate / start_rate:.2f} of the start); refused {len(run.refused)}",
        flush=True,
    )
    print(
        figures(
            registrations=count,
            per_s=round(answered / elapsed),
            confirmed=confirmed,
            waitlisted=waitlisted,
            oversold=oversold,
            lost=lost,
            start_per_s=round(start_rate),
            end_per_s=round(end_rate),
            db_ops_per_registration=round(sum(commands.values()) / count, 2),
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seats", type=int, default=10_000)
    parser.add_argument("--registrations", type=int, default=12_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--cancel-every", type=int, default=20)
    parser.add_argument("--serve-counting", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_counting is not None:
        serve_counting(args.serve_counting)
    else:
        asyncio.run(main(args.seats, args.registrations, args.clients, args.cancel_every))
