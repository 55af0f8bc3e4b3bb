"""Matching service: partner search and the bilateral meetings of brokerage events."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from .access import STAFF
from .common import CountryCode, Keyword, NaceCode, Page, SearchText, SmeRef
from .envelope import Payload
from .ids import RegionId
from .operations import command, event, query
from .registry import ProfileType, SizeClass

MeetingStatus = Literal["requested", "accepted", "declined", "cancelled"]
Outcome = Literal[
    "did_not_take_place",
    "insufficient_interest",
    "informative_no_cooperation",
    "cooperation_possible",
]


class FindPartners(Page):
    seeker: SmeRef
    profile_id: str | None = Field(default=None, description="Search for one profile")
    country: CountryCode | None = None
    region: str | None = Field(default=None, max_length=40)
    profile_type: ProfileType | None = None
    nace: NaceCode | None = None
    cluster: Keyword | None = None
    size_class: SizeClass | None = None


class PartnerMatch(Payload):
    sme: SmeRef
    legal_name: str
    profile_id: str
    profile_type: ProfileType
    title: str
    score: float
    reasons: list[str] = Field(description="The terms and criteria that counted")
    country: CountryCode | None = Field(
        default=None, description="Where the partner is based (its market, for the guide's link)"
    )


class PartnerPage(Payload):
    items: list[PartnerMatch]
    next_cursor: str | None = None
    clusters: list[str] = Field(
        default_factory=list,
        description="The clusters of the companies whose profiles the search reads (the "
        "network's, as this region knows them), by name: what a filter by cluster may offer",
    )


class RequestMeeting(Payload):
    event_id: str
    requester: SmeRef
    receiver: SmeRef
    message: str = Field(default="", max_length=2000)
    priority: int = Field(default=2, ge=1, le=3, description="1 low, 3 high")
    remote: bool = False


class RespondMeeting(Payload):
    meeting_id: str
    accept: bool
    responder: SmeRef


class CancelMeeting(Payload):
    meeting_id: str
    by: SmeRef
    reason: str = ""


class SetAvailability(Payload):
    event_id: str
    participant: SmeRef
    slots: list[int] = Field(
        max_length=14 * 96, description="Slot numbers (0 = the first slot of the first day)"
    )


class Availability(Payload):
    event_id: str
    participant: SmeRef
    slots: list[int]


class GetAvailability(Payload):
    event_id: str
    participant: SmeRef


class AvailabilityNow(Availability):
    given: bool = Field(description="False: never set, so the participant can meet in every slot")


class LockMeeting(Payload):
    meeting_id: str
    locked: bool = True
    slot: int | None = Field(
        default=None, ge=0, description="Where to fix it; default: where it is"
    )
    table: int | None = Field(default=None, ge=0)


class ScheduleEvent(Payload):
    event_id: str
    time_limit_s: float = Field(default=30, gt=0, le=600)


# A participant reports a meeting's outcome from the event's first slot until this many days
# after its last one.
REPORT_DAYS = 30


class ReportMeetingOutcome(Payload):
    """A participant's own word on what a meeting led to: once per side."""

    meeting_id: str
    reporter: SmeRef
    outcome: Outcome


class OutcomeReport(Payload):
    by: SmeRef
    outcome: Outcome
    reported_at: AwareDatetime


class RecordMeetingOutcome(Payload):
    meeting_id: str
    outcome: Outcome
    note: str = ""


class Meeting(Payload):
    meeting_id: str
    event_id: str
    requester: SmeRef
    receiver: SmeRef
    status: MeetingStatus
    priority: int
    remote: bool
    mutual: bool = Field(default=False, description="Both sides asked for this meeting")
    message: str = Field(
        default="",
        description="The requester's words. Empty in the meeting events: people's words stay "
        "out of the streams, which an erasure cannot reach (get_meeting gives them)",
    )
    slot: int | None = Field(default=None, description="Where the published schedule has it")
    table: int | None = Field(default=None, description="Table of the published schedule")
    locked: bool = False
    locked_slot: int | None = Field(
        default=None, description="With locked: the slot the organiser fixed it at"
    )
    locked_table: int | None = Field(
        default=None, description="With locked: the table it is fixed at (none when remote)"
    )
    outcome: Outcome | None = None
    reports: list[OutcomeReport] = Field(
        default_factory=list,
        description="The participants' own reports of the outcome, one per side at most: both "
        "to the event's organisers and staff, to a contact only their own side's; none in the "
        "meeting events",
    )
    version: int = 1


class ListMeetings(Page):
    event_id: str
    participant: SmeRef | None = Field(
        default=None, description="Meetings this participant asked for or was asked to"
    )
    status: MeetingStatus | None = None


class MeetingPage(Payload):
    items: list[Meeting]
    next_cursor: str | None = None


class GetMeeting(Payload):
    meeting_id: str


class ListParticipants(Page):
    """A brokerage event's marketplace: who comes and what each offers and seeks."""

    event_id: str
    country: CountryCode | None = None
    cluster: Keyword | None = None
    profile_type: ProfileType | None = Field(
        default=None, description="Participants with a profile of this kind"
    )
    text: SearchText | None = Field(
        default=None, description="Words all found in the name, description or a profile"
    )
    sme: SmeRef | None = Field(default=None, description="Only this participant, if it comes")


class ParticipantProfile(Payload):
    """A published cooperation profile as the marketplace shows it."""

    profile_id: str
    type: ProfileType
    title: str
    summary: str
    keywords: list[str] = Field(default_factory=list)
    target_countries: list[str] = Field(default_factory=list)


class Participant(Payload):
    """A confirmed participant, without personal data: no person, address or mail. A company
    that does not share itself with the network is shown to another region's people only as a
    participant of its region (``legal_name`` empty, no profiles)."""

    sme: SmeRef
    legal_name: str = ""
    country: CountryCode | None = None
    clusters: list[str] = Field(default_factory=list)
    description: str = ""
    remote: bool = False
    profiles: list[ParticipantProfile] = Field(
        default_factory=list, description="Published, unexpired, not private"
    )


class ParticipantPage(Payload):
    items: list[Participant]
    next_cursor: str | None = None
    total: int = Field(description="Participants of the filter, on every page together")
    countries: list[str] = Field(description="The countries of the event's participants")
    clusters: list[str] = Field(description="The clusters of the event's participants")


class GetSchedule(Payload):
    event_id: str
    participant: SmeRef | None = None
    table: int | None = None
    format: Literal["json", "ical"] = "json"


class ScheduledMeeting(Payload):
    meeting_id: str
    slot: int
    starts_at: AwareDatetime = Field(description="The instant the slot starts (UTC)")
    ends_at: AwareDatetime
    table: int | None
    participants: list[SmeRef]
    room_url: str | None = Field(
        default=None,
        description="A remote meeting's private room (from the region's MAPNET_MEETING_ROOM_URL),"
        " only in get_schedule's answers from the host region to its two sides, the event's "
        "organisers and staff; never in an event",
    )


class Schedule(Payload):
    event_id: str
    region: str
    version: int
    meetings: list[ScheduledMeeting]
    unscheduled: list[str] = Field(default_factory=list)
    bound: int | None = Field(
        default=None,
        description="Proven upper bound on the meetings any schedule of the event could hold "
        "(the optimum of the relaxed problem): how close this schedule came",
    )
    ical: str | None = Field(default=None, max_length=2**31, description="RFC 5545")


class PlaceMeeting(Payload):
    """An accepted meeting put at a slot and table by hand: one the schedule left out, or one
    moved. Checked against both participants' agendas and free slots, the tables and the cap."""

    meeting_id: str
    slot: int = Field(ge=0)
    table: int | None = Field(default=None, ge=0, description="None for a remote meeting")


class MeetingPlaced(Payload):
    event_id: str
    region: str
    version: int = Field(description="The schedule's version with it")
    meeting: ScheduledMeeting
    previous: ScheduledMeeting | None = Field(
        default=None, description="Where it was; none: it is added to the schedule"
    )


class GetUnplaced(Payload):
    event_id: str


UnplacedReason = Literal[
    "no_common_slot", "cap_reached", "agendas_full", "no_table", "locked_clash", "run_again"
]  # fmt: skip
UnplacedChange = Literal["run_again", "lift_cap", "one_more_table", "one_more_slot"]


class UnplacedRemedy(Payload):
    changes: list[UnplacedChange] = Field(
        description="What to change (run_again: nothing but the scheduler once more; lift_cap: "
        "the meetings per participant by one; one_more_table; one_more_slot: a slot both sides "
        "can meet in, e.g. where a break is)"
    )
    slot: int = Field(description="Where it would then go; the event's slot count: an added slot")
    table: int | None = Field(description="Its table then (the event's table count: an added one)")


class UnplacedRequest(Payload):
    meeting_id: str
    requester: SmeRef
    receiver: SmeRef
    priority: int
    remote: bool
    reasons: list[UnplacedReason] = Field(
        description="no_common_slot: the two share no free slot; cap_reached: a side holds the "
        "most meetings a participant may (at_cap); agendas_full: in every slot both can meet "
        "in, one meets someone else; no_table: in a slot both are free every table is taken; "
        "locked_clash: fixed where it cannot be held; run_again: the event has room for it"
    )
    at_cap: list[SmeRef] = Field(default_factory=list)
    common_slots: int = Field(description="Slots both sides can meet in")
    remedies: list[UnplacedRemedy] = Field(
        description="Each checked as a schedule is: with it, the meeting fits and no other moves"
    )


class UnplacedRequests(Payload):
    event_id: str
    version: int = Field(description="The schedule explained")
    placed: int
    bound: int | None = Field(description="No schedule of the event holds more (proven)")
    items: list[UnplacedRequest]


class GetMeetingKpis(Payload):
    event_id: str | None = Field(default=None, description="One event, or all of the region")


class MeetingCounts(Payload):
    contacts_brokered: int = Field(description="Accepted meeting requests")
    meetings_held: int = Field(description="Meetings whose outcome says they took place")
    cooperation_possible: int


class MeetingKpis(Payload):
    region: str
    total: MeetingCounts
    by_region: dict[str, MeetingCounts] = Field(
        description="By each side's region: a meeting between two regions' SMEs is in both rows"
    )
    by_cluster: dict[str, MeetingCounts]
    across_regions: MeetingCounts | None = Field(
        default=None,
        description="Meetings between SMEs of two different regions (trans-national contacts), "
        "each once; none from a matching service that predates it",
    )


class MeetingChanged(Payload):
    meeting: Meeting
    region: str


class SchedulePublished(Schedule):
    pass


class ScheduleChanged(Schedule):
    """The published schedule as it is after a change that mails no one its whole agenda: a
    meeting placed or moved by hand, or a scheduled meeting cancelled. The other regions keep
    their copies (their SMEs' agendas) by it; the host's participants are told of the one
    meeting by its own event."""


class MeetingHeld(Payload):
    """A meeting at this region's brokerage event with at least one SME of another region
    took place (its outcome says so), told to every region so that each side's home region asks
    its own SME for feedback (the survey, the answer and the mail stay there; a meeting between
    two SMEs of this region is not told: it is surveyed here, from its outcome). It holds only
    what the event's published schedule shares already (the meeting, its event and its two
    SMEs, each a region and an id): not the outcome, nor anyone's name or words."""

    meeting_id: str = Field(min_length=1, max_length=200)
    event_id: str = Field(min_length=1, max_length=200)
    region: RegionId = Field(description="The region whose brokerage event it was: the publisher")
    participants: list[SmeRef] = Field(
        min_length=2, max_length=2, description="The requester, then the receiver"
    )


S = "matching"
REQUEST_MEETING = command(
    S,
    "request_meeting",
    RequestMeeting,
    Meeting,
    "Ask for a meeting",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": (
            "no such brokerage event, or a side is not its confirmed participant (after up to 3 s "
            "for this region's copy to catch up)"
        ),
        "conflict": (
            "the event is cancelled, requests closed at the deadline, or the requester sent the "
            "requests the event allows"
        ),
        "duplicate": "a meeting between the two exists (details.existing_meeting_id)",
        "validation_failed": "also: a meeting with oneself",
        "forbidden": (
            "a contact asks only as their own SME (data.requester); an organiser only at their "
            "events; staff of another region only for their own region's SMEs"
        ),
    },
)
RESPOND_MEETING = command(
    S,
    "respond_meeting",
    RespondMeeting,
    Meeting,
    "Accept or decline",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": "no meeting with this id",
        "forbidden": (
            "only the receiver answers a request, a contact only as their own SME; an organiser "
            "only at their events; staff of another region only for their own region's SMEs"
        ),
        "conflict": "the meeting is no longer a request",
    },
)
CANCEL_MEETING = command(
    S,
    "cancel_meeting",
    CancelMeeting,
    Meeting,
    "Cancel a meeting",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": "no meeting with this id",
        "forbidden": (
            "only the two participants cancel a meeting, a contact only as their own SME; an "
            "organiser only at their events; staff of another region only for their region's SMEs"
        ),
        "conflict": "the meeting is cancelled or declined already",
    },
)
SCHEDULE_EVENT = command(
    S,
    "schedule_event",
    ScheduleEvent,
    Schedule,
    "Build the schedule",
    roles=(*STAFF, "organiser"),
    refusals={
        "not_found": "no such brokerage event",
        "conflict": "another run built the schedule meanwhile; run it again",
        "forbidden": "an organiser schedules only their own events; staff only their region's",
    },
)
RECORD_MEETING_OUTCOME = command(
    S,
    "record_meeting_outcome",
    RecordMeetingOutcome,
    Meeting,
    "What a meeting led to",
    roles=(*STAFF, "organiser"),
    refusals={
        "not_found": "no meeting with this id",
        "conflict": "the meeting was not held (not accepted)",
        "forbidden": "an organiser records only their events' outcomes; staff only their region's",
    },
)
REPORT_MEETING_OUTCOME = command(
    S,
    "report_meeting_outcome",
    ReportMeetingOutcome,
    Meeting,
    "A participant reports what a meeting led to (the organisers' four outcomes), once, from "
    f"the event's first slot until {REPORT_DAYS} days after its last",
    network=True,
    roles=("sme",),
    refusals={
        "not_found": "no meeting with this id",
        "forbidden": "only the two participants report, a contact only as their own SME",
        "conflict": (
            "the meeting was not accepted; the event has not begun (details.opens_at) or the "
            "time to report has ended (details.closes_at); this side reported already "
            "(details.reported)"
        ),
    },
)
SET_AVAILABILITY = command(
    S,
    "set_availability",
    SetAvailability,
    Availability,
    "Slots a participant can meet in",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": (
            "no such brokerage event, or not its confirmed participant (after up to 3 s for this "
            "region's copy to catch up)"
        ),
        "validation_failed": "also: slots the event does not have",
        "forbidden": (
            "a contact sets only their own SME's availability; an organiser only at their events; "
            "staff of another region only their own region's SMEs'"
        ),
    },
)
GET_AVAILABILITY = query(
    S,
    "get_availability",
    GetAvailability,
    AvailabilityNow,
    "Slots a participant can meet in",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": "no such brokerage event, or not its confirmed participant",
        "forbidden": (
            "a contact reads only their own SME's availability; an organiser only at their "
            "events; staff of another region only their own region's SMEs'"
        ),
    },
)
LOCK_MEETING = command(
    S,
    "lock_meeting",
    LockMeeting,
    Meeting,
    "Fix a meeting's slot and table",
    roles=(*STAFF, "organiser"),
    refusals={
        "not_found": "no meeting with this id, or its event",
        "conflict": "only accepted meetings are locked",
        "validation_failed": (
            "also: a slot or table the event does not have, or no table for an on-site meeting"
        ),
        "forbidden": "an organiser locks only their events' meetings; staff only their region's",
    },
)
LIST_MEETINGS = query(
    S,
    "list_meetings",
    ListMeetings,
    MeetingPage,
    "A brokerage event's meeting requests",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": "no such brokerage event",
        "forbidden": (
            "a contact lists only their own SME's meetings (data.participant); an organiser only "
            "their events'; staff only their own region's"
        ),
    },
)
GET_MEETING = query(
    S,
    "get_meeting",
    GetMeeting,
    Meeting,
    "One meeting, with its message",
    network=True,
    roles=(*STAFF, "organiser", "sme", "service"),
    refusals={
        "not_found": "no meeting with this id",
        "forbidden": (
            "a contact reads only their own SME's meetings; an organiser their events'; staff "
            "only their own region's"
        ),
    },
)
LIST_PARTICIPANTS = query(
    S,
    "list_participants",
    ListParticipants,
    ParticipantPage,
    "A brokerage event's marketplace: its confirmed participants with their published "
    "profiles, no personal data, a page at a time",
    network=True,
    roles=(*STAFF, "organiser", "sme"),
    refusals={
        "not_found": "no such brokerage event",
        "forbidden": (
            "a contact reads it only while their own SME has a seat at the event; an organiser "
            "only at their events; staff only their own region's"
        ),
    },
)
GET_MEETING_KPIS = query(
    S,
    "get_meeting_kpis",
    GetMeetingKpis,
    MeetingKpis,
    "Contacts, meetings, cooperation",
    # service: the reports service asks it for the region's monthly figures.
    roles=(*STAFF, "organiser", "steering", "service"),
    refusals={"forbidden": "an organiser reads only one of their own events (data.event_id)"},
)
FIND_PARTNERS = query(
    S,
    "find_partners",
    FindPartners,
    PartnerPage,
    "Ranked partners",
    network=True,
    roles=(*STAFF, "sme"),
    refusals={
        "not_found": "the seeking SME or profile is not known here",
        "forbidden": (
            "a contact seeks only as their own SME (data.seeker); staff of another region only "
            "for their own region's SMEs"
        ),
    },
)
GET_SCHEDULE = query(
    S,
    "get_schedule",
    GetSchedule,
    Schedule,
    "A brokerage event's schedule",
    network=True,
    roles=(*STAFF, "organiser", "sme", "service"),
    refusals={
        "not_found": "no such brokerage event, or no schedule built yet",
        "forbidden": (
            "a contact reads only their own SME's agenda (data.participant); an organiser only "
            "their events'; staff of another region only their own region's SMEs' agendas"
        ),
    },
)

PLACE_MEETING = command(
    S,
    "place_meeting",
    PlaceMeeting,
    MeetingPlaced,
    "Add an accepted meeting to the schedule, or move one, by hand",
    roles=(*STAFF, "organiser"),
    refusals={
        "not_found": "no meeting with this id, or no schedule built yet",
        "conflict": (
            "not accepted, locked (unlock it first), or the place breaks the schedule: a side "
            "meets someone else then or cannot meet then, the table is taken, a cap is reached "
            "(details.problems names each)"
        ),
        "validation_failed": "also: no table for an on-site meeting, or a table for a remote one",
        "forbidden": "an organiser places only their events' meetings; staff only their region's",
    },
)
GET_UNPLACED = query(
    S,
    "get_unplaced",
    GetUnplaced,
    UnplacedRequests,
    "The accepted requests the schedule left out: why, and what would place each",
    roles=(*STAFF, "organiser"),
    refusals={
        "not_found": "no such brokerage event, or no schedule built yet",
        "forbidden": "an organiser reads only their events'; staff only their own region's",
    },
)

MEETING_REQUESTED = event(S, "meeting_requested", MeetingChanged, "A meeting was requested")
MEETING_ACCEPTED = event(S, "meeting_accepted", MeetingChanged, "A meeting was accepted")
MEETING_DECLINED = event(S, "meeting_declined", MeetingChanged, "A meeting was declined")
MEETING_CANCELLED = event(S, "meeting_cancelled", MeetingChanged, "A meeting was cancelled")
SCHEDULE_PUBLISHED = event(
    S, "schedule_published", SchedulePublished, "A schedule was published", shared=True
)
SCHEDULE_CHANGED = event(
    S,
    "schedule_changed",
    ScheduleChanged,
    "A published schedule changed: a meeting placed or moved by hand, or a scheduled meeting "
    "cancelled (its new version, for the other regions' copies)",
    shared=True,
)
MEETING_PLACED = event(
    S,
    "meeting_placed",
    MeetingPlaced,
    "A meeting was added to the schedule or moved by hand (its two participants are told)",
)
MEETING_OUTCOME_RECORDED = event(
    S, "meeting_outcome_recorded", MeetingChanged, "A meeting's outcome was recorded"
)
# Shared: a meeting at one region's event between SMEs of other regions is surveyed by each
# SME's home region (reports). The outcome itself stays in the host region's stream.
MEETING_HELD = event(
    S,
    "meeting_held",
    MeetingHeld,
    "A meeting at this region's brokerage event with an SME of another region took place "
    "(recorded once its outcome first says so): each side's home region opens its SME's "
    "feedback survey",
    shared=True,
)
