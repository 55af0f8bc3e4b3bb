"""RFC 5545 in and out, with the icalendar library.

Each entry keeps one UID for its whole life and a SEQUENCE equal to its version, so a calendar
client that subscribed updates the event instead of adding a copy; a cancelled entry comes out
with STATUS:CANCELLED so clients remove or strike it."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from contracts import events as c

UID_DOMAIN = "mapnet.eu"
PRODID = "-//MAPnet//Market Access Points calendar//EN"
_STATUS = {"planned": "TENTATIVE", "published": "CONFIRMED", "cancelled": "CANCELLED"}
# Fewer bytes than any VEVENT of to_ical takes (a bare one is about 265: its UID, times,
# sequence, status and category lines): more entries than room // this cannot fit in room.
SMALLEST_VEVENT = 200


def uid(event_id: str) -> str:
    return f"{event_id}@{UID_DOMAIN}"


def _location(e: c.CalendarEntry) -> str:
    return ", ".join(part for part in (e.venue, e.city, e.country) if part)


def to_ical(entries: list[c.CalendarEntry], name: str, cancelled: Collection[str] = ()) -> str:
    """``cancelled``: entries to show as cancelled for this reader (registrations withdrawn)."""
    # A stable calendar UID too, so a client that re-subscribes recognises the same calendar.
    cal_uid = uuid.uuid5(uuid.NAMESPACE_URL, f"https://{UID_DOMAIN}/calendars/{name}")
    cal = icalendar.Calendar.new(prodid=PRODID, name=name, method="PUBLISH", uid=cal_uid)
    for e in entries:
        tz = ZoneInfo(e.timezone)
        status = "cancelled" if e.event_id in cancelled else e.status
        event = icalendar.Event.new(
            uid=uid(e.event_id),
            sequence=e.version,
            stamp=e.updated_at,
            last_modified=e.updated_at,
            start=e.starts_at.replace(tzinfo=tz),
            end=e.ends_at.replace(tzinfo=tz),
            summary=e.title,
            description=e.description or None,
            location=_location(e) or None,
            url=str(e.url) if e.url else None,
            status=_STATUS[status],  # type: ignore[arg-type]
            categories=[e.kind, *e.topics],
        )
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical().decode()


def read_ics(text: bytes) -> list[tuple[int, dict[str, Any] | str]]:
    """(number of the VEVENT, fields for publish_event) for each event of an .ics file; the
    partner id, and kind and country where the file has none, come from the importer."""
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        return [(0, f"not an iCalendar file: {exc}")]
    rows: list[tuple[int, dict[str, Any] | str]] = []
    for number, event in enumerate(cal.walk("VEVENT"), start=1):
        try:
            rows.append((number, _fields(event)))
        except (KeyError, ValueError, TypeError) as exc:
            rows.append((number, f"VEVENT {number}: {exc}"))
    return rows


def _fields(event: Any) -> dict[str, Any]:
    start = event.decoded("DTSTART")
    end = event.decoded("DTEND") if "DTEND" in event else start + event.decoded("DURATION")
    if not isinstance(start, datetime):  # an all-day event: the whole day(s) at the venue
        start, end = (
            datetime.combine(start, datetime.min.time()),
            datetime.combine(end, datetime.min.time()),
        )
    timezone = getattr(start.tzinfo, "key", None) or ("UTC" if start.tzinfo else None)
    row: dict[str, Any] = {
        "external_id": str(event["UID"]),
        "title": str(event.get("SUMMARY", "")),
        "description": str(event.get("DESCRIPTION", "")),
        "starts_at": start.replace(tzinfo=None).isoformat() if start.tzinfo is None else start,
        "ends_at": end.replace(tzinfo=None).isoformat() if end.tzinfo is None else end,
        "venue": str(event.get("LOCATION", "")),
    }
    if timezone:
        row["timezone"] = timezone
    if "URL" in event:
        row["url"] = str(event["URL"])
    categories = [str(cat) for cats in _list(event.get("CATEGORIES")) for cat in cats.cats]
    kinds = [cat for cat in categories if cat in c.EventKind.__args__]  # type: ignore[attr-defined]
    if kinds:
        row["kind"] = kinds[0]
    topics = [cat.lower() for cat in categories if cat not in kinds]
    if topics:
        row["topics"] = topics
    status = str(event.get("STATUS", "CONFIRMED")).upper()
    row["status"] = {"CANCELLED": "cancelled", "TENTATIVE": "planned"}.get(status, "published")
    return row


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
