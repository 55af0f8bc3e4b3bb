"""A person's registration for an event or course: confirmed, waitlisted or cancelled, with the
sessions they attended. Which of confirmed or waitlisted it gets is decided by the seat book
(the service layer), which alone sees every registration of the event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contracts import events as c
from contracts.errors import Refused

from .calendar import Entry, Recorded, field_error, invalid

PENDING = "pending"  # stored while its seat is being claimed; never shown


@dataclass
class Registration:
    registration_id: str
    event_id: str
    region: str
    data: c.RegisterParticipant
    registered_at: datetime
    status: str = PENDING
    position: int | None = None
    attended_sessions: list[int] = field(default_factory=list)
    completed: bool = False
    events: list[Recorded] = field(default_factory=list)
    moved: bool = False  # its waitlist place changed since it was read (no event of its own)

    def _record(self, op: object) -> None:
        self.events.append(
            (op, c.RegistrationChanged(registration=self.fact(), region=self.region))
        )

    def confirm(self) -> None:
        if self.status == "confirmed":
            return
        if self.status not in (PENDING, "waitlisted"):
            raise Refused("conflict", f"registration {self.registration_id} is {self.status}")
        self.status, self.position = "confirmed", None
        self._record(c.REGISTRATION_CONFIRMED)

    def waitlist(self, position: int) -> None:
        if self.status != PENDING:
            return
        self.status, self.position = "waitlisted", position
        self._record(c.REGISTRATION_WAITLISTED)

    def cancel(self) -> str:
        """Cancel, and say what it held: a seat, a waitlist place or nothing yet."""
        held = self.status
        if held == "cancelled":
            return held
        self.status, self.position = "cancelled", None
        self._record(c.REGISTRATION_CANCELLED)
        return held

    def move_on_waitlist(self, position: int) -> None:
        """Its place on the waitlist as it now is (some ahead of it left or got seats)."""
        if self.status == "waitlisted" and position != self.position:
            self.position = position
            self.moved = True

    def tell_home(self, version: int) -> None:
        """A registration of an SME of another region tells that region what changed (its home
        lists it to the SME's contacts): the whole fact as it now stands, no person, at the
        version this change is stored as (the home keeps the highest it heard). Called just
        before the change is stored, so it goes with the same write."""
        sme = self.data.sme
        if sme is None or sme.region == self.region or not (self.events or self.moved):
            return
        told = c.GuestRegistration(registration=self.fact(), region=self.region, version=version)
        self.events.append((c.GUEST_REGISTRATION_CHANGED, told))
        self.moved = False

    def attend(self, session: int, entry: Entry) -> None:
        """Check-in for one session (a course session or a brokerage day). Completing a course
        is recorded once, when the attended sessions first reach its criteria."""
        if self.status != "confirmed":
            raise Refused(
                "conflict",
                f"registration {self.registration_id} is {self.status}, not confirmed",
                status=self.status,
            )
        if session >= entry.sessions:
            raise invalid(
                field_error("session", f"the event has sessions 0 to {entry.sessions - 1}")
            )
        if session in self.attended_sessions:
            return
        self.attended_sessions = sorted([*self.attended_sessions, session])
        self._record(c.ATTENDANCE_RECORDED)
        course = entry.data.course
        if (
            course
            and not self.completed
            and len(self.attended_sessions) >= course.completion_min_sessions
        ):
            self.completed = True
            completed = c.TrainingCompleted(
                event_id=self.event_id,
                region=self.region,
                registration_id=self.registration_id,
                sme=self.data.sme,
            )
            self.events.append((c.TRAINING_COMPLETED, completed))

    def fact(self) -> c.RegistrationFact:
        """What its events say: everything but the person."""
        return c.RegistrationFact.model_validate(
            self.view().model_dump(exclude={"person_name", "email", "language"})
        )

    def listed(self) -> c.SmeRegistration:
        """As the SME's "my events" list it: the fact, and the region that holds it."""
        return c.SmeRegistration.model_validate(self.fact().model_dump() | {"region": self.region})

    def view(self) -> c.Registration:
        return c.Registration(
            registration_id=self.registration_id,
            event_id=self.event_id,
            person_name=self.data.person_name,
            email=self.data.email,
            language=self.data.language,
            sme=self.data.sme,
            participation=self.data.participation,
            status="waitlisted" if self.status == PENDING else self.status,
            position=self.position,
            attended_sessions=self.attended_sessions,
            completed=self.completed,
            registered_at=self.registered_at,
        )
