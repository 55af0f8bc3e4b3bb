"""What a registration costs the database, whatever the event's size (issue 33 item 5): no read
of its entry or of the seat book once the process knows them, its first answer kept in its own
write rather than in the reply cache, and every guarantee those reads and writes gave kept by
guards on the writes that remain."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from pymongo import monitoring

from contracts import events as c
from contracts.errors import Refused
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from mapnet.runtime.mongo import Database
from mapnet.runtime.requests import REPLY_CACHE
from services.events.adapters.seats import SeatBook
from services.events.tests.test_events_bus import course, person
from services.events.tests.test_seat_book import REGION, calendar, cmd, opened, register, statuses
from tests.fixtures import Servers


class Commands(monitoring.CommandListener):
    """The commands sent, by kind ("find entries")."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        if isinstance(collection, str):
            self.sent[f"{event.command_name} {collection}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_registration_reads_neither_its_entry_nor_the_seat_book_once_known(
    db: Database, servers: Servers
) -> None:
    """After the process's first registration for an event, each further one (a seat, or a
    place on the waiting list) is three writes: itself pending, the book's guarded change,
    itself settled."""
    _, event_id = await opened(db, seats=3)
    commands = Commands()
    listened = mongo.client(servers.mongo_url, event_listeners=[commands])
    try:
        cal = calendar(listened[db.name])
        await register(cal, event_id, 0)  # (reads the entry and the book)
        commands.sent.clear()
        for n in range(1, 7):
            await register(cal, event_id, n)
    finally:
        listened.close()
    assert commands.sent["find entries"] == 0, commands.sent
    assert commands.sent["find seats"] == 0, commands.sent
    assert commands.sent == Counter(
        {"insert registrations": 6, "update seats": 6, "update registrations": 6}
    ), commands.sent
    held = await statuses(db, event_id)
    assert [held[f"Person {n}"] for n in range(7)] == [("confirmed", "seat")] * 3 + [
        ("waitlisted", n) for n in (1, 2, 3, 4)
    ]


async def test_an_entry_changed_by_another_instance_is_checked_before_a_seat_is_taken(
    db: Database,
) -> None:
    """The entry a process keeps from its last registration may be old: the book says which
    version it was last saved as, and a registration checked against another takes nothing
    until checked against the entry as it is."""
    cal, event_id = await opened(db, seats=5)
    await register(cal, event_id, 0)
    other = calendar(db)  # another instance cancels the event
    await other.cancel_event(cmd(c.CANCEL_EVENT, c.CancelEvent(event_id=event_id, reason="x")))
    with pytest.raises(Refused) as refused:
        await register(cal, event_id, 1)
    assert refused.value.code == "conflict" and "cancelled" in refused.value.message
    assert list(await statuses(db, event_id)) == ["Person 0"]  # nothing left pending
    book = await SeatBook(db).book(event_id)
    assert (book["confirmed"], book["waiting"]) == (1, 0)


async def test_a_book_of_a_version_that_kept_no_entry_version_is_stamped(db: Database) -> None:
    _, event_id = await opened(db, seats=2)
    await db["seats"].update_one({"_id": event_id}, {"$unset": {"entry_version": ""}})
    again = calendar(db)  # (a process started after the upgrade)
    assert (await register(again, event_id, 0)).status == "confirmed"
    assert (await register(again, event_id, 1)).status == "confirmed"
    assert (await register(again, event_id, 2)).status == "waitlisted"
    book = await SeatBook(db).book(event_id)
    assert (book["entry_version"], book["confirmed"], book["waiting"]) == (1, 2, 1)


async def test_a_repeat_gets_its_first_answer_and_other_content_is_id_reused(
    db: Database,
) -> None:
    """Kept in the registration: byte for byte after the registration changed, and the same
    id with another person is refused, not answered with the first."""
    cal, event_id = await opened(db, seats=1)
    first_cmd = make_envelope(c.REGISTER_PARTICIPANT, person(event_id, 0), region=REGION,
                              source="test", id="same-id")  # fmt: skip
    first = await cal.register_participant(first_cmd)
    rid = json.loads(first.envelope)["data"]["registration_id"]
    await cal.cancel_registration(
        cmd(c.CANCEL_REGISTRATION, c.CancelRegistration(registration_id=rid))
    )
    assert (await cal.register_participant(first_cmd)).envelope == first.envelope
    other = make_envelope(c.REGISTER_PARTICIPANT, person(event_id, 1), region=REGION,
                          source="test", id="same-id")  # fmt: skip
    with pytest.raises(Refused) as refused:
        await cal.register_participant(other)
    assert refused.value.code == "id_reused"
    assert list(await statuses(db, event_id)) == ["Person 0"]


async def test_a_repeat_of_a_refused_registration_is_decided_again(db: Database) -> None:
    """What the README says: a refusal stores nothing, so its repeat is decided on the state as
    it is then (here: the person's earlier registration, which made it a duplicate, was
    cancelled meanwhile, and the repeat registers)."""
    cal, event_id = await opened(db, seats=2)
    first = await cal.register_participant(
        make_envelope(c.REGISTER_PARTICIPANT, person(event_id, 0), region=REGION, source="test")
    )
    again = make_envelope(c.REGISTER_PARTICIPANT, person(event_id, 0), region=REGION,
                          source="test", id="again")  # fmt: skip
    with pytest.raises(Refused) as refused:
        await cal.register_participant(again)
    assert refused.value.code == "duplicate"
    rid = json.loads(first.envelope)["data"]["registration_id"]
    await cal.cancel_registration(
        cmd(c.CANCEL_REGISTRATION, c.CancelRegistration(registration_id=rid))
    )
    repeated = json.loads((await cal.register_participant(again)).envelope)
    assert repeated["data"]["registration_id"] != rid


@pytest.mark.usefixtures("region_app")
async def test_on_the_bus_a_registration_is_answered_again_without_the_reply_cache(
    client: BusClient, region: str, servers: Servers
) -> None:
    event = await client.call(c.PUBLISH_EVENT, course("cost", capacity=1), region)
    env = make_envelope(c.REGISTER_PARTICIPANT, person(event.event_id, 0), region=region,
                        source="test", actor=client.acting(region))  # fmt: skip
    subject = c.REGISTER_PARTICIPANT.subject(region)
    first = await client.nc.request(subject, encode(env), timeout=5)
    again = await client.nc.request(subject, encode(env), timeout=5)
    assert json.loads(first.data)["type"] == c.REGISTER_PARTICIPANT.reply_type
    assert again.data == first.data
    db = mongo.database(mongo.client(servers.mongo_url), region, "events")
    kept: list[dict[str, Any]] = [
        doc async for doc in db[REPLY_CACHE].find({"op": "register_participant"})
    ]
    assert kept == []
