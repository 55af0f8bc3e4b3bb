"""The organiser's desk: the requests a schedule left out with why and what would place them;
check-in at the event (a list that filters as one types); the event's statistics; and its
participants, meetings, outcomes and statistics as CSV or XLSX. For the event's organiser and
the region's staff (the desk checks, and the services check again)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts import events as ev
from contracts import matching as mt
from contracts.errors import Refused

from ..adapters.exports import XLSX_TYPE, csv_bytes, xlsx_bytes
from ..domain.users import User
from ..service_layer.organiser import EXPORTS, Desk, checkin_rows, day_index
from .event_pages import ORGANISERS
from .forms import posted, validated
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

# The filter of the check-in list is a few words of a name, not a document.
_MOST_TEXT = 200


class OrganiserPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.desk = Desk(portal.call, portal.region)

    async def _event(self, request: Request, person: User) -> ev.EventDetails:
        return await self.desk.event(
            request.path_params["event_id"], person.actor(), self.portal.public()
        )

    async def unplaced(self, request: Request, person: User) -> Response:
        event = await self._event(request, person)
        told = await self.desk.unplaced(event, person.actor())
        return self.portal.page(request, "unplaced.html", person=person, event=event, told=told)

    def _day(self, request: Request, event: ev.EventDetails) -> int:
        given = request.query_params.get("day", "")
        days = len(event.brokerage.days) if event.brokerage else 1
        if given.isdecimal() and int(given) < days:
            return int(given)
        return day_index(event, datetime.now(UTC).astimezone(ZoneInfo(event.timezone)).date())

    async def checkin(self, request: Request, person: User) -> Response:
        event = await self._event(request, person)
        actor = person.actor()
        text = request.query_params.get("q", "")[:_MOST_TEXT]
        day = self._day(request, event)
        registrations = await self.desk.registrations(event.event_id, actor)
        names = await self.desk.names(event.event_id, actor, registrations)
        rows = checkin_rows(registrations, names, text, day)
        present = sum(
            1 for r in registrations if r.status == "confirmed" and day in r.attended_sessions
        )
        confirmed = sum(1 for r in registrations if r.status == "confirmed")
        part = "checkin_rows.html" if request.headers.get("HX-Request") else "checkin.html"
        return self.portal.page(request, part, person=person, event=event, rows=rows, q=text,
                                day=day, present=present, confirmed=confirmed)  # fmt: skip

    async def check_in(self, request: Request, person: User) -> Response:
        form = await posted(request)
        event = await self._event(request, person)
        day = str(form.get("day") or "0")
        if not day.isdecimal():
            raise Refused("validation_failed", tr("check: day"))
        command = ev.RecordAttendance(
            registration_id=request.path_params["registration_id"], session=int(day)
        )
        done = await self.portal.call(ev.RECORD_ATTENDANCE, command, person.actor())
        if done.event_id != event.event_id:  # the service checked who may; this keeps the page
            raise Refused("not_found", tr("not a registration of this event"))
        if request.headers.get("HX-Request"):
            return self.portal.page(request, "checkin_mark.html", person=person)
        back = urlencode({"q": form.get("q") or "", "day": day})
        return RedirectResponse(f"/events/{event.event_id}/checkin?{back}", status_code=303)

    async def place(self, request: Request, person: User) -> Response:
        """A meeting added to the schedule or moved by hand; what it would break, named."""
        form = await posted(request)
        given = {"meeting_id": request.path_params["meeting_id"], "slot": form.get("slot"),
                 "table": form.get("table") or None}  # fmt: skip
        command = validated(mt.PlaceMeeting, given)
        try:
            done = await self.portal.call(mt.PLACE_MEETING, command, person.actor())
        except Refused as refusal:
            if refusal.code != "conflict":
                raise
            problems = refusal.details.get("problems") or [refusal.message]
            back = str(form.get("back") or "")
            return self.portal.page(
                request, "notice.html", 409, person=person,
                title=tr("The meeting stays where it was"),
                message=tr("It cannot go there: %(problems)s", problems="; ".join(problems)),
                back=back if back.startswith("/events/") and "//" not in back else "/",
            )  # fmt: skip
        return RedirectResponse(f"/events/{done.event_id}/organise#outcomes", status_code=303)

    async def message_form(self, request: Request, person: User) -> Response:
        event = await self._event(request, person)
        return self.portal.page(request, "message.html", person=person, event=event)

    async def message(self, request: Request, person: User) -> Response:
        form = await posted(request)
        event = await self._event(request, person)
        addressed = await self.desk.message(
            event, person.actor(), str(form.get("audience") or ""),
            str(form.get("subject") or ""), str(form.get("body") or ""),
        )  # fmt: skip
        return self.portal.page(
            request, "notice.html", person=person, title=tr("Message sent"),
            message=tr("Sent to %(count)s people, each as their mail preferences say.",
                       count=addressed),
            back=f"/events/{event.event_id}/organise",
        )  # fmt: skip

    async def statistics(self, request: Request, person: User) -> Response:
        event = await self._event(request, person)
        stats = await self.desk.statistics(event, person.actor())
        return self.portal.page(request, "statistics.html", person=person, event=event,
                                stats=stats, exports=EXPORTS)  # fmt: skip

    async def export(self, request: Request, person: User) -> Response:
        what, fmt = request.path_params["what"], request.path_params["fmt"]
        if what not in EXPORTS or fmt not in ("csv", "xlsx"):
            raise Refused("not_found", tr("no such export"))
        event = await self._event(request, person)
        table = await self.desk.export(event, what, person.actor())
        name = f"{event.event_id}-{what}.{fmt}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if fmt == "csv":
            return Response(csv_bytes(table), media_type="text/csv; charset=utf-8",
                            headers=headers)  # fmt: skip
        return Response(xlsx_bytes(table), media_type=XLSX_TYPE, headers=headers)


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    desk = OrganiserPages(portal)
    pages.get(app, "/events/{event_id}/unplaced", desk.unplaced, *ORGANISERS)
    pages.get(app, "/events/{event_id}/checkin", desk.checkin, *ORGANISERS)
    pages.post(app, "/events/{event_id}/checkin/{registration_id}", desk.check_in, *ORGANISERS)
    pages.post(app, "/meetings/{meeting_id}/place", desk.place, *ORGANISERS)
    pages.get(app, "/events/{event_id}/message", desk.message_form, *ORGANISERS)
    pages.post(app, "/events/{event_id}/message", desk.message, *ORGANISERS)
    pages.get(app, "/events/{event_id}/statistics", desk.statistics, *ORGANISERS)
    pages.get(app, "/events/{event_id}/exports/{what}.{fmt}", desk.export, *ORGANISERS)
