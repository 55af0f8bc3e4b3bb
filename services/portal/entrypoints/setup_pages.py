"""Setting up a brokerage event: staff create one, and its organiser (or staff) change its
set-up (days, slots, breaks, tables, the deadline for requests, the caps) through the same
form; the events service checks it (publish_event) and names each bad field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts import events as ev
from contracts.access import STAFF
from contracts.errors import Refused
from contracts.publishers import map_publisher

from ..domain.users import User
from .event_pages import ORGANISERS
from .forms import listed, posted, problems, validated

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

FIELDS = (
    "title",
    "description",
    "venue",
    "city",
    "country",
    "timezone",
    "days",
    "day_start",
    "slots_per_day",
    "slot_minutes",
    "breaks_after_slot",
    "break_minutes",
    "tables",
    "deadline",
    "participation",
    "max_requests",
    "max_meetings",
)
NEW = {
    "timezone": "Europe/Tallinn",
    "day_start": "09:00",
    "slots_per_day": "12",
    "slot_minutes": "30",
    "tables": "10",
    "participation": "on_site",
}


def _entry(values: dict[str, Any], partner_id: str, external_id: str) -> ev.PublishEvent:
    """The form's values as the entry they publish (its times from its slots)."""
    try:
        zone = ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(
            "validation_failed",
            f"timezone: no such zone {values['timezone']!r}",
            fields=[{"field": "timezone", "message": "unknown zone"}],
        ) from None
    try:
        deadline = datetime.fromisoformat(values["deadline"]).replace(tzinfo=zone)
    except ValueError:
        raise Refused(
            "validation_failed",
            "deadline: a date and time",
            fields=[{"field": "deadline", "message": "a date and time"}],
        ) from None
    setup = validated(
        ev.BrokerageSetup,
        {
            "days": listed(values["days"]),
            "day_start": values["day_start"],
            "slots_per_day": values["slots_per_day"],
            "slot_minutes": values["slot_minutes"],
            "breaks_after_slot": [
                int(b) - 1
                for b in listed(values["breaks_after_slot"])
                if b.isdecimal() and int(b) > 0  # isdigit() takes "²", which int() refuses
            ],
            "break_minutes": values["break_minutes"] or None,
            "tables": values["tables"],
            "registration_deadline": deadline,
            "participation_types": values["participation"].split("+"),
            "max_requests_per_participant": values["max_requests"] or None,
            "max_meetings_per_participant": values["max_meetings"] or None,
        },
    )
    slots = setup.slots()
    return validated(
        ev.PublishEvent,
        {
            "partner_id": partner_id,
            "external_id": external_id,
            "kind": "brokerage_event",
            "title": values["title"],
            "description": values["description"],
            "venue": values["venue"],
            "city": values["city"],
            "country": values["country"].upper(),
            "timezone": values["timezone"],
            "starts_at": slots[0].starts_at,
            "ends_at": slots[-1].ends_at,
            "brokerage": setup,
        },
    )


def _values(event: ev.EventDetails) -> dict[str, Any]:
    b = event.brokerage
    place = {"title": event.title, "description": event.description, "venue": event.venue,
             "city": event.city, "country": event.country, "timezone": event.timezone}  # fmt: skip
    if b is None:
        return place
    deadline = b.registration_deadline.astimezone(ZoneInfo(event.timezone))
    return place | {
        "days": ", ".join(d.isoformat() for d in b.days),
        "day_start": b.day_start,
        "slots_per_day": b.slots_per_day,
        "slot_minutes": b.slot_minutes,
        "breaks_after_slot": ", ".join(str(k + 1) for k in b.breaks_after_slot),
        "break_minutes": b.break_minutes or "",
        "tables": b.tables,
        "deadline": deadline.strftime("%Y-%m-%dT%H:%M"),
        "participation": "+".join(b.participation_types),
        "max_requests": b.max_requests_per_participant or "",
        "max_meetings": b.max_meetings_per_participant or "",
    }


class SetupPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def form(self, request: Request, person: User) -> Response:
        event_id = request.path_params.get("event_id")
        values = _values(await self.portal.event(event_id)) if event_id else dict(NEW)
        return self.portal.page(
            request, "event_setup.html", person=person, values=values, event_id=event_id, errors=[]
        )

    async def save(self, request: Request, person: User) -> Response:
        form = await posted(request)
        event_id = request.path_params.get("event_id")
        values = {k: str(form.get(k) or "").strip() for k in FIELDS}
        try:
            if event_id:  # the same publisher and external id: an update of the entry
                current = await self.portal.event(event_id)
                entry = _entry(values, current.partner_id, current.external_id)
            else:
                entry = _entry(values, map_publisher(self.portal.region), uuid.uuid4().hex)
            saved = await self.portal.call(ev.PUBLISH_EVENT, entry, person.actor())
        except Refused as refusal:
            if refusal.code != "validation_failed":
                raise
            return self.portal.page(
                request,
                "event_setup.html",
                400,
                person=person,
                values=values,
                event_id=event_id,
                errors=problems(refusal),
            )
        return RedirectResponse(f"/events/{saved.event_id}/organise", status_code=303)


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    setup = SetupPages(portal)
    for path, roles in (("/events/new", STAFF), ("/events/{event_id}/setup", ORGANISERS)):
        pages.get(app, path, setup.form, *roles)
        pages.post(app, path, setup.save, *roles)
