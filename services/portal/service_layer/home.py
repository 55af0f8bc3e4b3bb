"""Each person's home page: what needs them now, put together from the services' answers.

A company's contact: the meeting requests waiting for their answer, their next meetings, events
of the calendar they could still register for, their profiles that expire soon (or have), and
the surveys they may answer. Staff: the profiles waiting for review, the invitations not taken
up yet, their imports running. An organiser: their events, each with the accepted requests the
schedule has not placed and the waitlist.

Every read acts for the person signed in (their SME, their region, their events), so the
services' checks decide what may appear. Each part is asked on its own: a service that does not
answer (or the bus being away) leaves that part saying it cannot be shown now, never the page
lost; a part with nothing in it says so."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts.access import STAFF, Actor
from contracts.common import SmeRef
from contracts.errors import Refused

from ..domain.users import Link
from .feedback import Feedback, HomeSurveys
from .marketplace import Marketplace, MyEvent, RoutedCall, Row, every
from .office import Office
from .organiser import Desk, EventLine

T = TypeVar("T")

# A part shows this many of its items; the count says how many there are in all.
SHOWN = 5
# Events of the calendar offered to register for.
EVENTS_SHOWN = 3
# The calendar entries read to find those (the first of them the SME is not registered for).
CALENDAR_READ = 30
# An organiser's events shown, what waits at each read for these only (the count says the rest).
ORGANISED_SHOWN = 20
# A profile expiring within this many days is shown (and one expired already).
EXPIRING_DAYS = 30
# Profiles that are live in the network, or about to be, and so may expire unseen.
LIVE = frozenset({"published", "in_review"})


@dataclass(frozen=True)
class Part(Generic[T]):
    """One part of the home page: its first items, how many there are in all, or that the
    service it comes from did not answer."""

    items: list[T] = field(default_factory=list)
    count: int = 0
    unavailable: bool = False
    # Regions hosting some of the person's events that did not answer: what they hold is not
    # among the items (the page names them).
    out_of_reach: tuple[str, ...] = ()

    @classmethod
    def of(cls, items: list[T], shown: int = SHOWN, out_of_reach: Iterable[str] = ()) -> Part[T]:
        return cls(items[:shown], len(items), out_of_reach=tuple(sorted(set(out_of_reach))))

    @classmethod
    def away(cls) -> Part[T]:
        return cls(unavailable=True)

    @property
    def more(self) -> int:
        return self.count - len(self.items)


@dataclass(frozen=True)
class NextMeeting:
    event_id: str
    event_title: str
    timezone: str
    starts_at: datetime  # UTC
    table: int | None
    other: SmeRef
    other_name: str  # empty: a company the viewer may not name (the page says its region)


@dataclass(frozen=True)
class Expiring:
    sme_id: str
    profile_id: str
    title: str
    expires_on: date
    days_left: int  # negative: expired that many days ago


@dataclass(frozen=True)
class RunningImport:
    job_id: str
    file_name: str
    percent: int


@dataclass(frozen=True)
class OrganisedEvent:
    line: EventLine
    unplaced: int | None  # accepted requests not in the published schedule; None: not known
    scheduled: bool  # a schedule is published
    waitlisted: int | None


@dataclass(frozen=True)
class HomeView:
    requests: Part[Row] | None = None  # None: not a part of this person's page
    meetings: Part[NextMeeting] | None = None
    events: Part[ev.CalendarEntry] | None = None
    expiring: Part[Expiring] | None = None
    surveys: HomeSurveys = field(default_factory=lambda: HomeSurveys([], unavailable=False))
    reviews: Part[rg.ProfileInReview] | None = None
    invitations: Part[Link] | None = None
    imports: Part[RunningImport] | None = None
    organised: Part[OrganisedEvent] | None = None


async def part(read: Awaitable[Part[T]]) -> Part[T]:
    """The part, or that it cannot be shown now (a refusal: the service is away, timed out, or
    says no)."""
    try:
        return await read
    except Refused:
        return Part.away()


def expiring_of(sme: rg.SmeView, today: date) -> list[Expiring]:
    """The SME's profiles live or expired whose expiry is within EXPIRING_DAYS, soonest first."""
    found = [
        Expiring(sme.sme_id, p.profile_id, p.title, p.expires_on, (p.expires_on - today).days)
        for p in sme.profiles
        if p.status == "expired"
        or (p.status in LIVE and p.expires_on <= today + timedelta(days=EXPIRING_DAYS))
    ]
    return sorted(found, key=lambda e: e.expires_on)


def next_meeting(
    event: ev.EventDetails, s: mt.ScheduledMeeting, me: SmeRef, other_name: str
) -> NextMeeting:
    other = next((p for p in s.participants if p.key != me.key), me)
    return NextMeeting(event.event_id, event.title, event.timezone, s.starts_at, s.table, other,
                       other_name)  # fmt: skip


def over(mine: MyEvent, now: datetime) -> bool:
    """An event ended (or that the calendar no longer has): nothing at it waits for the SME."""
    return mine.event is None or mine.event.ends_at_utc <= now


def cancelled(row: Row | None) -> bool:
    """A meeting cancelled since its schedule was published (which keeps it until the
    organiser schedules again): not one to go to. Not known (the inbox away): shown."""
    return row is not None and row.meeting.status == "cancelled"


def name_in(rows: dict[str, Row], meeting_id: str) -> str:
    row = rows.get(meeting_id)
    return row.other_name if row else ""


def open_to_register(entry: ev.CalendarEntry, now: datetime) -> bool:
    """Not begun, not cancelled, and a brokerage event's deadline for registering not passed."""
    if entry.status == "cancelled" or entry.starts_at_utc <= now:
        return False
    return entry.brokerage is None or entry.brokerage.registration_deadline > now


class Home:
    def __init__(
        self,
        call: RoutedCall,
        region: str,
        invitations: Callable[[str], Awaitable[list[Link]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.call, self.region, self.invitations, self.clock = call, region, invitations, clock
        self.market = Marketplace(call)
        self.feedback = Feedback(call)
        self.office = Office(call, region)
        self.desk = Desk(call, region)

    async def view(self, actor: Actor, public: Actor, imports: list[RunningImport]) -> HomeView:
        if actor.role == "sme" and actor.sme_id:
            return await self.of_contact(actor)
        if actor.role in STAFF:
            return await self.of_staff(actor, imports)
        if actor.role == "organiser":
            return HomeView(organised=await part(self._organised(actor, public)))
        return HomeView()

    @staticmethod
    def unreachable(actor: Actor, imports: list[RunningImport]) -> HomeView:
        """The page without the bus: each part this person has says it cannot be shown now
        (but the portal's own: the imports it runs)."""
        away: Part[Any] = Part.away()
        if actor.role == "sme" and actor.sme_id:
            return HomeView(requests=away, meetings=away, events=away, expiring=away,
                            surveys=HomeSurveys([], unavailable=True))  # fmt: skip
        if actor.role in STAFF:
            return HomeView(reviews=away, invitations=away, imports=Part.of(imports))
        if actor.role == "organiser":
            return HomeView(organised=away)
        return HomeView()

    # --- a company's contact -------------------------------------------------------------------

    async def of_contact(self, actor: Actor) -> HomeView:
        me = SmeRef(sme_id=str(actor.sme_id), region=actor.region)
        now = self.clock()
        try:
            # Only the events not over yet: an SME's past events (which grow with every year
            # it takes part) cost the page no read.
            mine: list[MyEvent] | None = await self.market.my_events(me, actor, upcoming=True)
        except Refused:
            mine = None  # the events service is away: the parts that need it say so
        # Ended since the events service answered, or no longer in the calendar: not current.
        current = None if mine is None else [m for m in mine if not over(m, now)]
        requests, rows = await self._requests(current, me, actor)
        meetings, events, expiring, surveys = await asyncio.gather(
            part(self._meetings(mine, me, actor, now, rows)),
            part(self._events(mine, actor, now)),
            part(self._expiring(me, actor, now.date())),
            self.feedback.for_home(actor),
        )
        return HomeView(requests=requests, meetings=meetings, events=events, expiring=expiring,
                        surveys=surveys)  # fmt: skip

    async def _requests(
        self, mine: list[MyEvent] | None, me: SmeRef, actor: Actor
    ) -> tuple[Part[Row], dict[str, Row]]:
        """The requests received and not answered yet, the newest event's first; and every
        meeting the inbox found (by id: the other company's name and the meeting's state), for
        the next meetings."""
        if mine is None:
            return Part.away(), {}
        try:
            inbox = await self.market.inbox_of(mine, me, actor)
        except Refused:
            return Part.away(), {}
        rows = [*inbox.received, *inbox.sent]
        by_id = {r.meeting.meeting_id: r for r in rows}
        answerable = [r for r in inbox.received if r.answerable]
        return Part.of(answerable, out_of_reach=inbox.out_of_reach), by_id

    async def _meetings(
        self, mine: list[MyEvent] | None, me: SmeRef, actor: Actor, now: datetime,
        rows: dict[str, Row],
    ) -> Part[NextMeeting]:  # fmt: skip
        """The meetings of the published schedules of the events where the SME has a seat, the
        soonest first, those not begun nor cancelled since."""
        if mine is None:
            raise Refused("region_unavailable", "the events service did not answer")
        seated = [
            m.event for m in mine
            if m.seated and m.brokerage and m.event is not None and m.event.ends_at_utc > now
        ]  # fmt: skip

        async def agenda(event: ev.EventDetails) -> list[NextMeeting] | None:
            """The meetings ahead at the event; None while its host region is out of reach
            and this region has no copy to show."""
            try:
                schedule = await self._agenda(event, me, actor)
            except Refused as refusal:
                if refusal.code != "region_unavailable" or event.region == self.region:
                    raise  # this region's own service away: the part says it
                return None
            if schedule is None:
                return []  # no schedule published yet
            ahead = [s for s in schedule.meetings
                     if s.starts_at > now and not cancelled(rows.get(s.meeting_id))]  # fmt: skip
            return [next_meeting(event, s, me, name_in(rows, s.meeting_id)) for s in ahead]

        agendas = await asyncio.gather(*(agenda(e) for e in seated))
        away = [e.region for e, a in zip(seated, agendas, strict=True) if a is None]
        ahead = sorted((m for a in agendas for m in a or []), key=lambda m: m.starts_at)
        return Part.of(ahead, out_of_reach=away)

    async def _agenda(self, event: ev.EventDetails, me: SmeRef, actor: Actor) -> mt.Schedule | None:
        """The SME's agenda at the event as its host answers it, else from this region's copy
        while the host is out of reach (as the agenda page does); None: none published."""
        query = mt.GetSchedule(event_id=event.event_id, participant=me)
        try:
            try:
                found: mt.Schedule = await self.call(mt.GET_SCHEDULE, query, actor, at=event.region)
            except Refused as refusal:
                if refusal.code != "region_unavailable" or event.region == self.region:
                    raise
                found = await self.call(mt.GET_SCHEDULE, query, actor, at=self.region)
        except Refused as refusal:
            if refusal.code != "not_found":
                raise
            return None
        return found

    async def _events(
        self, mine: list[MyEvent] | None, actor: Actor, now: datetime
    ) -> Part[ev.CalendarEntry]:
        """Events of the calendar, soonest first, still open to register for, that the SME is
        not registered for (a seat or a waitlist place)."""
        if mine is None:
            raise Refused("region_unavailable", "the events service did not answer")
        registered = {m.registration.event_id for m in mine if m.registration.status != "cancelled"}
        query = ev.ListCalendar(period_from=now, limit=CALENDAR_READ)
        page: ev.CalendarPage = await self.call(ev.LIST_CALENDAR, query, actor)
        open_ = [e for e in page.items if e.event_id not in registered and open_to_register(e, now)]
        return Part(open_[:EVENTS_SHOWN], len(open_))

    async def _expiring(self, me: SmeRef, actor: Actor, today: date) -> Part[Expiring]:
        sme: rg.SmeView = await self.call(rg.GET_SME, rg.GetSme(sme_id=me.sme_id), actor)
        return Part.of(expiring_of(sme, today))

    # --- staff ---------------------------------------------------------------------------------

    async def of_staff(self, actor: Actor, imports: list[RunningImport]) -> HomeView:
        reviews, invitations = await asyncio.gather(
            part(self._reviews(actor)), self._invitations(actor)
        )
        return HomeView(reviews=reviews, invitations=invitations, imports=Part.of(imports))

    async def _reviews(self, actor: Actor) -> Part[rg.ProfileInReview]:
        return Part.of(await self.office.reviews(actor))

    async def _invitations(self, actor: Actor) -> Part[Link]:
        """The region's invitations still usable and not taken up, the soonest to expire
        first (those expired are on the people page, to be sent again)."""
        now = self.clock()
        pending = [k for k in await self.invitations(actor.region) if k.usable(now)]
        return Part.of(sorted(pending, key=lambda k: (k.expires_at, k.email)))

    # --- an organiser --------------------------------------------------------------------------

    async def _organised(self, actor: Actor, public: Actor) -> Part[OrganisedEvent]:
        """The organiser's events, those to come (and of the last day) first, soonest first,
        then those over, latest first, then those the calendar lost; what waits is read for
        the events shown only (an organiser's events grow without bound)."""
        lines = await self.desk.events_of(actor, public)
        now = self.clock()
        recent = now - timedelta(days=1)
        ahead = [e for e in lines if e.starts_at is not None and e.starts_at >= recent]
        past = [e for e in lines if e.starts_at is not None and e.starts_at < recent]
        lost = [e for e in lines if e.starts_at is None]
        ordered = [*ahead, *sorted(past, key=lambda e: e.starts_at or now, reverse=True), *lost]
        shown = ordered[:ORGANISED_SHOWN]
        items = await asyncio.gather(*(self._desk_line(e, actor, now) for e in shown))
        return Part(list(items), len(ordered))

    async def _desk_line(self, line: EventLine, actor: Actor, now: datetime) -> OrganisedEvent:
        """An event with what waits at it: the accepted requests the published schedule has
        not placed, and the waitlist (not known, None, when a service does not say)."""
        if line.starts_at is None or line.starts_at < now - timedelta(days=1):
            return OrganisedEvent(line, None, False, None)  # gone, or over: nothing waits
        try:
            accepted, scheduled, waitlisted = await asyncio.gather(
                every(self.call, mt.LIST_MEETINGS,
                      mt.ListMeetings(event_id=line.event_id, status="accepted"), actor),
                self._scheduled(line.event_id, actor),
                every(self.call, ev.LIST_REGISTRATIONS,
                      ev.ListRegistrations(event_id=line.event_id, status="waitlisted"), actor),
            )  # fmt: skip
        except Refused:
            return OrganisedEvent(line, None, False, None)
        placed = scheduled or set()
        unplaced = sum(1 for m in accepted if m.meeting_id not in placed)
        return OrganisedEvent(line, unplaced, scheduled is not None, len(waitlisted))

    async def _scheduled(self, event_id: str, actor: Actor) -> set[str] | None:
        try:
            schedule = await self.call(mt.GET_SCHEDULE, mt.GetSchedule(event_id=event_id), actor)
        except Refused as refusal:
            if refusal.code != "not_found":
                raise
            return None
        return {m.meeting_id for m in schedule.meetings}
