"""A company's contact at brokerage events, put together from the events and matching services'
answers: the events their SME is registered for (a seat or a waitlist place), an event's
participants as a marketplace, the meeting requests they received and sent, and the request
form, which offers only the events both companies attend. Every list is read to its end or
shown a page at a time with its "more"; the services decide who may see what, and this layer
asks only as the person signed in."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, get_args

from contracts import events as ev
from contracts import matching as mt
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused, forbidden_field

from .guide import Call

# A list query is read a page of this many at a time, to its end.
PAGE = 100
# The marketplace's cards on one page; the rest are a "more" away.
CARDS = 24
OFFERS = frozenset({"business_offer", "technology_offer"})
PROFILE_TYPES: tuple[str, ...] = get_args(mt.ProfileType)
FILTERS = ("country", "cluster", "profile_type", "text")


async def every(call: Call, op: Any, query: Any, actor: Actor) -> list[Any]:
    """Every item of a list query, page after page (never the first page as if all)."""
    items: list[Any] = []
    query = query.model_copy(update={"limit": PAGE})
    while True:
        page = await call(op, query, actor)
        items.extend(page.items)
        if not page.next_cursor:
            return items
        query = query.model_copy(update={"cursor": page.next_cursor})


@dataclass(frozen=True)
class MyEvent:
    registration: ev.SmeRegistration  # here or at another region's event (its region)
    event: ev.EventDetails | None  # None: the calendar no longer has it

    @property
    def brokerage(self) -> bool:
        return self.event is not None and self.event.brokerage is not None

    @property
    def seated(self) -> bool:
        return self.registration.status == "confirmed"


@dataclass(frozen=True)
class Card:
    """A participant as the marketplace shows it: what it offers and what it seeks."""

    participant: mt.Participant
    offers: list[mt.ParticipantProfile]
    seeks: list[mt.ParticipantProfile]
    mine: bool  # the viewer's own company


@dataclass(frozen=True)
class Market:
    event: ev.EventDetails
    cards: list[Card]
    total: int
    next_cursor: str | None
    countries: list[str]
    clusters: list[str]
    given: dict[str, str]
    may_request: bool  # the viewer is a company's contact with a seat here


@dataclass(frozen=True)
class Row:
    """A meeting request in a contact's inbox, with the other company's name."""

    meeting: mt.Meeting
    event: ev.EventDetails | None
    other: SmeRef
    other_name: str  # empty: a company the viewer may not name (the page says its region)
    received: bool

    @property
    def answerable(self) -> bool:
        return self.received and self.meeting.status == "requested"

    @property
    def my_report(self) -> mt.OutcomeReport | None:
        """The viewer's side's report (matching shows a contact no other)."""
        return next(iter(self.meeting.reports), None)

    def may_report(self, now: datetime) -> bool:
        """An accepted meeting not reported yet, once its event has begun and until REPORT_DAYS
        after it (matching decides, to the slot; the form is offered on the same days)."""
        if self.meeting.status != "accepted" or self.my_report or self.event is None:
            return False
        closes = self.event.ends_at_utc + timedelta(days=mt.REPORT_DAYS)
        return self.event.starts_at_utc <= now <= closes


@dataclass(frozen=True)
class Inbox:
    received: list[Row] = field(default_factory=list)
    sent: list[Row] = field(default_factory=list)
    # The regions hosting some of the SME's events that did not answer: their requests are
    # not among these (the page says so).
    out_of_reach: list[str] = field(default_factory=list)


def card(p: mt.Participant, viewer: SmeRef | None) -> Card:
    return Card(
        participant=p,
        offers=[x for x in p.profiles if x.type in OFFERS],
        seeks=[x for x in p.profiles if x.type not in OFFERS],
        mine=viewer is not None and p.sme.key == viewer.key,
    )


def name_of(p: mt.Participant) -> str:
    """Empty for a company that does not share itself with the network: the page names its
    region instead."""
    return p.legal_name


class RoutedCall(Protocol):
    """The portal's call, which may be sent to the region hosting an event (``at``)."""

    def __call__(
        self, op: Any, data: Any, actor: Actor, /, *, at: str | None = None
    ) -> Awaitable[Any]: ...


class Marketplace:
    def __init__(self, call: RoutedCall) -> None:
        self.call = call

    async def _event(self, event_id: str, actor: Actor) -> ev.EventDetails | None:
        try:
            found: ev.EventDetails = await self.call(
                ev.GET_EVENT, ev.GetEvent(event_id=event_id), actor
            )
        except Refused as refusal:
            if refusal.code != "not_found":
                raise
            return None
        return found

    async def _events(self, ids: Iterable[str], actor: Actor) -> dict[str, ev.EventDetails | None]:
        unique = sorted(set(ids))
        found = await asyncio.gather(*(self._event(i, actor) for i in unique))
        return dict(zip(unique, found, strict=True))

    # --- my events ---------------------------------------------------------------------------

    async def my_events(
        self, sme: SmeRef, actor: Actor, *, upcoming: bool = False
    ) -> list[MyEvent]:
        """The SME's seats and waitlist places, soonest event first; ``upcoming``: only at
        events not over yet (the events service decides, from each event's end), so a page
        about what comes next reads no past event, however many years of them there are."""
        query = ev.ListSmeRegistrations(sme=sme, upcoming=upcoming)
        registrations = await every(self.call, ev.LIST_SME_REGISTRATIONS, query, actor)
        events = await self._events((r.event_id for r in registrations), actor)
        mine = [MyEvent(r, events[r.event_id]) for r in registrations]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(mine, key=lambda m: m.event.starts_at_utc if m.event else far)

    async def cancel(self, registration_id: str, actor: Actor, at: str | None = None) -> Any:
        """``at``: the region hosting the event (a registration is kept there)."""
        cancel = ev.CancelRegistration(registration_id=registration_id)
        return await self.call(ev.CANCEL_REGISTRATION, cancel, actor, at=at)

    # --- the marketplace ---------------------------------------------------------------------

    async def market(
        self, event_id: str, given: dict[str, str], cursor: str | None, actor: Actor
    ) -> Market:
        query = mt.ListParticipants.model_validate(
            {"event_id": event_id, "limit": CARDS, "cursor": cursor} | given
        )
        event, page = await asyncio.gather(
            self._event(event_id, actor), self.call(mt.LIST_PARTICIPANTS, query, actor)
        )
        if event is None:
            raise Refused("not_found", f"no event {event_id}")
        viewer = _viewer(actor)
        cards = [card(p, viewer) for p in page.items]
        return Market(
            event=event,
            cards=cards,
            total=page.total,
            next_cursor=page.next_cursor,
            countries=page.countries,
            clusters=page.clusters,
            given=given,
            may_request=viewer is not None,
        )

    async def participant(self, event_id: str, sme: SmeRef, actor: Actor) -> mt.Participant | None:
        """One company at one event, as the viewer may see it; None if it does not come (or
        the viewer may not see the event's participants)."""
        query = mt.ListParticipants(event_id=event_id, sme=sme)
        try:
            page: mt.ParticipantPage = await self.call(mt.LIST_PARTICIPANTS, query, actor)
        except Refused as refusal:
            if refusal.code not in ("forbidden", "not_found"):
                raise
            return None
        return page.items[0] if page.items else None

    # --- asking for a meeting ----------------------------------------------------------------

    async def in_common(
        self, me: SmeRef, other: SmeRef, actor: Actor
    ) -> tuple[list[ev.EventDetails], mt.Participant | None]:
        """The brokerage events, not over, where both companies have a seat; and the other
        company as the first of them shows it."""
        now = datetime.now(UTC)
        seated = [
            m.event
            for m in await self.my_events(me, actor, upcoming=True)
            if m.seated and m.brokerage and m.event is not None
            and m.event.status != "cancelled" and m.event.ends_at_utc > now
        ]  # fmt: skip
        found = await asyncio.gather(*(self.participant(e.event_id, other, actor) for e in seated))
        common = [(e, p) for e, p in zip(seated, found, strict=True) if p is not None]
        return [e for e, _ in common], (common[0][1] if common else None)

    async def request(
        self, me: SmeRef, other: SmeRef, event_id: str, message: str, priority: int, actor: Actor
    ) -> mt.Meeting:
        """Ask for a meeting at an event both attend; refused before it is sent otherwise
        (matching refuses it too: a side that is not a participant is not found there)."""
        if me.key == other.key:
            raise forbidden_field("a company does not meet itself", "data.receiver")
        common, _ = await self.in_common(me, other, actor)
        if event_id not in {e.event_id for e in common}:
            raise Refused(
                "validation_failed",
                "choose an event both companies attend",
                fields=[{"field": "data.event_id", "message": "choose an event both attend",
                         "type": "not_common"}],
            )  # fmt: skip
        asked = mt.RequestMeeting(
            event_id=event_id, requester=me, receiver=other, message=message, priority=priority
        )
        meeting: mt.Meeting = await self.call(mt.REQUEST_MEETING, asked, actor)
        return meeting

    # --- the requests inbox ------------------------------------------------------------------

    async def inbox(self, me: SmeRef, actor: Actor) -> Inbox:
        """Every meeting request the SME received or sent, at every brokerage event it is
        registered for, newest event first."""
        return await self.inbox_of(await self.my_events(me, actor), me, actor)

    async def inbox_of(self, registered: list[MyEvent], me: SmeRef, actor: Actor) -> Inbox:
        """The inbox at these of the SME's events (its my_events, read once by the caller).
        Each event is asked at its host region: one that is out of reach leaves its events'
        requests out (the inbox names it), not the other events' ones."""
        mine = [m for m in registered if m.brokerage]
        found = await asyncio.gather(*(self._requests_at(m, me, actor) for m in mine))
        inbox = Inbox()
        for m, rows in zip(mine, found, strict=True):
            if rows is None:
                host = m.event.region if m.event else m.registration.region
                if host not in inbox.out_of_reach:
                    inbox.out_of_reach.append(host)
                continue
            for inbox_row in rows:
                (inbox.received if inbox_row.received else inbox.sent).append(inbox_row)
        inbox.out_of_reach.sort()
        return inbox

    async def _requests_at(self, mine: MyEvent, me: SmeRef, actor: Actor) -> list[Row] | None:
        """The SME's requests at one event, named as the viewer may see them; None while the
        region hosting the event is out of reach."""
        event_id = mine.registration.event_id
        query = mt.ListMeetings(event_id=event_id, participant=me)
        try:
            meetings = await every(self.call, mt.LIST_MEETINGS, query, actor)
            named = await self.names_at(event_id, actor)
        except Refused as refusal:
            if refusal.code != "region_unavailable":
                raise
            return None
        return [row(meeting, mine.event, me, named) for meeting in meetings]

    async def report(
        self, meeting_id: str, outcome: str, me: SmeRef, actor: Actor, at: str | None = None
    ) -> Row:
        """The viewer's side's report of a meeting's outcome; the row as it now stands.
        ``at``: the region hosting the meeting's event."""
        told = mt.ReportMeetingOutcome.model_validate(
            {"meeting_id": meeting_id, "reporter": me, "outcome": outcome}
        )
        meeting: mt.Meeting = await self.call(mt.REPORT_MEETING_OUTCOME, told, actor, at=at)
        event, names = await asyncio.gather(
            self._event(meeting.event_id, actor), self.names_at(meeting.event_id, actor)
        )
        return row(meeting, event, me, names)

    async def names_at(self, event_id: str, actor: Actor) -> dict[str, str]:
        """The names of an event's participants as the viewer may see them (none if the
        viewer's seat is gone: the rows then say the region)."""
        query = mt.ListParticipants(event_id=event_id)
        try:
            found = await every(self.call, mt.LIST_PARTICIPANTS, query, actor)
        except Refused as refusal:
            if refusal.code not in ("forbidden", "not_found"):
                raise
            return {}
        return {p.sme.key: name_of(p) for p in found}

    async def answer(
        self, meeting_id: str, accept: bool, me: SmeRef, actor: Actor, at: str | None = None
    ) -> Row:
        """Accept or decline a request received; the row as it now stands. ``at``: the
        region hosting the meeting's event."""
        answer = mt.RespondMeeting(meeting_id=meeting_id, accept=accept, responder=me)
        meeting: mt.Meeting = await self.call(mt.RESPOND_MEETING, answer, actor, at=at)
        event, names = await asyncio.gather(
            self._event(meeting.event_id, actor), self.names_at(meeting.event_id, actor)
        )
        return row(meeting, event, me, names)


OUTCOMES: tuple[str, ...] = get_args(mt.Outcome)


def row(
    meeting: mt.Meeting, event: ev.EventDetails | None, me: SmeRef, names: dict[str, str]
) -> Row:
    received = meeting.receiver.key == me.key
    other = meeting.requester if received else meeting.receiver
    name = names.get(other.key, "")
    return Row(meeting=meeting, event=event, other=other, other_name=name, received=received)


def _viewer(actor: Actor) -> SmeRef | None:
    if actor.role != "sme" or actor.sme_id is None:
        return None
    return SmeRef(sme_id=actor.sme_id, region=actor.region)
