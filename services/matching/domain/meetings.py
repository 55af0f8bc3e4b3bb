"""A bilateral meeting between two participants of a brokerage event: requested, accepted or
declined by the receiver, cancelled by either side, locked in place by the organiser, and after
the event given an outcome. No I/O: the rules and the events they cause."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts import matching as c
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.events import BrokerageSetup

ACTIVE = ("requested", "accepted")
# The outcomes that say a meeting took place.
HELD = frozenset({"insufficient_interest", "informative_no_cooperation", "cooperation_possible"})


def key(ref: SmeRef) -> str:
    return ref.key


def pair_key(event_id: str, a: SmeRef, b: SmeRef) -> str:
    """The same for A→B and B→A: one meeting per pair and event."""
    first, second = sorted((key(a), key(b)))
    return f"{event_id}|{first}|{second}"


def _field(name: str, message: str) -> Refused:
    return Refused(
        "validation_failed",
        f"data.{name}: {message}",
        fields=[{"field": f"data.{name}", "message": message, "type": "value_error"}],
    )


@dataclass
class Brokerage:
    """What matching knows of a brokerage event, from the events service."""

    event_id: str
    region: str
    setup: dict[str, Any]
    timezone: str
    cancelled: bool = False

    @property
    def deadline(self) -> datetime:
        return datetime.fromisoformat(self.setup["registration_deadline"])

    @property
    def slots(self) -> int:
        return int(self.setup["slots_per_day"]) * len(self.setup["days"])

    def check_open(self, now: datetime) -> None:
        if self.cancelled:
            raise Refused("conflict", f"event {self.event_id} is cancelled")
        if now >= self.deadline:
            raise Refused(
                "conflict",
                f"meeting requests closed at {self.deadline.isoformat()}",
                deadline=self.deadline.isoformat(),
            )


@dataclass
class Meeting:
    meeting_id: str
    event_id: str
    region: str
    requester: SmeRef
    receiver: SmeRef
    priority: int
    remote: bool
    message: str = ""
    status: str = "requested"
    mutual: bool = False
    locked: bool = False
    lock_slot: int | None = None
    lock_table: int | None = None
    outcome: str | None = None
    reports: list[c.OutcomeReport] = field(default_factory=list)
    version: int = 1
    events: list[tuple[Any, Any]] = field(default_factory=list)

    @classmethod
    def request(
        cls,
        meeting_id: str,
        event: Brokerage,
        data: c.RequestMeeting,
        remote_participant: bool,
        sent_so_far: int,
        now: datetime,
    ) -> Meeting:
        if key(data.requester) == key(data.receiver):
            raise _field("receiver", "a participant cannot meet themselves")
        event.check_open(now)
        cap = event.setup.get("max_requests_per_participant")
        if cap is not None and sent_so_far >= cap:
            raise Refused(
                "conflict",
                f"{key(data.requester)} has sent the {cap} requests this event allows",
                cap=cap,
            )
        meeting = cls(
            meeting_id=meeting_id,
            event_id=event.event_id,
            region=event.region,
            requester=data.requester,
            receiver=data.receiver,
            priority=data.priority,
            remote=data.remote or remote_participant,
            message=data.message,
        )
        meeting._record(c.MEETING_REQUESTED)
        return meeting

    def _record(self, op: Any) -> None:
        # Without the message: the streams keep what they are sent, beyond an erasure's reach;
        # without the participants' reports, each side's own word for the organisers.
        told = self.view().model_copy(update={"message": "", "reports": []})
        self.events.append((op, c.MeetingChanged(meeting=told, region=self.region)))

    def _change(self, op: Any) -> None:
        self.version += 1
        self._record(op)

    def asked_back(self, by: SmeRef, priority: int) -> None:
        """The receiver asked for the same meeting: both want it, so it is accepted."""
        if self.status != "requested" or key(by) != key(self.receiver):
            raise Refused(
                "duplicate",
                "a meeting between these participants already exists",
                existing_meeting_id=self.meeting_id,
            )
        self.status, self.mutual = "accepted", True
        self.priority = max(self.priority, priority)
        self._change(c.MEETING_ACCEPTED)

    def respond(self, responder: SmeRef, accept: bool) -> None:
        if key(responder) != key(self.receiver):
            raise Refused("forbidden", "only the receiver answers a meeting request")
        if self.status != "requested":
            raise Refused("conflict", f"meeting {self.meeting_id} is {self.status}")
        self.status = "accepted" if accept else "declined"
        self._change(c.MEETING_ACCEPTED if accept else c.MEETING_DECLINED)

    def cancel(self, by: SmeRef, organiser: bool = False) -> None:
        if not organiser and key(by) not in (key(self.requester), key(self.receiver)):
            raise Refused("forbidden", "only the two participants cancel a meeting")
        if self.status not in ACTIVE:
            raise Refused("conflict", f"meeting {self.meeting_id} is {self.status}")
        self.status, self.locked = "cancelled", False
        self._change(c.MEETING_CANCELLED)

    def lock(self, locked: bool, slot: int | None, table: int | None, slots: int) -> None:
        if self.status != "accepted":
            raise Refused("conflict", f"only accepted meetings are locked; this is {self.status}")
        if locked and slot is None:
            raise _field("slot", "where should the meeting be fixed?")
        if slot is not None and slot >= slots:
            raise _field("slot", f"the event has slots 0 to {slots - 1}")
        self.locked, self.lock_slot, self.lock_table = locked, slot, None if self.remote else table
        self.version += 1

    def record_outcome(self, outcome: str) -> None:
        if self.status != "accepted":
            raise Refused("conflict", f"meeting {self.meeting_id} was {self.status}, not held")
        if self.outcome == outcome:
            return
        was_held = self.outcome in HELD
        self.outcome = outcome
        self._change(c.MEETING_OUTCOME_RECORDED)
        guests = any(side.region != self.region for side in (self.requester, self.receiver))
        if outcome in HELD and not was_held and guests:
            # Told to every region: the sides' home regions survey their own SMEs. What the
            # outcome was stays here (it is this region's meeting and its staff's record). A
            # meeting between two SMEs of this region is surveyed here, from the outcome: it
            # is not told to the network at all (no other region has anything to do with it).
            held = c.MeetingHeld(
                meeting_id=self.meeting_id,
                event_id=self.event_id,
                region=self.region,
                participants=[self.requester, self.receiver],
            )
            self.events.append((c.MEETING_HELD, held))

    def report(self, by: SmeRef, outcome: str, now: datetime, event: Brokerage) -> None:
        """A participant's report of the outcome: once per side, while reports are open."""
        if key(by) not in (key(self.requester), key(self.receiver)):
            raise Refused("forbidden", "only the two participants report a meeting's outcome")
        if self.status != "accepted":
            raise Refused("conflict", f"meeting {self.meeting_id} was {self.status}, not held")
        opens, closes = report_window(event)
        if now < opens:
            raise Refused("conflict", "the event has not begun", opens_at=opens.isoformat())
        if now > closes:
            raise Refused("conflict", "the time to report has ended", closes_at=closes.isoformat())
        if mine := next((r for r in self.reports if key(r.by) == key(by)), None):
            raise Refused(
                "conflict", f"{key(by)} reported this meeting already", reported=mine.outcome
            )
        self.reports.append(
            c.OutcomeReport.model_validate({"by": by, "outcome": outcome, "reported_at": now})
        )
        self.version += 1

    def view(self, slot: int | None = None, table: int | None = None) -> c.Meeting:
        return c.Meeting(
            meeting_id=self.meeting_id,
            event_id=self.event_id,
            requester=self.requester,
            receiver=self.receiver,
            status=self.status,
            priority=self.priority,
            remote=self.remote,
            mutual=self.mutual,
            message=self.message,
            slot=slot,
            table=table,
            locked=self.locked,
            locked_slot=self.lock_slot if self.locked else None,
            locked_table=self.lock_table if self.locked else None,
            outcome=self.outcome,
            reports=list(self.reports),
            version=self.version,
        )


def seen_by(meeting: c.Meeting, actor: Any) -> c.Meeting:
    """A meeting as its reader may see it: a contact sees only their own side's report."""
    if actor is None or actor.role != "sme":
        return meeting
    own = [r for r in meeting.reports if (r.by.sme_id, r.by.region) == (actor.sme_id, actor.region)]
    return meeting.model_copy(update={"reports": own})


def report_window(event: Brokerage) -> tuple[datetime, datetime]:
    """From the event's first slot until REPORT_DAYS after its last one ends."""
    first, _ = slot_times(event, 0)
    _, last = slot_times(event, event.slots - 1)
    return first, last + timedelta(days=c.REPORT_DAYS)


def slot_times(event: Brokerage, slot: int) -> tuple[datetime, datetime]:
    """A slot's start and end in UTC, as the contract's set-up defines them."""
    zone = ZoneInfo(event.timezone)
    starts, ends = BrokerageSetup.model_validate(event.setup).slot_time(slot)
    return starts.replace(tzinfo=zone).astimezone(UTC), ends.replace(tzinfo=zone).astimezone(UTC)
