"""A person's registration for an event or course: confirmed, waitlisted or cancelled, with the
sessions they attended. Which of confirmed or waitlisted it gets is decided by the event's seat
book (adapters/seats.py), which counts seats and hands out places in the waiting order; the
registration keeps what the book counts for it (``held``), so that the book stays small however
large the event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts import events as c
from contracts.errors import Refused

from .calendar import Entry, Recorded, field_error, invalid

PENDING = "pending"  # stored while its seat is being claimed; never shown
SEAT = "seat"
# What the seat book counts for a registration: a seat, its number in the event's waiting order
# (1, 2, … in the order places were taken), or nothing.
Held = str | int | None


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
    # What the seat book counts for it, and the book's change that gave it that (a token): a
    # cancelled registration keeps what it held until the book has taken it back.
    held: Held = None
    book_change: str | None = None

    def _record(self, op: object) -> None:
        self.events.append(
            (op, c.RegistrationChanged(registration=self.fact(), region=self.region))
        )

    def confirm(self, book_change: str | None = None) -> None:
        """A seat: claimed while pending, or its waiting place turned into one."""
        if self.status == "confirmed":
            return
        if self.status not in (PENDING, "waitlisted"):
            raise Refused("conflict", f"registration {self.registration_id} is {self.status}")
        self.status, self.position = "confirmed", None
        self.held, self.book_change = SEAT, book_change
        self._record(c.REGISTRATION_CONFIRMED)

    def waitlist(self, number: int, position: int, book_change: str | None = None) -> None:
        """A place in the waiting order: ``number`` for good, ``position`` as it is now."""
        if self.status != PENDING:
            return
        self.status, self.position = "waitlisted", position
        self.held, self.book_change = number, book_change
        self._record(c.REGISTRATION_WAITLISTED)

    def given_back(self) -> None:
        """The seat book took back what a cancelled registration held (no event of its own:
        the cancellation told it)."""
        if self.status == "cancelled":
            self.held, self.book_change = None, None

    def cancel(self) -> str:
        """Cancel, and say what it held: a seat, a waitlist place or nothing yet. What the
        seat book counts for it stays ``held`` until given back."""
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
        """What its events say: everything but the person. Made from the fields themselves,
        not from ``view`` (which checks the person's address again: a fifth of what an event
        of a registration cost to make)."""
        return c.RegistrationFact(**self._but_the_person())

    def _but_the_person(self) -> dict[str, Any]:
        return {
            "registration_id": self.registration_id,
            "event_id": self.event_id,
            "sme": self.data.sme,
            "participation": self.data.participation,
            "status": "waitlisted" if self.status == PENDING else self.status,
            "position": self.position,
            "attended_sessions": self.attended_sessions,
            "completed": self.completed,
            "registered_at": self.registered_at,
        }

    def listed(self) -> c.SmeRegistration:
        """As the SME's "my events" list it: the fact, and the region that holds it."""
        return c.SmeRegistration.model_validate(self.fact().model_dump() | {"region": self.region})

    def view(self) -> c.Registration:
        return c.Registration(
            **self._but_the_person(),
            person_name=self.data.person_name,
            email=self.data.email,
            language=self.data.language,
        )
