"""Events service: joint marketing calendar, brokerage events, training courses, registrations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import AwareDatetime, EmailStr, Field, HttpUrl

from .access import EVERYONE, STAFF
from .common import (
    SINGLE_LINE,
    CountryCode,
    Keyword,
    LanguageCode,
    LocalDateTime,
    Page,
    SearchText,
    SmeRef,
)
from .envelope import Payload
from .operations import command, event, query

EventKind = Literal[
    "conference",
    "trade_fair",
    "exhibition",
    "brokerage_event",
    "training_course",
    "cluster_workshop",
    "road_show",
    "webinar",
]
EventStatus = Literal["planned", "published", "cancelled"]
RegistrationStatus = Literal["confirmed", "waitlisted", "cancelled"]
ParticipationType = Literal["on_site", "remote"]


class BrokerageSetup(Payload):
    """Meeting slots are numbered from 0 across the days: slot ``d * slots_per_day + k`` is the
    k-th slot (from 0) of day d. ``get_event`` lists every slot with its times."""

    days: list[date] = Field(min_length=1, max_length=14)
    day_start: str = Field(pattern=r"^\d{2}:\d{2}$", description="Local time of the first slot")
    slots_per_day: int = Field(ge=1, le=96)
    slot_minutes: int = Field(ge=5, le=120)
    breaks_after_slot: list[int] = Field(
        default_factory=list,
        max_length=95,
        description="A break follows slot k of each day (k numbered from 0 within the day, "
        "so [3] is a break after the fourth slot) and lasts break_minutes",
    )
    break_minutes: int | None = Field(
        default=None, ge=5, le=240, description="Length of each break; none given: one slot"
    )
    tables: int = Field(ge=1, le=2000)
    registration_deadline: AwareDatetime
    participation_types: list[ParticipationType] = Field(
        default=["on_site"], min_length=1, max_length=2
    )
    max_meetings_per_participant: int | None = Field(default=None, ge=1)
    max_requests_per_participant: int | None = Field(default=None, ge=1)

    def slot_time(self, slot: int) -> tuple[datetime, datetime]:
        """Start and end of a slot, as wall time at the venue."""
        day, k = divmod(slot, self.slots_per_day)
        pause = self.slot_minutes if self.break_minutes is None else self.break_minutes
        breaks_before = sum(1 for b in set(self.breaks_after_slot) if b < k)
        start = datetime.combine(self.days[day], time.fromisoformat(self.day_start))
        start += timedelta(minutes=k * self.slot_minutes + breaks_before * pause)
        return start, start + timedelta(minutes=self.slot_minutes)

    def slots(self) -> list[SlotTime]:
        count = len(self.days) * self.slots_per_day
        return [
            SlotTime(slot=n, day=self.days[n // self.slots_per_day], starts_at=a, ends_at=b)
            for n in range(count)
            for a, b in [self.slot_time(n)]
        ]


class SlotTime(Payload):
    slot: int
    day: date
    starts_at: LocalDateTime
    ends_at: LocalDateTime


class CourseSetup(Payload):
    capacity: int = Field(ge=1)
    sessions: list[AwareDatetime] = Field(min_length=1, max_length=200)
    completion_min_sessions: int = Field(ge=1)


class CalendarEntryInput(Payload):
    partner_id: str = Field(min_length=1, description="Who publishes: a MAP or a partner system")
    external_id: str = Field(min_length=1, description="The publisher's own id; same id updates")
    kind: EventKind
    title: str = Field(min_length=3, max_length=300, pattern=SINGLE_LINE)
    description: str = Field(default="", max_length=20000)
    starts_at: LocalDateTime
    ends_at: LocalDateTime
    timezone: str = Field(description="IANA time zone, e.g. Europe/Tallinn")
    venue: str = Field(default="", max_length=300, pattern=SINGLE_LINE)
    city: str = Field(default="", max_length=200, pattern=SINGLE_LINE)
    country: CountryCode
    online_url: HttpUrl | None = None
    clusters: list[Keyword] = Field(default_factory=list, max_length=20)
    topics: list[Keyword] = Field(default_factory=list, max_length=20)
    organiser: str = Field(default="", max_length=300, pattern=SINGLE_LINE)
    language: LanguageCode = "en"
    url: HttpUrl | None = None
    visibility: Literal["region", "network"] = "network"
    status: EventStatus = "published"
    brokerage: BrokerageSetup | None = None
    course: CourseSetup | None = None
    capacity: int | None = Field(
        default=None, ge=1, description="Seats; a course's capacity is in course. None: no limit"
    )


class CalendarEntry(CalendarEntryInput):
    event_id: str
    region: str
    version: int
    starts_at_utc: AwareDatetime
    ends_at_utc: AwareDatetime
    updated_at: AwareDatetime


class EventDetails(CalendarEntry):
    """One entry as ``get_event`` answers it: a brokerage event with its meeting slots."""

    slots: list[SlotTime] = Field(
        default_factory=list, description="A brokerage event's slots, with their wall times"
    )


class PublishEvent(CalendarEntryInput):
    pass


class CancelEvent(Payload):
    event_id: str
    reason: str = Field(min_length=1)


class RegisterParticipant(Payload):
    event_id: str
    person_name: str = Field(min_length=1, max_length=200, pattern=SINGLE_LINE)
    email: EmailStr
    sme: SmeRef | None = None
    participation: ParticipationType = "on_site"
    language: LanguageCode = Field(default="en", description="For the mails the person gets")


class CancelRegistration(Payload):
    registration_id: str


class RecordAttendance(Payload):
    registration_id: str
    session: int = Field(
        default=0, ge=0, description="Index of the course session or brokerage day attended"
    )


class Registration(Payload):
    registration_id: str
    event_id: str
    person_name: str
    email: EmailStr
    language: LanguageCode = "en"
    sme: SmeRef | None
    participation: ParticipationType = "on_site"
    status: RegistrationStatus
    position: int | None = Field(default=None, description="Place on the waitlist, from 1")
    attended_sessions: list[int] = Field(default_factory=list)
    completed: bool = Field(default=False, description="A course's completion criteria were met")
    registered_at: AwareDatetime


class RegistrationFact(Payload):
    """A registration as the events about it tell it: without the person's name, address or
    language. Streams keep what they are sent, and an erasure cannot reach into them; the person
    stays with the events service, where it can (``get_registrations`` gives them to whoever must
    write to them)."""

    registration_id: str
    event_id: str
    sme: SmeRef | None
    participation: ParticipationType = "on_site"
    status: RegistrationStatus
    position: int | None = Field(default=None, description="Place on the waitlist, from 1")
    attended_sessions: list[int] = Field(default_factory=list)
    completed: bool = False
    registered_at: AwareDatetime


class GuestRegistration(Payload):
    """A registration at this region's event of an SME of another region, as it now stands,
    for that SME's home region to keep a copy of (its contacts' "my events" list it there):
    without the person, as every fact about a registration."""

    registration: RegistrationFact
    region: str = Field(description="The event's region (the host), which holds the registration")
    version: int = Field(
        ge=1,
        description="The registration's version at the host, one higher at each change: a copy "
        "keeps the highest it heard (a fact heard again, or late, changes nothing)",
    )


class SmeRegistration(RegistrationFact):
    """One of an SME's registrations as its home region lists them, at its own region's events
    or at another region's (a copy of the host's): what "my events" shows, without the person
    (the host keeps who registered, and writes to them)."""

    region: str = Field(
        description="The event's region, which holds the registration: cancel it there"
    )


class SmeRegistrationPage(Payload):
    items: list[SmeRegistration]
    next_cursor: str | None = None


class GetRegistrations(Payload):
    registration_ids: list[str] = Field(min_length=1, max_length=100)


class GetEvent(Payload):
    event_id: str


class ListCalendar(Page):
    period_from: AwareDatetime | None = Field(
        default=None, description="Entries still on at or after this instant"
    )
    period_to: AwareDatetime | None = Field(
        default=None, description="Entries starting before this instant"
    )
    region: str | None = Field(default=None, max_length=40)
    country: CountryCode | None = None
    kind: EventKind | None = None
    cluster: Keyword | None = None
    topic: Keyword | None = None
    text: SearchText | None = None


class CalendarPage(Payload):
    items: list[CalendarEntry]
    next_cursor: str | None = None
    clusters: list[str] = Field(
        default_factory=list,
        description="The clusters of the calendar's entries not over yet, every entry's (not "
        "only this page's), by name: what a filter by cluster may offer. Capped: the 100 "
        "clusters with the most entries (not cancelled or withdrawn; ties by name), fewer if "
        "their names pass 8,000 bytes",
    )


class GetIcal(ListCalendar):
    email: EmailStr | None = Field(default=None, description="One person's registrations instead")


class IcalDocument(Payload):
    # An answer, not an input: as long as the calendar is (the message size bounds it).
    ical: str = Field(max_length=2**31, description="RFC 5545 text/calendar")


class ListRegistrations(Page):
    event_id: str
    status: RegistrationStatus | None = None


class ListSmeRegistrations(Page):
    """One SME's registrations, asked of its home region: at that region's events and at
    other regions' (a contact's "my events")."""

    sme: SmeRef
    include_cancelled: bool = Field(
        default=False, description="False: only seats and waitlist places"
    )
    upcoming: bool = Field(
        default=False,
        description="True: only registrations for events not over yet (the event's end, in "
        "UTC, after now, as the events service's clock says, from its calendar: this region's "
        "entries and its copies of the other regions' network entries; an event it has no entry "
        "of is not upcoming); False: every event, past ones too",
    )


class RegistrationPage(Payload):
    items: list[Registration]
    next_cursor: str | None = None


class EventPublished(CalendarEntry):
    pass


class EntryUnshared(Payload):
    """The entry is no longer for the network (made region-only): other regions drop it."""

    event_id: str
    region: str
    version: int


class EventCancelled(Payload):
    event_id: str
    region: str
    reason: str


class RegistrationChanged(Payload):
    registration: RegistrationFact
    region: str


class TrainingCompleted(Payload):
    event_id: str
    region: str
    registration_id: str
    sme: SmeRef | None


S = "events"
PUBLISH_EVENT = command(
    S,
    "publish_event",
    PublishEvent,
    CalendarEntry,
    "Add or update an entry",
    roles=(*STAFF, "organiser", "partner", "operator"),
    refusals={
        "forbidden": (
            "a partner publishes only under its own partner_id; an organiser changes only their "
            "own events (actor.event_ids); staff publish only in their own region"
        ),
        "not_home": (
            "this publisher's entry with this external_id is another region's read copy: only "
            "details.region publishes it"
        ),
        "conflict": "the entry changed meanwhile, or is cancelled; read it and send again",
        "validation_failed": (
            "also an unknown time zone, a wall time the clocks skip there, an end before the "
            "start, a set-up that does not fit the kind"
        ),
    },
)
CANCEL_EVENT = command(
    S,
    "cancel_event",
    CancelEvent,
    CalendarEntry,
    "Cancel an entry",
    roles=(*STAFF, "organiser", "partner"),
    refusals={
        "not_found": "no event with this id",
        "not_home": "the event is another region's read copy; send the command to details.region",
        "forbidden": (
            "a partner cancels only its own entries; an organiser only their events; staff only "
            "their own region's"
        ),
        "conflict": "the event is over",
    },
)
REGISTER_PARTICIPANT = command(
    S,
    "register_participant",
    RegisterParticipant,
    Registration,
    "Register a person",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": "no event with this id",
        "not_home": "the event is another region's; send the command to details.region",
        "conflict": "the event is cancelled or over",
        "duplicate": "this person is registered for the event already (details.registration_id)",
        "forbidden": (
            "a contact registers only themself (data.email = the address they act as) for their "
            "own SME (data.sme); an organiser only at their own events; staff of another region "
            "only people of their own region's SMEs"
        ),
        "validation_failed": (
            "also: registration closed at the deadline, or a participation type the event does not"
            " take"
        ),
    },
)
CANCEL_REGISTRATION = command(
    S,
    "cancel_registration",
    CancelRegistration,
    Registration,
    "Cancel a registration",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": "no registration with this id",
        "not_home": "the registration is another region's; send the command to details.region",
        "conflict": "the registration is cancelled already",
        "forbidden": (
            "a contact cancels only their own SME's registrations; an organiser only at their "
            "own events; staff of another region only their own region's SMEs'"
        ),
    },
)
RECORD_ATTENDANCE = command(
    S,
    "record_attendance",
    RecordAttendance,
    Registration,
    "Record check-in",
    roles=(*STAFF, "organiser"),
    refusals={
        "not_found": "no registration with this id",
        "conflict": "the registration is not confirmed",
        "forbidden": "an organiser checks in only at their own events; staff only in their region",
        "validation_failed": "also: no such session or brokerage day",
    },
)
GET_EVENT = query(
    S,
    "get_event",
    GetEvent,
    EventDetails,
    "One calendar entry; a brokerage event with its slots",
    network=True,
    roles=EVERYONE,
    refusals={"not_found": "no event with this id here (nor a read copy of one)"},
)
LIST_CALENDAR = query(
    S,
    "list_calendar",
    ListCalendar,
    CalendarPage,
    "The joint calendar",
    network=True,
    roles=EVERYONE,
)
GET_ICAL = query(
    S,
    "get_ical",
    GetIcal,
    IcalDocument,
    "The calendar as RFC 5545 iCalendar: every entry of the filter (limit and cursor are not "
    "used: a subscribed calendar asks for no next page)",
    network=True,
    roles=EVERYONE,
    refusals={
        "forbidden": (
            "with data.email, a person's registrations: only to that person (actor.id), to this "
            "region's staff and to MAPnet's services"
        ),
        "validation_failed": (
            "also: the calendar is larger than one answer of the bus carries (details.max_bytes):"
            " narrow it by period, region, country, kind or cluster; it is never cut"
        ),
    },
)
LIST_REGISTRATIONS = query(
    S,
    "list_registrations",
    ListRegistrations,
    RegistrationPage,
    "Registrations of an event",
    roles=(*STAFF, "organiser"),
    refusals={
        "not_found": "no event with this id",
        "forbidden": "an organiser lists only their own events; staff only their own region's",
    },
)
LIST_SME_REGISTRATIONS = query(
    S,
    "list_sme_registrations",
    ListSmeRegistrations,
    SmeRegistrationPage,
    "One SME's registrations, asked of the SME's home region: at its events and at other "
    "regions' (each item's region holds it; those copied from there as the host last told, "
    "eventually), seats and waitlist places (waitlist positions as they now are), newest "
    "first (by registered_at), one cursor across both, a page at a time; data.upcoming and "
    "data.include_cancelled apply to both. No person: the host keeps who registered",
    roles=(*STAFF, "sme"),
    refusals={
        "forbidden": (
            "a contact lists only their own SME's registrations (data.sme); staff only their "
            "own region's (staff of another region ask nothing here, their region lists its "
            "own SMEs')"
        ),
    },
)

GET_REGISTRATIONS = query(
    S,
    "get_registrations",
    GetRegistrations,
    RegistrationPage,
    "Registrations by id, with their people (those erased left out)",
    roles=(*STAFF, "service"),
    refusals={"forbidden": "staff of another region"},
)

EVENT_PUBLISHED = event(S, "event_published", EventPublished, "An entry was published or updated")
EVENT_CANCELLED = event(S, "event_cancelled", EventCancelled, "An entry was cancelled")
ENTRY_SHARED = event(
    S, "entry_shared", CalendarEntry, "A network entry as it now stands", shared=True
)
ENTRY_UNSHARED = event(
    S, "entry_unshared", EntryUnshared, "An entry was made region-only", shared=True
)
REGISTRATION_CONFIRMED = event(S, "registration_confirmed", RegistrationChanged, "Seat confirmed")
REGISTRATION_WAITLISTED = event(S, "registration_waitlisted", RegistrationChanged, "Waitlisted")
REGISTRATION_CANCELLED = event(S, "registration_cancelled", RegistrationChanged, "Cancelled")
ATTENDANCE_RECORDED = event(S, "attendance_recorded", RegistrationChanged, "Checked in")
GUEST_REGISTRATION_CHANGED = event(
    S,
    "guest_registration_changed",
    GuestRegistration,
    "A registration at this region's event of an SME of another region changed (confirmed, "
    "waitlisted, promoted, cancelled, moved on the waitlist, checked in), with the same write: "
    "the SME's home region keeps its copy (never about this region's own SMEs, never a "
    "person's name, address or language)",
    shared=True,
)
TRAINING_COMPLETED = event(S, "training_completed", TrainingCompleted, "A course was completed")
