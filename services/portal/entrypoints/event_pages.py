"""An event's pages: the public page with its register button; for a company's contact the
meeting requests of a brokerage event and the agenda (with its .ics); for the event's organiser
and the region's staff the requests as a matrix, the scheduler, and the schedule as a grid."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts.access import STAFF
from contracts.common import SmeRef
from contracts.errors import Refused

from ..domain.users import User
from .forms import posted, validated
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

ORGANISERS = (*STAFF, "organiser")
# Lists are read a page of this many at a time, following the cursor to the end (an event's
# registrations, a contact's meetings): a page must not show the first hundred as if all.
PAGE = 100
MEETING_ACTIONS = ("accept", "decline", "cancel")


class EventPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def _every(self, op: Any, query: Any, actor: Any) -> list[Any]:
        """Every item of a list query, page after page."""
        items: list[Any] = []
        query = query.model_copy(update={"limit": PAGE})
        while True:
            page = await self.portal.call(op, query, actor)
            items.extend(page.items)
            if not page.next_cursor:
                return items
            query = query.model_copy(update={"cursor": page.next_cursor})

    async def _names(self, person: User, refs: list[SmeRef], event_id: str) -> dict[str, str]:
        """Companies' names as the person may see them: this region's from its registry, the
        others' as the event's marketplace shows them (a company that does not share itself
        with the network, or one the page cannot reach now, is named by its region)."""
        unique = {r.key: r for r in refs}
        away: dict[str, str] = {}
        if any(r.region != self.portal.region for r in unique.values()):
            listed = mt.ListParticipants(event_id=event_id)
            try:
                found = await self._every(mt.LIST_PARTICIPANTS, listed, person.actor())
            except Refused as refusal:
                if refusal.code not in ("forbidden", "not_found", "region_unavailable"):
                    raise
                found = []
            away = {p.sme.key: p.legal_name for p in found if p.legal_name}

        async def name(ref: SmeRef) -> str:
            if ref.region != self.portal.region:
                region = ref.region.capitalize()
                return away.get(ref.key) or tr("a company in %(region)s", region=region)
            try:
                view = await self.portal.call(
                    rg.GET_SME, rg.GetSme(sme_id=ref.sme_id), person.actor()
                )
            except Refused:
                return ref.sme_id
            return str(view.legal_name)

        found_names = await asyncio.gather(*(name(r) for r in unique.values()))
        return dict(zip(unique, found_names, strict=True))

    async def event(self, request: Request) -> Response:
        signed = await self.portal.person(request)
        person = signed[0] if signed else None
        event = await self.portal.event(request.path_params["event_id"])
        organises = person is not None and (
            person.role in STAFF
            or (person.role == "organiser" and event.event_id in person.event_ids)
        )
        return self.portal.page(
            request, "event.html", person=person, event=event, organises=organises
        )

    async def register(self, request: Request, person: User) -> Response:
        form = await posted(request)
        event_id = request.path_params["event_id"]
        me = person.sme_ref()
        sme = await self.portal.call(rg.GET_SME, rg.GetSme(sme_id=me.sme_id), person.actor())
        name = next((c.name for c in sme.contacts if c.email.lower() == person.email), person.email)
        command = validated(
            ev.RegisterParticipant,
            {
                "event_id": event_id,
                "person_name": name,
                "email": person.email,
                "sme": me,
                "participation": form.get("participation") or "on_site",
            },
        )
        try:
            done = await self.portal.call(ev.REGISTER_PARTICIPANT, command, person.actor())
        except Refused as refusal:
            if refusal.code != "duplicate":
                raise
            message = tr("You are registered for this event already.")
        else:
            message = (
                tr("Your seat is confirmed.")
                if done.status == "confirmed"
                else tr(
                    "The event is full: you are number %(place)s on the waitlist.",
                    place=done.position,
                )
            )
        return self.portal.page(
            request,
            "notice.html",
            person=person,
            title=tr("Registration"),
            message=message,
            back=f"/events/{event_id}",
        )

    # --- a contact's meetings ----------------------------------------------------------------

    async def meetings(self, request: Request, person: User) -> Response:
        event = await self.portal.event(request.path_params["event_id"])
        me = person.sme_ref()
        query = mt.ListMeetings(event_id=event.event_id, participant=me)
        found = await self._every(mt.LIST_MEETINGS, query, person.actor())
        refs = [r for m in found for r in (m.requester, m.receiver)]
        names = await self._names(person, refs, event.event_id)
        return self.portal.page(
            request,
            "meetings.html",
            person=person,
            event=event,
            meetings=found,
            names=names,
            me=me.key,
        )

    async def request_meeting(self, request: Request, person: User) -> Response:
        form = await posted(request)
        event_id = str(form.get("event_id") or "")
        command = validated(
            mt.RequestMeeting,
            {
                "event_id": event_id,
                "requester": {"sme_id": person.sme_id, "region": person.region},
                "receiver": {"sme_id": form.get("sme_id"), "region": form.get("region")},
                "message": form.get("message") or "",
                "priority": form.get("priority") or 2,
            },
        )
        await self.portal.call(mt.REQUEST_MEETING, command, person.actor())
        return RedirectResponse(f"/events/{event_id}/meetings", status_code=303)

    async def answer_meeting(self, request: Request, person: User) -> Response:
        form = await posted(request)
        meeting_id, action = request.path_params["meeting_id"], form.get("action")
        if action not in MEETING_ACTIONS:  # never a cancel by default
            raise Refused("validation_failed", tr("choose accept, decline or cancel"))
        me = person.sme_ref()
        # Where the meeting's event is kept (the form names the event; that region still acts
        # only for the person's own SME).
        at = await self.portal.host_of(str(form.get("event_id") or ""))
        if action in ("accept", "decline"):
            answer = mt.RespondMeeting(
                meeting_id=meeting_id, accept=action == "accept", responder=me
            )
            done = await self.portal.call(mt.RESPOND_MEETING, answer, person.actor(), at=at)
        else:
            cancel = mt.CancelMeeting(meeting_id=meeting_id, by=me)
            done = await self.portal.call(mt.CANCEL_MEETING, cancel, person.actor(), at=at)
        return RedirectResponse(f"/events/{done.event_id}/meetings", status_code=303)

    async def availability(self, request: Request, person: User) -> Response:
        event = await self.portal.event(request.path_params["event_id"])
        me = person.sme_ref()
        asked = mt.GetAvailability(event_id=event.event_id, participant=me)
        now = await self.portal.call(mt.GET_AVAILABILITY, asked, person.actor())
        days: dict[Any, list[Any]] = {}
        for slot in event.slots:
            days.setdefault(slot.day, []).append(slot)
        return self.portal.page(
            request,
            "availability.html",
            person=person,
            event=event,
            days=days,
            free=set(now.slots),
            given=now.given,
        )

    async def set_availability(self, request: Request, person: User) -> Response:
        form = await posted(request)
        event_id = request.path_params["event_id"]
        me = {"sme_id": person.sme_id, "region": person.region}
        command = validated(
            mt.SetAvailability,
            {"event_id": event_id, "participant": me, "slots": form.getlist("slot")},
        )
        await self.portal.call(mt.SET_AVAILABILITY, command, person.actor())
        return RedirectResponse(f"/events/{event_id}/availability", status_code=303)

    async def _agenda(
        self, event: ev.EventDetails, person: User, fmt: Literal["json", "ical"] = "json"
    ) -> mt.Schedule:
        """The person's SME's agenda at the event, as the host region answers it (another
        region's event: across the hub, with the links of its remote meetings' rooms, which
        only the host names), else from this region's copy while the host is out of reach."""
        query = mt.GetSchedule(event_id=event.event_id, participant=person.sme_ref(), format=fmt)
        try:
            found: mt.Schedule = await self.portal.call(
                mt.GET_SCHEDULE, query, person.actor(), at=event.region
            )
        except Refused as refusal:
            if refusal.code != "region_unavailable" or event.region == self.portal.region:
                raise
            found = await self.portal.call(
                mt.GET_SCHEDULE, query, person.actor(), at=self.portal.region
            )
        return found

    async def agenda(self, request: Request, person: User) -> Response:
        event = await self.portal.event(request.path_params["event_id"])
        me = person.sme_ref()
        try:
            schedule = await self._agenda(event, person)
        except Refused as refusal:
            if refusal.code != "not_found":
                raise
            schedule = None
        others = [p for m in (schedule.meetings if schedule else []) for p in m.participants]
        names = await self._names(person, others, event.event_id)
        return self.portal.page(
            request,
            "agenda.html",
            person=person,
            event=event,
            schedule=schedule,
            names=names,
            me=me.key,
        )

    async def agenda_ics(self, request: Request, person: User) -> Response:
        event = await self.portal.event(request.path_params["event_id"])
        schedule = await self._agenda(event, person, "ical")
        return Response(
            schedule.ical or "",
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="agenda.ics"'},
        )

    # --- an organiser's event ----------------------------------------------------------------

    async def organise(self, request: Request, person: User) -> Response:
        event = await self.portal.event(request.path_params["event_id"])
        actor = person.actor()
        listed = mt.ListMeetings(event_id=event.event_id)
        registered = ev.ListRegistrations(event_id=event.event_id, status="confirmed")
        meetings, registrations = await asyncio.gather(
            self._every(mt.LIST_MEETINGS, listed, actor),
            self._every(ev.LIST_REGISTRATIONS, registered, actor),
        )
        try:
            schedule = await self.portal.call(
                mt.GET_SCHEDULE, mt.GetSchedule(event_id=event.event_id), actor
            )
        except Refused:
            schedule = None
        # Participants by the names they registered with: an organiser need not read the registry.
        names = {r.sme.key: r.person_name for r in registrations if r.sme is not None}
        asked = {(m.requester.key, m.receiver.key): m for m in meetings}
        setup = event.brokerage
        grid: dict[tuple[int, int | None], Any] = {}
        for s in schedule.meetings if schedule else []:
            grid[(s.slot, s.table)] = s
        return self.portal.page(
            request,
            "organise.html",
            person=person,
            event=event,
            names=names,
            keys=list(names),
            asked=asked,
            meetings=meetings,
            schedule=schedule,
            grid=grid,
            tables=range(setup.tables if setup else 0),
        )

    async def agendas(self, request: Request, person: User) -> Response:
        """Every participant's agenda, one to a printed page."""
        event = await self.portal.event(request.path_params["event_id"])
        actor = person.actor()
        registered = ev.ListRegistrations(event_id=event.event_id, status="confirmed")
        registrations, schedule = await asyncio.gather(
            self._every(ev.LIST_REGISTRATIONS, registered, actor),
            self.portal.call(mt.GET_SCHEDULE, mt.GetSchedule(event_id=event.event_id), actor),
        )
        names = {r.sme.key: r.person_name for r in registrations if r.sme is not None}
        agendas = {
            k: [m for m in schedule.meetings if k in {p.key for p in m.participants}] for k in names
        }
        return self.portal.page(
            request, "agendas.html", person=person, event=event, names=names, agendas=agendas
        )

    async def schedule(self, request: Request, person: User) -> Response:
        form = await posted(request)
        event_id = request.path_params["event_id"]
        given = {"event_id": event_id, "time_limit_s": form.get("time_limit_s") or 10}
        command = validated(mt.ScheduleEvent, given)  # a bad number is named, not a crash
        await self.portal.call(mt.SCHEDULE_EVENT, command, person.actor(),
                               timeout_s=command.time_limit_s + 15)  # fmt: skip
        return RedirectResponse(f"/events/{event_id}/organise#schedule", status_code=303)

    async def lock(self, request: Request, person: User) -> Response:
        form = await posted(request)
        command = mt.LockMeeting(
            meeting_id=request.path_params["meeting_id"], locked=form.get("locked") != "false"
        )
        done = await self.portal.call(mt.LOCK_MEETING, command, person.actor())
        return RedirectResponse(f"/events/{done.event_id}/organise#schedule", status_code=303)

    async def outcome(self, request: Request, person: User) -> Response:
        form = await posted(request)
        command = validated(
            mt.RecordMeetingOutcome,
            {"meeting_id": request.path_params["meeting_id"], "outcome": form.get("outcome")},
        )
        done = await self.portal.call(mt.RECORD_MEETING_OUTCOME, command, person.actor())
        return RedirectResponse(f"/events/{done.event_id}/organise#outcomes", status_code=303)


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    events = EventPages(portal)

    app.add_api_route("/events/{event_id}", events.event, methods=["GET"])
    pages.post(app, "/events/{event_id}/register", events.register, "sme")
    pages.get(app, "/events/{event_id}/meetings", events.meetings, "sme")
    pages.get(app, "/events/{event_id}/agenda", events.agenda, "sme")
    pages.get(app, "/events/{event_id}/agenda.ics", events.agenda_ics, "sme")
    pages.get(app, "/events/{event_id}/availability", events.availability, "sme")
    pages.post(app, "/events/{event_id}/availability", events.set_availability, "sme")
    pages.get(app, "/events/{event_id}/agendas", events.agendas, *ORGANISERS)
    pages.post(app, "/meetings", events.request_meeting, "sme")
    pages.post(app, "/meetings/{meeting_id}", events.answer_meeting, "sme")
    pages.get(app, "/events/{event_id}/organise", events.organise, *ORGANISERS)
    pages.post(app, "/events/{event_id}/schedule", events.schedule, *ORGANISERS)
    pages.post(app, "/meetings/{meeting_id}/lock", events.lock, *ORGANISERS)
    pages.post(app, "/meetings/{meeting_id}/outcome", events.outcome, *ORGANISERS)
