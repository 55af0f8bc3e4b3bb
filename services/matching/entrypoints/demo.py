"""The brokerage part of the demo, after the registry's and the calendar's: the demo's SMEs at
the region's demo brokerage events, as their contacts and the region's staff would act.

- "Baltic Sea Brokerage Days" (the calendar's, ahead): participants, meeting requests answered
  and open (the demo SME's contact has one to answer and one waiting), a published schedule.
- "Life Science & ICT Partnering Day" (the calendar's, further ahead): participants and requests,
  no schedule yet: the organiser's to run.
- "Autumn Brokerage Day" (held this year): announced ahead, its participants registered and
  asked for meetings before its deadline, then held: the entry gets its real (past) day, staff
  check the participants in (one did not come), schedule it and record each meeting's outcome.
  The services take requests only before an event's deadline, so the demo plays that history
  through their operations in this order.

Every name is the registry demo's (invented), every message says it is the demo's. Loading it
again changes nothing: each command's id derives from the region and what it is (not the day),
a schedule is run only for an event that has none, an outcome only recorded where none is, and
the held event's history only played while the event is still ahead."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contracts import events as ev
from contracts import matching as c
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient

_NAMESPACE = uuid.UUID("7a2e4c91-3b5d-4f60-9d18-c6e0a8b47f25")
MAIN, SECOND, HELD = "demo-100", "demo-101", "demo-300"
HELD_TITLE = "Autumn Brokerage Day"
HELD_DAYS_AGO = 75
# Commands in flight at once (the demo loads in a few seconds instead of a minute).
AT_ONCE = 8
# The outcomes the held event's meetings get, in turn (a meeting with the no-show: did not
# take place).
OUTCOMES: tuple[c.Outcome, ...] = (
    "cooperation_possible", "informative_no_cooperation", "cooperation_possible",
    "insufficient_interest",
)  # fmt: skip


@dataclass
class Company:
    ref: SmeRef
    name: str
    email: str
    clusters: list[str]

    def actor(self) -> Actor:
        return Actor(id=self.email, role="sme", region=self.ref.region, sme_id=self.ref.sme_id)


def load_demo(nats_url: str, region: str) -> None:
    asyncio.run(load(nats_url, region))


def _id(region: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join([region, *parts])))


def staff(region: str) -> Actor:
    return Actor(id=f"staff@{region}.example", role="map_staff", region=region)


async def load(nats_url: str, region: str) -> None:
    client = await BusClient.connect(
        nats_url, region=region, source=f"mapnet/{region}/demo", role="map_admin"
    )
    try:
        companies = await _companies(client, region)
        if len(companies) < 8:
            return  # not the registry's demo: nothing to build on
        entries = await _demo_entries(client, region)
        demo_sme, rest = companies[0], companies[1:]
        if MAIN in entries:
            main = [demo_sme, *rest[0:26:2]]  # 14, every cluster
            await _participants(client, region, entries[MAIN].event_id, main)
            await _requests(client, region, entries[MAIN].event_id, main, MAIN)
            await _schedule_once(client, region, entries[MAIN].event_id)
        if SECOND in entries:
            wanted = ("life-sciences", "ict")
            second = [demo_sme, *[s for s in rest if set(s.clusters) & set(wanted)][1:16:2]]
            await _participants(client, region, entries[SECOND].event_id, second)
            await _requests(client, region, entries[SECOND].event_id, second, SECOND)
        held = [demo_sme, *rest[1:24:2]]  # 12
        await _held_event(client, region, entries.get(HELD), held)
    finally:
        await client.close()


async def _companies(client: BusClient, region: str) -> list[Company]:
    """The region's SMEs with a contact and a published profile, in name order (the first is
    the one the demo's SME contact acts for, as the portal's demo finds it)."""
    actor = staff(region)
    found: list[Company] = []
    cursor = None
    first = True
    while True:
        page = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=100, cursor=cursor), region,
                                 actor=actor)  # fmt: skip
        smes = await asyncio.gather(
            *(client.call(rg.GET_SME, rg.GetSme(sme_id=i.sme_id), region, actor=actor)
              for i in page.items)
        )  # fmt: skip
        for sme in smes:
            published = any(p.status == "published" for p in sme.profiles)
            if sme.contacts and (published or first):
                contact = sme.contacts[0]
                ref = SmeRef(region=region, sme_id=sme.sme_id)
                found.append(Company(ref, sme.legal_name, str(contact.email), sme.clusters))
            first = False
        if not (cursor := page.next_cursor):
            return found


async def _demo_entries(client: BusClient, region: str) -> dict[str, ev.CalendarEntry]:
    entries: dict[str, ev.CalendarEntry] = {}
    cursor = None
    while True:
        query = ev.ListCalendar(kind="brokerage_event", region=region, limit=100, cursor=cursor)
        page = await client.call(ev.LIST_CALENDAR, query, region)
        for entry in page.items:
            if entry.partner_id == f"{region}-map" and entry.status != "cancelled":
                entries[entry.external_id] = entry
        if not (cursor := page.next_cursor):
            return entries


async def _participants(
    client: BusClient, region: str, event_id: str, companies: list[Company]
) -> None:
    async def register(n: int, company: Company) -> None:
        contact = company.email.split("@")[0]
        registration = ev.RegisterParticipant(
            event_id=event_id,
            person_name=f"{contact.title()} of {company.name} (demo)"[:200],
            email=company.email,
            sme=company.ref,
            participation="remote" if n % 5 == 4 else "on_site",
        )
        await client.call(ev.REGISTER_PARTICIPANT, registration, region, actor=company.actor(),
                          id=_id(region, "register", event_id, company.ref.sme_id))  # fmt: skip

    await _side_by_side(register(n, company) for n, company in enumerate(companies))


async def _side_by_side(steps: Iterable[Awaitable[object]]) -> None:
    """A few steps at once (each one's own commands one after the other)."""
    room = asyncio.Semaphore(AT_ONCE)

    async def one(step: Awaitable[object]) -> None:
        async with room:
            await step

    await asyncio.gather(*(one(step) for step in steps))


def _plan(count: int) -> list[tuple[int, int, str | None]]:
    """Who asks whom (by place in the list) and the answer: each asks the next and the one
    three on; most are accepted, some declined, and the first participant (the demo SME) has
    one request of its own and one to it left open."""
    plan: list[tuple[int, int, str | None]] = []
    for i in range(count):
        for step in (1, 3):
            j = (i + step) % count
            if (i, j) in {(0, 1), (count - 1, 0)}:
                answer = None
            elif len(plan) % 6 == 5:
                answer = "decline"
            else:
                answer = "accept"
            plan.append((i, j, answer))
    return plan


async def _requests(
    client: BusClient, region: str, event_id: str, companies: list[Company], name: str
) -> None:
    async def ask(n: int, i: int, j: int, answer: str | None) -> None:
        asking, asked = companies[i], companies[j]
        request = c.RequestMeeting(
            event_id=event_id,
            requester=asking.ref,
            receiver=asked.ref,
            message=f"Demo request (invented): {asking.name} would like to meet {asked.name}.",
            priority=1 + n % 3,
        )
        meeting = await client.call(c.REQUEST_MEETING, request, region, actor=asking.actor(),
                                    id=_id(region, "request", name, str(i), str(j)))  # fmt: skip
        if answer is None or meeting.status != "requested":
            return
        respond = c.RespondMeeting(
            meeting_id=meeting.meeting_id, accept=answer == "accept", responder=asked.ref
        )
        await client.call(c.RESPOND_MEETING, respond, region, actor=asked.actor(),
                          id=_id(region, "respond", meeting.meeting_id))  # fmt: skip

    await _side_by_side(ask(n, *step) for n, step in enumerate(_plan(len(companies))))


async def _schedule_once(
    client: BusClient, region: str, event_id: str, *, past: bool = False
) -> c.Schedule:
    """The event's schedule: made once (an event scheduled already keeps its own). For a held
    event, run again until the schedule has its (past) day, should matching not have seen the
    entry's day change yet."""
    actor = staff(region)
    try:
        return await client.call(c.GET_SCHEDULE, c.GetSchedule(event_id=event_id), region,
                                 actor=actor)  # fmt: skip
    except Refused as refused:
        if refused.code != "not_found":
            raise
    for attempt in range(50):
        run = c.ScheduleEvent(event_id=event_id, time_limit_s=1)
        command_id = _id(region, "schedule", event_id, str(attempt))
        schedule = await client.call(
            c.SCHEDULE_EVENT, run, region, actor=actor, timeout_s=60, id=command_id
        )
        now = datetime.now(UTC)
        if not past or all(m.ends_at < now for m in schedule.meetings):
            return schedule
        await asyncio.sleep(0.2)
    raise RuntimeError(f"matching never saw event {event_id} held")


def _held_entry(region: str, day: date) -> ev.PublishEvent:
    tz = "Europe/Tallinn"
    deadline = datetime.combine(day - timedelta(days=5), time(23, 59), ZoneInfo(tz))
    return ev.PublishEvent.model_validate(
        {
            "partner_id": f"{region}-map",
            "external_id": HELD,
            "kind": "brokerage_event",
            "title": HELD_TITLE,
            "description": "Invented for the demo: a day of pre-scheduled bilateral meetings "
            "for the region's SMEs and their partners around the Baltic Sea, held this year.",
            "starts_at": datetime.combine(day, time(9)).isoformat(),
            "ends_at": datetime.combine(day, time(17)).isoformat(),
            "timezone": tz,
            "venue": "Tallinn Science Park (demo)",
            "city": "Tallinn",
            "country": "EE",
            "clusters": ["ict", "life-sciences", "photonics"],
            "topics": ["partnering"],
            "organiser": "Market Access Point (demo)",
            "language": "en",
            "visibility": "network",
            "capacity": 80,
            "brokerage": {
                "days": [day.isoformat()],
                "day_start": "09:30",
                "slots_per_day": 10,
                "slot_minutes": 25,
                "breaks_after_slot": [4],
                "tables": 20,
                "registration_deadline": deadline.isoformat(),
                "participation_types": ["on_site", "remote"],
                "max_meetings_per_participant": 8,
                "max_requests_per_participant": 15,
            },
        }
    )


async def _held_event(
    client: BusClient, region: str, entry: ev.CalendarEntry | None, companies: list[Company]
) -> None:
    actor = staff(region)
    now = datetime.now(UTC)
    today = now.date()
    if entry is None or entry.starts_at_utc > now:
        # Its history: announced, registered for and asked for before its deadline, then held.
        ahead = _held_entry(region, today + timedelta(days=30))
        if entry is None:
            entry = await client.call(ev.PUBLISH_EVENT, ahead, region, actor=actor,
                                      id=_id(region, "held", "announced"))  # fmt: skip
        await _participants(client, region, entry.event_id, companies)
        await _requests(client, region, entry.event_id, companies, HELD)
        day = max(today - timedelta(days=HELD_DAYS_AGO), date(today.year, 1, 1))
        if day >= today:
            day = today - timedelta(days=1)
        entry = await client.call(ev.PUBLISH_EVENT, _held_entry(region, day), region, actor=actor,
                                  id=_id(region, "held", "held"))  # fmt: skip
    event_id = entry.event_id
    absent = companies[-1].ref
    registrations = await client.call(
        ev.LIST_REGISTRATIONS, ev.ListRegistrations(event_id=event_id, limit=100), region,
        actor=actor,
    )  # fmt: skip
    await _side_by_side(
        client.call(ev.RECORD_ATTENDANCE, ev.RecordAttendance(registration_id=r.registration_id),
                    region, actor=actor, id=_id(region, "attended", r.registration_id))
        for r in registrations.items
        if r.status == "confirmed" and r.sme != absent
    )  # fmt: skip
    schedule = await _schedule_once(client, region, event_id, past=True)
    placed = {m.meeting_id for m in schedule.meetings}
    meetings = await client.call(
        c.LIST_MEETINGS, c.ListMeetings(event_id=event_id, status="accepted", limit=100), region,
        actor=actor,
    )  # fmt: skip
    records = []
    for n, meeting in enumerate(sorted(meetings.items, key=lambda m: m.meeting_id)):
        if meeting.outcome is not None:
            continue  # recorded already (by the demo, or by staff since)
        outcome: c.Outcome = OUTCOMES[n % len(OUTCOMES)]
        if absent in (meeting.requester, meeting.receiver) or meeting.meeting_id not in placed:
            outcome = "did_not_take_place"
        records.append(c.RecordMeetingOutcome(meeting_id=meeting.meeting_id, outcome=outcome,
                                              note="Demo outcome (invented)."))  # fmt: skip
    await _side_by_side(
        client.call(c.RECORD_MEETING_OUTCOME, record, region, actor=actor,
                    id=_id(region, "outcome", record.meeting_id))
        for record in records
    )  # fmt: skip
