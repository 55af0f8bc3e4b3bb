"""The seat book counts, the registrations hold (adapters/seats.py): the service layer on the
MongoDB-compatible server, no bus. A crash or a concurrent actor between the book's change and
the registration's write is played by calling the book's steps by hand, then the next start's
``reconcile``."""

from __future__ import annotations

import json
from typing import Any

from pymongo import monitoring

from contracts import events as c
from mapnet.runtime import mongo
from mapnet.runtime.codec import make_envelope
from mapnet.runtime.mongo import Database
from mapnet.runtime.unit_of_work import UnitOfWork
from services.events.adapters.away import AwayRegistrations
from services.events.adapters.repository import EntryRepository, RegistrationRepository
from services.events.adapters.seats import SeatBook, note_of
from services.events.service_layer.handlers import Calendar
from services.events.tests.test_events_bus import course, person
from tests.fixtures import Servers

REGION = "tallinn"


def envelope(op: Any, data: Any, *, correlationid: str, subject: str | None = None) -> Any:
    return make_envelope(
        op, data, region=REGION, source="mapnet/tallinn/events",
        correlationid=correlationid, subject=subject,
    )  # fmt: skip


def calendar(db: Database) -> Calendar:
    """A service instance on ``db`` (a second one on the same database is another process)."""
    return Calendar(
        UnitOfWork(REGION, envelope), EntryRepository(db, REGION), RegistrationRepository(db),
        SeatBook(db), AwayRegistrations(db, REGION),
    )  # fmt: skip


def cmd(op: Any, data: Any) -> Any:
    return make_envelope(op, data, region=REGION, source="test")


async def opened(db: Database, seats: int) -> tuple[Calendar, str]:
    cal = calendar(db)
    await cal.registrations.create_indexes()
    entry = await cal.publish_event(cmd(c.PUBLISH_EVENT, course("book", capacity=seats)))
    return cal, entry.event_id


async def register(cal: Calendar, event_id: str, n: int) -> c.Registration:
    replied = await cal.register_participant(cmd(c.REGISTER_PARTICIPANT, person(event_id, n)))
    return c.Registration.model_validate(json.loads(replied.envelope)["data"])


async def cancel(cal: Calendar, rid: str) -> c.Registration:
    return await cal.cancel_registration(
        cmd(c.CANCEL_REGISTRATION, c.CancelRegistration(registration_id=rid))
    )


async def statuses(db: Database, event_id: str) -> dict[str, tuple[str, Any]]:
    found = db["registrations"].find({"event_id": event_id}, {"data": 1, "status": 1, "held": 1})
    return {d["data"]["person_name"]: (d["status"], d.get("held")) async for d in found}


async def test_the_book_keeps_counts_not_the_registrations(db: Database) -> None:
    """Its size does not grow with the event: no registration's id stays in it."""
    cal, event_id = await opened(db, seats=20)
    for n in range(30):
        await register(cal, event_id, n)
    await register(cal, event_id, 30)  # (takes the notes of the stored ones away)
    book = await db["seats"].find_one({"_id": event_id})
    assert book is not None
    assert (book["confirmed"], book["waiting"], book["next_seq"]) == (20, 11, 11)
    assert len(book["claims"]) <= 1, book["claims"]
    assert "holders" not in book
    held = await statuses(db, event_id)
    assert held["Person 0"] == ("confirmed", "seat")
    assert held["Person 20"] == ("waitlisted", 1) and held["Person 30"] == ("waitlisted", 11)


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.filters: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == "registrations":
            self.filters.append(dict(event.command.get("filter", {})))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_promotion_reads_the_heads_registration_by_its_number(
    db: Database, servers: Servers
) -> None:
    """The earliest waiting goes first, found by its number: no read of the event's list."""
    cal, event_id = await opened(db, seats=2)
    regs = [await register(cal, event_id, n) for n in range(6)]
    await cancel(cal, regs[3].registration_id)  # the second waiting leaves: the order keeps
    finds = Finds()
    listened = mongo.client(servers.mongo_url, event_listeners=[finds])
    try:
        await cancel(calendar(listened[db.name]), regs[0].registration_id)
    finally:
        listened.close()
    assert finds.filters, "the listener heard nothing"
    for query in finds.filters:
        assert set(query) <= {"_id", "wait_key", "guest_waiting"}, query
    held = await statuses(db, event_id)
    assert held["Person 2"] == ("confirmed", "seat")
    assert held["Person 3"] == ("cancelled", None) and held["Person 4"][0] == "waitlisted"
    page = await cal.list_registrations(
        cmd(c.LIST_REGISTRATIONS, c.ListRegistrations(event_id=event_id, status="waitlisted"))
    )
    assert [(r.person_name, r.position) for r in page.items] == [("Person 4", 1), ("Person 5", 2)]


async def test_a_claim_cut_before_its_registration_is_finished_at_the_next_start(
    db: Database,
) -> None:
    cal, event_id = await opened(db, seats=1)
    await register(cal, event_id, 0)
    # Person 1 is stored pending and the book gives them number 1, then the process dies.
    first = await register(cal, event_id, 1)
    rid = first.registration_id
    await db["registrations"].update_one(
        {"_id": rid}, {"$set": {"status": "pending", "held": None, "wait_key": None}}
    )
    await db["seats"].update_one(
        {"_id": event_id},
        {"$set": {"next_seq": 0, "waiting": 0}, "$unset": {f"claims.{rid}": ""}},
    )
    await SeatBook(db).claim(event_id, rid)
    await calendar(db).reconcile()
    assert (await statuses(db, event_id))["Person 1"] == ("waitlisted", 1)
    book = await db["seats"].find_one({"_id": event_id})
    assert book is not None and (book["waiting"], book["claims"]) == (1, {})


async def test_a_promotion_cut_before_its_registration_is_confirmed_at_the_next_start(
    db: Database,
) -> None:
    cal, event_id = await opened(db, seats=1)
    regs = [await register(cal, event_id, n) for n in range(3)]
    seats = SeatBook(db)
    # Person 0 cancels; the book gives their seat to number 1 (Person 1), then the process dies.
    await db["registrations"].update_one(
        {"_id": regs[0].registration_id}, {"$set": {"status": "cancelled", "held": None}}
    )
    await db["seats"].update_one({"_id": event_id}, {"$inc": {"confirmed": -1}})
    book = await seats.book(event_id)
    rid = regs[1].registration_id
    assert await seats.promote(book, rid, 1, note_of(book, rid)) is not None
    await calendar(db).reconcile()
    held = await statuses(db, event_id)
    assert held["Person 1"] == ("confirmed", "seat") and held["Person 2"] == ("waitlisted", 2)
    book = await seats.book(event_id)
    assert (book["confirmed"], book["waiting"], book["head"], book["claims"]) == (1, 1, 1, {})


async def test_a_cancellation_cut_before_its_seat_is_given_back(db: Database) -> None:
    """The next start gives the seat back and the head of the queue gets it."""
    cal, event_id = await opened(db, seats=1)
    regs = [await register(cal, event_id, n) for n in range(2)]
    await db["registrations"].update_one(
        {"_id": regs[0].registration_id},
        {"$set": {"status": "cancelled", "gives_back": True, "seat_key": None}},
    )
    await calendar(db).reconcile()
    held = await statuses(db, event_id)
    assert held["Person 0"] == ("cancelled", None) and held["Person 1"] == ("confirmed", "seat")
    book = await SeatBook(db).book(event_id)
    assert (book["confirmed"], book["waiting"], book["releases"]) == (1, 0, 1)


async def test_a_stale_second_settling_and_a_stale_give_back_change_nothing(
    db: Database,
) -> None:
    """Another instance settling the same registration from an old read claims a seat again:
    seeing it confirmed already, it gives that one back. A give-back from a book read before
    the registration's seat was given back is refused (another release came between)."""
    cal, event_id = await opened(db, seats=2)
    first = await register(cal, event_id, 0)
    rid = first.registration_id
    other = calendar(db)
    await db["seats"].update_one({"_id": event_id}, {"$unset": {f"claims.{rid}": ""}})
    claim = await other.seats.claim(event_id, rid)  # (its note gone) a second seat
    assert (await other.seats.book(event_id))["confirmed"] == 2
    await other._square(event_id, rid, "test")
    book = await other.seats.book(event_id)
    assert (book["confirmed"], note_of(book, rid)) == (1, None), claim
    before = await other.seats.book(event_id)
    await cancel(cal, rid)
    assert not await other.seats.give_back(before, rid, "seat")
    book = await other.seats.book(event_id)
    assert (book["confirmed"], book["releases"], book["claims"]) == (0, 1, {})


async def test_an_old_book_of_every_holder_moves_into_the_registrations(db: Database) -> None:
    cal, event_id = await opened(db, seats=1)
    regs = [await register(cal, event_id, n) for n in range(3)]
    ids = [r.registration_id for r in regs]
    # As the version before kept it: every holder in the book, the registrations without.
    await db["registrations"].update_many(
        {"event_id": event_id}, {"$set": {"held": None, "wait_key": None}}
    )
    await db["seats"].replace_one(
        {"_id": event_id},
        {"_id": event_id, "capacity": 1, "confirmed": 1, "waiting": 2, "next_seq": 5,
         "holders": {ids[0]: "confirmed", ids[1]: 4, ids[2]: 5}},
    )  # fmt: skip
    await calendar(db).reconcile()
    await cancel(calendar(db), ids[0])
    held = await statuses(db, event_id)
    assert held["Person 1"] == ("confirmed", "seat") and held["Person 2"] == ("waitlisted", 5)
    book = await SeatBook(db).book(event_id)
    assert "holders" not in book and (book["head"], book["waiting"]) == (4, 1)
