"""A calendar entry: what a MAP or a partner system publishes about a technology event, brokerage
event or training course, with its times kept as local wall time in the venue's zone and as UTC.

No I/O here: the entry checks its rules and records the events its changes cause."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts import events as c
from contracts.errors import Refused

# Entry ids derive from the region, the publisher and its own id: the same external id updates
# the same entry, and a copy names the one region whose entry it can be (EntryRepository.put_copy).
_ENTRY_IDS = uuid.UUID("3a8c2f9e-6d41-4b7a-8e0c-5f2d9b6a1c47")


def entry_id(region: str, partner_id: str, external_id: str) -> str:
    return str(uuid.uuid5(_ENTRY_IDS, f"{region}:{partner_id}:{external_id}"))


Recorded = tuple[Any, Any]  # (operation, payload)


def field_error(field_name: str, message: str, kind: str = "value_error") -> dict[str, str]:
    return {"field": f"data.{field_name}", "message": message, "type": kind}


def invalid(*errors: dict[str, str]) -> Refused:
    return Refused(
        "validation_failed",
        "; ".join(f"{e['field']}: {e['message']}" for e in errors),
        fields=list(errors),
    )


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid(field_error("timezone", f"{name!r} is not an IANA time zone")) from exc


def entry_rules(data: Any) -> list[dict[str, str]]:
    """The time-zone rule on a raw publish_event body, for an answer that names every bad
    field when the schema refuses others."""
    name = data.get("timezone") if isinstance(data, dict) else None
    if not isinstance(name, str):
        return []
    try:
        zone(name)
    except Refused as refused:
        return list(refused.details["fields"])
    return []


def local_to_utc(wall: datetime, tz: ZoneInfo, field_name: str) -> datetime:
    """The UTC instant of a wall-clock time at the venue. A time that the clocks skip when
    daylight saving starts does not exist and is refused; a time that occurs twice when it ends
    is taken as its first occurrence."""
    if wall.tzinfo is not None:  # given with an offset: the same instant, as wall time there
        wall = wall.astimezone(tz).replace(tzinfo=None)
    local = wall.replace(tzinfo=tz, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        raise invalid(
            field_error(field_name, f"{wall:%Y-%m-%d %H:%M} does not exist in {tz.key} (DST)")
        )
    return instant


def _check_rules(data: c.CalendarEntryInput, starts: datetime, ends: datetime) -> None:
    errors = []
    if ends <= starts:
        errors.append(field_error("ends_at", "the entry ends before it starts"))
    if data.brokerage is not None and data.kind != "brokerage_event":
        errors.append(field_error("brokerage", "only a brokerage_event has a meeting set-up"))
    if data.kind == "brokerage_event" and data.brokerage is None:
        errors.append(field_error("brokerage", "a brokerage_event needs its meeting set-up"))
    if data.course is not None and data.kind != "training_course":
        errors.append(field_error("course", "only a training_course has sessions"))
    if data.kind == "training_course" and data.course is None:
        errors.append(field_error("course", "a training_course needs capacity and sessions"))
    if data.course is not None:
        if data.course.completion_min_sessions > len(data.course.sessions):
            errors.append(
                field_error("course.completion_min_sessions", "more than the course's sessions")
            )
        if data.capacity is not None and data.capacity != data.course.capacity:
            errors.append(field_error("capacity", "a course's capacity is course.capacity"))
    if data.brokerage is not None:
        b = data.brokerage
        for i, n in enumerate(b.breaks_after_slot):
            if not 0 <= n < b.slots_per_day - 1:
                errors.append(
                    field_error(
                        f"brokerage.breaks_after_slot.{i}",
                        f"a break follows a slot 0 to {b.slots_per_day - 2} of the day",
                    )
                )
        try:
            time.fromisoformat(b.day_start)
        except ValueError:
            errors.append(field_error("brokerage.day_start", "not a time of day (HH:MM)"))
    if errors:
        raise invalid(*errors)


@dataclass
class Entry:
    event_id: str
    region: str
    data: c.CalendarEntryInput
    version: int
    starts_at_utc: datetime
    ends_at_utc: datetime
    updated_at: datetime
    events: list[Recorded] = field(default_factory=list)

    @classmethod
    def publish(
        cls,
        event_id: str,
        region: str,
        data: c.CalendarEntryInput,
        previous: Entry | None,
        now: datetime,
    ) -> Entry:
        """A new entry, or the next version of the one the publisher sent before under the same
        external id. Sending the same content again changes nothing and records nothing."""
        tz = zone(data.timezone)
        starts = local_to_utc(data.starts_at, tz, "starts_at")
        ends = local_to_utc(data.ends_at, tz, "ends_at")
        _check_rules(data, starts, ends)
        # Kept as the plain input model, so that a re-sent entry compares equal to the stored one.
        data = c.CalendarEntryInput.model_validate(
            data.model_dump()
            | {"starts_at": _wall(data.starts_at, tz), "ends_at": _wall(data.ends_at, tz)}
        )
        if previous is not None and previous.data == data:
            return previous
        entry = cls(
            event_id=event_id,
            region=region,
            data=data,
            version=previous.version + 1 if previous else 1,
            starts_at_utc=starts,
            ends_at_utc=ends,
            updated_at=now,
        )
        if data.status == "cancelled":
            cancelled = c.EventCancelled(
                event_id=event_id, region=region, reason="published as cancelled"
            )
            entry.events.append((c.EVENT_CANCELLED, cancelled))
        else:
            entry.events.append((c.EVENT_PUBLISHED, c.EventPublished(**entry.view().model_dump())))
        entry._share(was_shared=previous is not None and previous.data.visibility == "network")
        return entry

    def cancel(self, reason: str, now: datetime) -> None:
        if self.data.status == "cancelled":
            return
        self.data = self.data.model_copy(update={"status": "cancelled"})
        self.version += 1
        self.updated_at = now
        self.events.append(
            (
                c.EVENT_CANCELLED,
                c.EventCancelled(event_id=self.event_id, region=self.region, reason=reason),
            )
        )
        self._share(was_shared=self.data.visibility == "network")

    def _share(self, was_shared: bool) -> None:
        """Network entries go to every region's calendar as they stand (cancelled ones too, so
        that copies show the cancellation); an entry made region-only is withdrawn from them."""
        if self.data.visibility == "network":
            self.events.append((c.ENTRY_SHARED, self.view()))
        elif was_shared:
            unshared = c.EntryUnshared(
                event_id=self.event_id, region=self.region, version=self.version
            )
            self.events.append((c.ENTRY_UNSHARED, unshared))

    # --- what registrations need to know ------------------------------------------------------

    @property
    def capacity(self) -> int | None:
        return self.data.course.capacity if self.data.course else self.data.capacity

    @property
    def sessions(self) -> int:
        if self.data.course:
            return len(self.data.course.sessions)
        if self.data.brokerage:
            return len(self.data.brokerage.days)
        return 1

    def check_open_for_registration(self, participation: str, now: datetime) -> None:
        if self.data.status == "cancelled":
            raise Refused("conflict", f"event {self.event_id} is cancelled", id=self.event_id)
        if self.ends_at_utc <= now:
            raise Refused("conflict", f"event {self.event_id} is over", id=self.event_id)
        brokerage = self.data.brokerage
        if brokerage is not None:
            if brokerage.registration_deadline <= now:
                raise Refused(
                    "conflict",
                    f"registration closed at {brokerage.registration_deadline.isoformat()}",
                    deadline=brokerage.registration_deadline.isoformat(),
                )
            if participation not in brokerage.participation_types:
                raise invalid(
                    field_error(
                        "participation",
                        f"this event takes {', '.join(brokerage.participation_types)}",
                    )
                )

    def view(self) -> c.CalendarEntry:
        return c.CalendarEntry(
            **self.data.model_dump(),
            event_id=self.event_id,
            region=self.region,
            version=self.version,
            starts_at_utc=self.starts_at_utc,
            ends_at_utc=self.ends_at_utc,
            updated_at=self.updated_at,
        )

    def details(self) -> c.EventDetails:
        slots = self.data.brokerage.slots() if self.data.brokerage is not None else []
        return c.EventDetails(**self.view().model_dump(), slots=slots)

    @classmethod
    def from_view(cls, view: c.CalendarEntry) -> Entry:
        data = c.CalendarEntryInput.model_validate(
            view.model_dump(include=set(c.CalendarEntryInput.model_fields))
        )
        return cls(
            event_id=view.event_id,
            region=view.region,
            data=data,
            version=view.version,
            starts_at_utc=view.starts_at_utc,
            ends_at_utc=view.ends_at_utc,
            updated_at=view.updated_at,
        )


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None) if moment.tzinfo else moment
