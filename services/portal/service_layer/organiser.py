"""The organiser's desk put together from the services' answers: their events by title and date,
the requests a schedule left out with why, check-in, the event's statistics and its exports.

Every read acts for the person, so the services' checks decide; the desk checks first too (an
organiser only at the events given to them, staff only at their region's), so that a page never
shows another event's title before a service refuses it."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contracts import events as ev
from contracts import matching as mt
from contracts import notify as nt
from contracts.access import STAFF, Actor
from contracts.common import SmeRef
from contracts.errors import Refused

from ..adapters.exports import Table
from .guide import Call

# Lists are read a page of this many at a time, to the end.
PAGE = 100
OUTCOMES: tuple[mt.Outcome, ...] = (
    "did_not_take_place",
    "insufficient_interest",
    "informative_no_cooperation",
    "cooperation_possible",
)
HELD = frozenset(OUTCOMES[1:])  # an outcome other than "did not take place": it was held
EXPORTS = ("participants", "meetings", "outcomes", "statistics")


@dataclass(frozen=True)
class EventLine:
    """One of an organiser's events as their home page lists it."""

    event_id: str
    title: str
    starts_at: datetime | None  # None: the calendar no longer has it
    timezone: str = "UTC"
    city: str = ""


def may_organise(actor: Actor, event: ev.EventDetails) -> bool:
    if actor.role in STAFF:
        return actor.region == event.region
    return actor.role == "organiser" and event.event_id in (actor.event_ids or [])


def key(ref: SmeRef) -> str:
    return f"{ref.region}:{ref.sme_id}"


# --- the unplaced requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class Remedy:
    changes: list[str]
    at: datetime | None  # the slot it would go to, at the venue's wall time; None: a slot to add
    table: int | None  # from 1; None: remote, or a table to add
    added_table: bool


@dataclass(frozen=True)
class UnplacedRow:
    meeting_id: str
    requester: str
    receiver: str
    priority: int
    remote: bool
    reasons: list[str]
    at_cap: list[str]
    common_slots: int
    remedies: list[Remedy]

    @property
    def locked(self) -> bool:
        return "locked_clash" in self.reasons


@dataclass(frozen=True)
class Unplaced:
    version: int
    placed: int
    bound: int | None
    rows: list[UnplacedRow]
    cap: int | None
    tables: int

    @property
    def could_place_more(self) -> int:
        """How many more any schedule of the event as it is could hold, at most (proven)."""
        return max(0, (self.bound or 0) - self.placed) if self.bound is not None else 0


def unplaced_rows(
    told: mt.UnplacedRequests, event: ev.EventDetails, names: dict[str, str]
) -> Unplaced:
    starts = {s.slot: s.starts_at for s in event.slots}
    setup = event.brokerage
    tables = setup.tables if setup else 0

    def name(ref: SmeRef) -> str:
        return names.get(key(ref), ref.sme_id)

    rows = [
        UnplacedRow(
            meeting_id=item.meeting_id,
            requester=name(item.requester),
            receiver=name(item.receiver),
            priority=item.priority,
            remote=item.remote,
            reasons=list(item.reasons),
            at_cap=[name(r) for r in item.at_cap],
            common_slots=item.common_slots,
            remedies=[
                Remedy(
                    changes=list(r.changes),
                    at=starts.get(r.slot),
                    table=None if r.table is None else r.table + 1,
                    added_table=r.table is not None and r.table >= tables,
                )
                for r in item.remedies
            ],
        )
        for item in told.items
    ]
    return Unplaced(
        version=told.version,
        placed=told.placed,
        bound=told.bound,
        rows=rows,
        cap=setup.max_meetings_per_participant if setup else None,
        tables=tables,
    )


# --- check-in -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckinRow:
    registration_id: str
    person: str
    organisation: str
    participation: str
    present: bool  # on the day chosen


def checkin_rows(
    registrations: Iterable[ev.Registration], names: dict[str, str], text: str, day: int
) -> list[CheckinRow]:
    """The confirmed participants whose name or organisation holds every word of the text,
    by name."""
    words = text.casefold().split()
    rows = []
    for r in registrations:
        if r.status != "confirmed":
            continue
        organisation = names.get(key(r.sme), "") if r.sme else ""
        if organisation == r.person_name:  # no company name known: the person's, said once
            organisation = ""
        haystack = f"{r.person_name} {organisation}".casefold()
        if all(w in haystack for w in words):
            rows.append(CheckinRow(r.registration_id, r.person_name, organisation,
                                   r.participation, day in r.attended_sessions))  # fmt: skip
    return sorted(rows, key=lambda row: (row.person.casefold(), row.registration_id))


def day_index(event: ev.EventDetails, today: date) -> int:
    """The brokerage day it is at the venue (the first before the event, the last after)."""
    days = event.brokerage.days if event.brokerage else []
    if not days:
        return 0
    if today in days:
        return days.index(today)
    return 0 if today < days[0] else len(days) - 1


# --- statistics ---------------------------------------------------------------------------------


@dataclass
class Counts:
    registered: int = 0
    checked_in: int = 0
    no_shows: int = 0
    requests: int = 0
    accepted: int = 0
    scheduled: int = 0
    held: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Statistics:
    total: Counts
    by_organisation: list[tuple[str, Counts]]
    waitlisted: int
    cancelled: int


def statistics_of(
    registrations: Iterable[ev.Registration],
    meetings: Iterable[mt.Meeting],
    scheduled: set[str],
    names: dict[str, str],
) -> Statistics:
    """As an organiser's report counts them: a no-show is a confirmed participant never checked
    in; a meeting counts for both of its organisations."""
    total = Counts()
    per: defaultdict[str, Counts] = defaultdict(Counts)
    status: Counter[str] = Counter()
    for r in registrations:
        status[r.status] += 1
        if r.status != "confirmed":
            continue
        who = per[key(r.sme)] if r.sme else Counts()
        for c in (total, who):
            c.registered += 1
            c.checked_in += bool(r.attended_sessions)
            c.no_shows += not r.attended_sessions
    for m in meetings:
        sides = [per[key(m.requester)], per[key(m.receiver)]]
        for c in (total, *sides):
            c.requests += 1
            if m.status != "accepted":
                continue
            c.accepted += 1
            c.scheduled += m.meeting_id in scheduled
            if m.outcome is not None:
                c.outcomes[m.outcome] += 1
                c.held += m.outcome in HELD
    ordered = sorted(per.items(), key=lambda kv: names.get(kv[0], kv[0]).casefold())
    return Statistics(
        total=total,
        by_organisation=[(names.get(k, k.split(":", 1)[-1]), c) for k, c in ordered],
        waitlisted=status["waitlisted"],
        cancelled=status["cancelled"],
    )


# --- exports ------------------------------------------------------------------------------------


def _local(instant: datetime | None, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if instant else ""


def participants_table(
    registrations: Iterable[ev.Registration], names: dict[str, str], zone: str
) -> Table:
    rows = [
        (
            names.get(key(r.sme), r.sme.sme_id) if r.sme else "",
            r.person_name,
            r.email,
            r.participation,
            r.status,
            r.position if r.position is not None else "",
            ", ".join(str(d + 1) for d in r.attended_sessions),
            _local(r.registered_at, zone),
        )
        for r in sorted(registrations, key=lambda r: (r.status, r.person_name.casefold()))
    ]
    headers = ("organisation", "person", "email", "participation", "status", "waitlist place",
               "checked in on day", "registered at")  # fmt: skip
    return Table("participants", headers, rows)


def meetings_table(
    meetings: Iterable[mt.Meeting],
    names: dict[str, str],
    event: ev.EventDetails,
    only_outcomes: bool = False,
) -> Table:
    starts = {s.slot: s.starts_at for s in event.slots}
    rows = []
    for m in meetings:
        if only_outcomes and m.outcome is None:
            continue
        at = starts.get(m.slot) if m.slot is not None else None  # wall time at the venue
        rows.append(
            (
                names.get(key(m.requester), m.requester.sme_id),
                names.get(key(m.receiver), m.receiver.sme_id),
                m.status,
                m.priority,
                "yes" if m.mutual else "no",
                "remote" if m.remote else "on site",
                at.strftime("%Y-%m-%d %H:%M") if at else "",
                m.table + 1 if m.table is not None else "",
                m.outcome or "",
            )
        )
    rows.sort(key=lambda row: (str(row[6]) or "~", str(row[0]).casefold()))
    headers = ("requester", "receiver", "status", "priority", "mutual", "where", "starts at",
               "table", "outcome")  # fmt: skip
    return Table("outcomes" if only_outcomes else "meetings", headers, rows)


def statistics_table(stats: Statistics) -> Table:
    headers = ("organisation", "registered", "checked in", "no-shows", "requests", "accepted",
               "scheduled", "held", *OUTCOMES)  # fmt: skip

    def line(name: str, c: Counts) -> tuple[Any, ...]:
        return (name, c.registered, c.checked_in, c.no_shows, c.requests, c.accepted,
                c.scheduled, c.held, *(c.outcomes[o] for o in OUTCOMES))  # fmt: skip

    rows = [line(n, c) for n, c in stats.by_organisation]
    # Each meeting is in two organisations' rows; the total counts it once.
    rows.append(line("(the event)", stats.total))
    return Table("statistics", headers, rows)


# --- reading -----------------------------------------------------------------------------------


class Desk:
    def __init__(self, call: Call, region: str) -> None:
        self.call, self.region = call, region

    async def _every(self, op: Any, query: Any, actor: Actor) -> list[Any]:
        items: list[Any] = []
        query = query.model_copy(update={"limit": PAGE})
        while True:
            page = await self.call(op, query, actor)
            items.extend(page.items)
            if not page.next_cursor:
                return items
            query = query.model_copy(update={"cursor": page.next_cursor})

    async def event(self, event_id: str, actor: Actor, public: Actor) -> ev.EventDetails:
        """The event, if this person organises it; refused otherwise, before anything of it
        is shown."""
        if actor.role == "organiser" and event_id not in (actor.event_ids or []):
            raise Refused("forbidden", f"event {event_id} is not one of yours", id=event_id)
        found: ev.EventDetails = await self.call(
            ev.GET_EVENT, ev.GetEvent(event_id=event_id), public
        )
        if not may_organise(actor, found):
            raise Refused("forbidden", f"event {event_id} is another region's", id=event_id)
        return found

    async def events_of(self, actor: Actor, public: Actor) -> list[EventLine]:
        """An organiser's events by date (the soonest first), those the calendar no longer
        has last, by id."""

        async def line(event_id: str) -> EventLine:
            try:
                e = await self.call(ev.GET_EVENT, ev.GetEvent(event_id=event_id), public)
            except Refused as refusal:
                if refusal.code != "not_found":
                    raise
                return EventLine(event_id, event_id, None)
            return EventLine(e.event_id, e.title, e.starts_at_utc, e.timezone, e.city or "")

        lines = await asyncio.gather(*(line(e) for e in actor.event_ids or []))
        return sorted(lines, key=lambda e: (e.starts_at is None, e.starts_at or 0, e.title))

    async def registrations(self, event_id: str, actor: Actor) -> list[ev.Registration]:
        return await self._every(ev.LIST_REGISTRATIONS, ev.ListRegistrations(event_id=event_id),
                                 actor)  # fmt: skip

    async def meetings(self, event_id: str, actor: Actor) -> list[mt.Meeting]:
        return await self._every(mt.LIST_MEETINGS, mt.ListMeetings(event_id=event_id), actor)

    async def names(
        self, event_id: str, actor: Actor, registrations: Iterable[ev.Registration]
    ) -> dict[str, str]:
        """The participants' organisations by name (the marketplace's), else the name the
        person registered with."""
        names = {key(r.sme): r.person_name for r in registrations if r.sme is not None}
        try:
            listed = await self._every(
                mt.LIST_PARTICIPANTS, mt.ListParticipants(event_id=event_id), actor
            )
        except Refused as refusal:
            if refusal.code == "internal":
                raise
            return names
        names |= {key(p.sme): p.legal_name for p in listed if p.legal_name}
        return names

    async def scheduled(self, event_id: str, actor: Actor) -> set[str]:
        try:
            schedule = await self.call(mt.GET_SCHEDULE, mt.GetSchedule(event_id=event_id), actor)
        except Refused as refusal:
            if refusal.code != "not_found":
                raise
            return set()
        return {m.meeting_id for m in schedule.meetings}

    async def unplaced(self, event: ev.EventDetails, actor: Actor) -> Unplaced | None:
        """None: no schedule built yet."""
        try:
            told = await self.call(mt.GET_UNPLACED, mt.GetUnplaced(event_id=event.event_id), actor)
        except Refused as refusal:
            if refusal.code != "not_found":
                raise
            return None
        registrations = await self.registrations(event.event_id, actor)
        names = await self.names(event.event_id, actor, registrations)
        return unplaced_rows(told, event, names)

    async def message(
        self, event: ev.EventDetails, actor: Actor, audience: str, subject: str, body: str
    ) -> int:
        """One mail to the audience chosen, through notify; how many people it was for. Those
        "without meetings" are the confirmed whose SME has no accepted meeting here."""
        with_meetings: list[SmeRef] = []
        if audience == "without_meetings":
            accepted = await self._every(
                mt.LIST_MEETINGS, mt.ListMeetings(event_id=event.event_id, status="accepted"),
                actor,
            )  # fmt: skip
            sides = {key(r): r for m in accepted for r in (m.requester, m.receiver)}
            with_meetings = list(sides.values())
        command = nt.MessageParticipants.model_validate(
            {"event_id": event.event_id, "audience": audience, "subject": subject.strip(),
             "body": body.strip(), "with_meetings": with_meetings}
        )  # fmt: skip
        done = await self.call(nt.MESSAGE_PARTICIPANTS, command, actor)
        return int(done.addressed)

    async def statistics(self, event: ev.EventDetails, actor: Actor) -> Statistics:
        registrations, meetings, scheduled = await asyncio.gather(
            self.registrations(event.event_id, actor),
            self.meetings(event.event_id, actor),
            self.scheduled(event.event_id, actor),
        )
        names = await self.names(event.event_id, actor, registrations)
        return statistics_of(registrations, meetings, scheduled, names)

    async def export(self, event: ev.EventDetails, what: str, actor: Actor) -> Table:
        registrations = await self.registrations(event.event_id, actor)
        names = await self.names(event.event_id, actor, registrations)
        if what == "participants":
            return participants_table(registrations, names, event.timezone)
        meetings = await self.meetings(event.event_id, actor)
        if what in ("meetings", "outcomes"):
            return meetings_table(meetings, names, event, only_outcomes=what == "outcomes")
        scheduled = await self.scheduled(event.event_id, actor)
        return statistics_table(statistics_of(registrations, meetings, scheduled, names))
