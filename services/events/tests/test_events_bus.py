"""The events service over real NATS and the MongoDB-compatible server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from contracts import events as c
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from tests.fixtures import Servers
from tests.helpers import published

pytestmark = pytest.mark.usefixtures("region_app")

SOON = datetime.now(UTC) + timedelta(days=30)


def entry(external_id: str = "ev-1", **extra: Any) -> c.PublishEvent:
    day = SOON.date().isoformat()
    base: dict[str, Any] = {
        "partner_id": "tehnopol",
        "external_id": external_id,
        "kind": "conference",
        "title": "Baltic Photonics Days",
        "description": "Lasers, optics and the companies that build them",
        "starts_at": f"{day}T10:00:00",
        "ends_at": f"{day}T17:00:00",
        "timezone": "Europe/Tallinn",
        "city": "Tallinn",
        "country": "EE",
        "clusters": ["photonics"],
        "topics": ["lasers"],
    }
    return c.PublishEvent.model_validate({**base, **extra})


def course(external_id: str = "course-1", capacity: int = 2) -> c.PublishEvent:
    first = SOON.replace(hour=8, minute=0, second=0, microsecond=0)
    return entry(
        external_id,
        kind="training_course",
        title="Internationalisation bootcamp",
        course={
            "capacity": capacity,
            "sessions": [first.isoformat(), (first + timedelta(days=1)).isoformat()],
            "completion_min_sessions": 2,
        },
    )


def person(event_id: str, n: int, **extra: Any) -> c.RegisterParticipant:
    return c.RegisterParticipant(
        event_id=event_id, person_name=f"Person {n}", email=f"p{n}@example.ee", **extra
    )


async def test_partner_publishing_is_idempotent_per_external_id(
    servers: Servers, client: BusClient, region: str
) -> None:
    first = await client.call(c.PUBLISH_EVENT, entry(), region)
    same = await client.call(c.PUBLISH_EVENT, entry(), region)
    updated = await client.call(c.PUBLISH_EVENT, entry(title="Baltic Photonics Days 26"), region)
    other_partner = await client.call(c.PUBLISH_EVENT, entry(partner_id="hamburg-ip"), region)
    assert first.event_id == same.event_id == updated.event_id != other_partner.event_id
    assert (first.version, same.version, updated.version) == (1, 1, 2)
    got = await client.call(c.GET_EVENT, c.GetEvent(event_id=first.event_id), region)
    assert got.title == "Baltic Photonics Days 26"
    events = await published(servers.nats_url, c.EVENT_PUBLISHED, region, at_least=3)
    assert [e["version"] for e in events if e["event_id"] == first.event_id] == [1, 2]


async def test_a_title_or_name_with_a_line_break_is_refused(client: BusClient, region: str) -> None:
    """Single-line fields refuse control characters: a title that rewrote a mail header once
    held up the mail of everybody registered to its event."""
    doc = json.loads(encode(make_envelope(c.PUBLISH_EVENT, entry(), region=region, source="p",
                                          actor=client.acting(region))))  # fmt: skip
    doc["data"] |= {"title": "Days\r\nBcc: victim@example.org", "venue": "Hall\x07"}
    msg = await client.nc.request(c.PUBLISH_EVENT.subject(region), json.dumps(doc).encode())
    error = json.loads(msg.data)["data"]["error"]
    assert error["code"] == "validation_failed"
    assert {"data.title", "data.venue"} <= {f["field"] for f in error["details"]["fields"]}
    page = await client.call(c.LIST_CALENDAR, c.ListCalendar(region=region), region)
    assert page.items == []


async def test_an_invalid_update_names_each_field_and_changes_nothing(
    client: BusClient, region: str
) -> None:
    stored = await client.call(c.PUBLISH_EVENT, entry(), region)
    bad = entry().model_dump(mode="json") | {
        "ends_at": entry().starts_at.replace(hour=8).isoformat(),
        "kind": "brokerage_event",
    }
    reply = await client.raw(c.PUBLISH_EVENT, c.PublishEvent.model_validate(bad), region)
    assert reply["type"] == "eu.mapnet.error.v1"
    fields = {f["field"] for f in reply["data"]["error"]["details"]["fields"]}
    assert fields == {"data.ends_at", "data.brokerage"}
    # What a partner system might send: fields that fail the schema itself.
    doc = json.loads(encode(make_envelope(c.PUBLISH_EVENT, entry(), region=region, source="p")))
    doc["data"] |= {"country": "XX", "title": ""}
    msg = await client.nc.request(c.PUBLISH_EVENT.subject(region), json.dumps(doc).encode())
    reply = json.loads(msg.data)
    fields = {f["field"] for f in reply["data"]["error"]["details"]["fields"]}
    assert {"data.country", "data.title"} <= fields
    got = await client.call(c.GET_EVENT, c.GetEvent(event_id=stored.event_id), region)
    assert got.model_dump(exclude={"slots"}) == stored.model_dump() and got.slots == []


async def test_unknown_event_is_not_found(client: BusClient, region: str) -> None:
    with pytest.raises(Refused) as refused:
        await client.call(c.GET_EVENT, c.GetEvent(event_id="nope"), region)
    assert refused.value.code == "not_found"
    with pytest.raises(Refused) as refused:
        await client.call(c.REGISTER_PARTICIPANT, person("nope", 1), region)
    assert refused.value.code == "not_found"


async def test_list_calendar_filters_and_pages(client: BusClient, region: str) -> None:
    day = SOON.date()
    for n in range(5):
        start = (day + timedelta(days=n)).isoformat()
        await client.call(
            c.PUBLISH_EVENT,
            entry(
                f"ev-{n}",
                title=f"Event number {n}",
                starts_at=f"{start}T09:00:00",
                ends_at=f"{start}T12:00:00",
                country="EE" if n % 2 else "FI",
                timezone="Europe/Tallinn" if n % 2 else "Europe/Helsinki",
                kind="webinar" if n == 4 else "conference",
                clusters=["ict"] if n == 3 else ["photonics"],
            ),
            region,
        )

    async def titles(**q: Any) -> list[str]:
        page = await client.call(c.LIST_CALENDAR, c.ListCalendar(**q), region)
        return [e.title for e in page.items]

    assert await titles() == [f"Event number {n}" for n in range(5)]
    assert await titles(country="FI") == ["Event number 0", "Event number 2", "Event number 4"]
    assert await titles(kind="webinar") == ["Event number 4"]
    assert await titles(cluster="ict") == ["Event number 3"]
    assert await titles(text="NUMBER 2") == ["Event number 2"]
    assert await titles(region="elsewhere") == []
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    assert await titles(period_from=midnight, period_to=midnight + timedelta(days=2)) == [
        "Event number 1",
        "Event number 2",
    ]
    seen, cursor = [], None
    while True:
        page = await client.call(c.LIST_CALENDAR, c.ListCalendar(limit=2, cursor=cursor), region)
        seen += [e.title for e in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == [f"Event number {n}" for n in range(5)]


async def test_ical_round_trips_with_stable_uids_dst_and_cancellation(
    client: BusClient, region: str
) -> None:
    # Tallinn is at UTC+2 on 27 March and at UTC+3 on 29 March 2027 (DST starts on the 28th).
    winter = await client.call(
        c.PUBLISH_EVENT,
        entry("w", starts_at="2027-03-27T10:00:00", ends_at="2027-03-27T12:00:00"),
        region,
    )
    summer = await client.call(
        c.PUBLISH_EVENT,
        entry("s", starts_at="2027-03-29T10:00:00", ends_at="2027-03-29T12:00:00"),
        region,
    )

    async def calendar() -> dict[str, Any]:
        doc = await client.call(c.GET_ICAL, c.GetIcal(), region)
        parsed = icalendar.Calendar.from_ical(doc.ical)
        return {str(e["UID"]): e for e in parsed.walk("VEVENT")}

    events = await calendar()
    assert set(events) == {f"{winter.event_id}@mapnet.eu", f"{summer.event_id}@mapnet.eu"}
    w, s = events[f"{winter.event_id}@mapnet.eu"], events[f"{summer.event_id}@mapnet.eu"]
    assert w.decoded("DTSTART").astimezone(UTC) == datetime(2027, 3, 27, 8, 0, tzinfo=UTC)
    assert s.decoded("DTSTART").astimezone(UTC) == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    assert str(s["DTSTART"].params["TZID"]) == "Europe/Tallinn"
    assert str(w["STATUS"]) == "CONFIRMED" and int(w["SEQUENCE"]) == 1

    await client.call(c.CANCEL_EVENT, c.CancelEvent(event_id=winter.event_id, reason="x"), region)
    events = await calendar()
    w = events[f"{winter.event_id}@mapnet.eu"]
    assert str(w["STATUS"]) == "CANCELLED" and int(w["SEQUENCE"]) == 2
    assert len(events) == 2


async def test_waitlist_is_promoted_in_order(
    servers: Servers, client: BusClient, region: str
) -> None:
    event = await client.call(c.PUBLISH_EVENT, course(capacity=2), region)
    regs = [
        await client.call(c.REGISTER_PARTICIPANT, person(event.event_id, n), region)
        for n in range(5)
    ]
    assert [r.status for r in regs] == ["confirmed"] * 2 + ["waitlisted"] * 3
    assert [r.position for r in regs[2:]] == [1, 2, 3]

    for cancelled in (regs[0], regs[1], regs[3]):
        await client.call(
            c.CANCEL_REGISTRATION,
            c.CancelRegistration(registration_id=cancelled.registration_id),
            region,
        )
    page = await client.call(
        c.LIST_REGISTRATIONS, c.ListRegistrations(event_id=event.event_id), region
    )
    status = {r.person_name: r.status for r in page.items}
    assert status == {
        "Person 0": "cancelled",
        "Person 1": "cancelled",
        "Person 2": "confirmed",
        "Person 3": "cancelled",
        "Person 4": "confirmed",
    }
    # Each freed seat went to the head of the queue: 2, then 3, then 4.
    confirmed = await published(servers.nats_url, c.REGISTRATION_CONFIRMED, region, at_least=5)
    assert [e["registration"]["registration_id"] for e in confirmed] == [
        r.registration_id for r in regs
    ]
    # The events name no person: the stream keeps them beyond an erasure's reach.
    assert not {"person_name", "email", "language"} & set(confirmed[0]["registration"])


async def test_a_waitlisted_place_moves_up_and_capacity_raised_promotes(
    client: BusClient, region: str
) -> None:
    event = await client.call(c.PUBLISH_EVENT, course("c2", capacity=1), region)
    regs = [
        await client.call(c.REGISTER_PARTICIPANT, person(event.event_id, n), region)
        for n in range(3)
    ]
    await client.call(
        c.CANCEL_REGISTRATION, c.CancelRegistration(registration_id=regs[1].registration_id), region
    )
    page = await client.call(
        c.LIST_REGISTRATIONS,
        c.ListRegistrations(event_id=event.event_id, status="waitlisted"),
        region,
    )
    assert [(r.person_name, r.position) for r in page.items] == [("Person 2", 1)]
    await client.call(c.PUBLISH_EVENT, course("c2", capacity=2), region)
    page = await client.call(
        c.LIST_REGISTRATIONS,
        c.ListRegistrations(event_id=event.event_id, status="confirmed"),
        region,
    )
    assert {r.person_name for r in page.items} == {"Person 0", "Person 2"}


async def test_200_simultaneous_registrations_for_50_seats(client: BusClient, region: str) -> None:
    event = await client.call(c.PUBLISH_EVENT, course("big", capacity=50), region)
    results = await asyncio.gather(
        *(
            client.call(c.REGISTER_PARTICIPANT, person(event.event_id, n), region, timeout_s=60)
            for n in range(200)
        )
    )
    confirmed = [r for r in results if r.status == "confirmed"]
    waitlisted = [r for r in results if r.status == "waitlisted"]
    assert len(confirmed) == 50 and len(waitlisted) == 150
    assert sorted(r.position or 0 for r in waitlisted) == list(range(1, 151))
    stored, cursor = [], None
    while True:
        page = await client.call(
            c.LIST_REGISTRATIONS,
            c.ListRegistrations(event_id=event.event_id, limit=100, cursor=cursor),
            region,
        )
        stored += page.items
        if not (cursor := page.next_cursor):
            break
    assert sum(r.status == "confirmed" for r in stored) == 50 and len(stored) == 200


async def test_registration_refusals(client: BusClient, region: str) -> None:
    event = await client.call(c.PUBLISH_EVENT, course("c3"), region)
    first = await client.call(c.REGISTER_PARTICIPANT, person(event.event_id, 1), region)
    with pytest.raises(Refused) as refused:
        await client.call(c.REGISTER_PARTICIPANT, person(event.event_id, 1), region)
    assert refused.value.code == "duplicate"
    assert refused.value.details["existing_registration_id"] == first.registration_id

    deadline_passed = entry(
        "b1",
        kind="brokerage_event",
        brokerage={
            "days": [SOON.date().isoformat()],
            "day_start": "10:00",
            "slots_per_day": 8,
            "slot_minutes": 20,
            "tables": 10,
            "registration_deadline": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        },
    )
    brokerage = await client.call(c.PUBLISH_EVENT, deadline_passed, region)
    with pytest.raises(Refused) as refused:
        await client.call(c.REGISTER_PARTICIPANT, person(brokerage.event_id, 2), region)
    assert refused.value.code == "conflict" and "deadline" in refused.value.details

    await client.call(c.CANCEL_EVENT, c.CancelEvent(event_id=event.event_id, reason="x"), region)
    with pytest.raises(Refused) as refused:
        await client.call(c.REGISTER_PARTICIPANT, person(event.event_id, 3), region)
    assert refused.value.code == "conflict"


async def test_attendance_completes_a_course_once(
    servers: Servers, client: BusClient, region: str
) -> None:
    event = await client.call(c.PUBLISH_EVENT, course("c4"), region)
    sme = SmeRef(sme_id="sme-1", region=region)
    reg = await client.call(c.REGISTER_PARTICIPANT, person(event.event_id, 1, sme=sme), region)
    for session in (0, 0, 1):
        done = await client.call(
            c.RECORD_ATTENDANCE,
            c.RecordAttendance(registration_id=reg.registration_id, session=session),
            region,
        )
    assert done.completed and done.attended_sessions == [0, 1]
    with pytest.raises(Refused) as refused:
        await client.call(
            c.RECORD_ATTENDANCE,
            c.RecordAttendance(registration_id=reg.registration_id, session=5),
            region,
        )
    assert refused.value.details["fields"][0]["field"] == "data.session"
    completions = await published(servers.nats_url, c.TRAINING_COMPLETED, region)
    assert [e["registration_id"] for e in completions] == [reg.registration_id]
    attended = await published(servers.nats_url, c.ATTENDANCE_RECORDED, region, at_least=2)
    assert len(attended) == 2


async def test_personal_ical_lists_a_persons_registrations(client: BusClient, region: str) -> None:
    a = await client.call(c.PUBLISH_EVENT, entry("a", title="Event A"), region)
    b = await client.call(c.PUBLISH_EVENT, entry("b", title="Event B"), region)
    await client.call(c.PUBLISH_EVENT, entry("c", title="Event C"), region)
    await client.call(c.REGISTER_PARTICIPANT, person(a.event_id, 7), region)
    reg_b = await client.call(c.REGISTER_PARTICIPANT, person(b.event_id, 7), region)
    await client.call(
        c.CANCEL_REGISTRATION, c.CancelRegistration(registration_id=reg_b.registration_id), region
    )
    doc = await client.call(c.GET_ICAL, c.GetIcal(email="P7@example.ee"), region)
    events = icalendar.Calendar.from_ical(doc.ical).walk("VEVENT")
    assert {str(e["SUMMARY"]): str(e["STATUS"]) for e in events} == {
        "Event A": "CONFIRMED",
        "Event B": "CANCELLED",
    }


async def test_a_zone_and_a_country_are_named_in_one_answer(client: BusClient, region: str) -> None:
    doc = json.loads(encode(make_envelope(c.PUBLISH_EVENT, entry(), region=region, source="p")))
    doc["data"] |= {"timezone": "Europe/Tallin", "country": "EST"}
    msg = await client.nc.request(c.PUBLISH_EVENT.subject(region), json.dumps(doc).encode())
    fields = {f["field"] for f in json.loads(msg.data)["data"]["error"]["details"]["fields"]}
    assert fields == {"data.timezone", "data.country"}
