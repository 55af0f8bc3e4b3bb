"""A brokerage schedule as RFC 5545, one VEVENT per meeting with a stable UID."""

from __future__ import annotations

import icalendar

from contracts import matching as c
from contracts.common import SmeRef


def schedule_ical(schedule: c.Schedule, participant: SmeRef | None) -> str:
    who = f" for {participant.sme_id}" if participant else ""
    cal = icalendar.Calendar.new(
        prodid="-//MAPnet//Brokerage schedule//EN",
        name=f"Meetings at {schedule.event_id}{who}",
        method="PUBLISH",
    )
    for m in schedule.meetings:
        others = [p.sme_id for p in m.participants if participant is None or p != participant]
        place = f"table {m.table + 1}" if m.table is not None else "online"
        cal.add_component(
            icalendar.Event.new(
                uid=f"{m.meeting_id}@mapnet.eu",
                sequence=schedule.version,
                start=m.starts_at,
                end=m.ends_at,
                summary=f"Meeting with {', '.join(others)}",
                location=m.room_url or place,
                url=m.room_url,
                description=f"Join online: {m.room_url}" if m.room_url else None,
            )
        )
    return cal.to_ical().decode()
