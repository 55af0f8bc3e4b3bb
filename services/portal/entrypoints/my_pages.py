"""A company's contact's working day at brokerage events: "My events" (seats and waitlist
places, cancelled here), an event's participants as a marketplace (for its participants, its
organisers and the region's staff), the meeting request form (only events both companies
attend), and the requests inbox (received and sent; accepted or declined in place with htmx).
The view models come from service_layer/marketplace.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts.access import STAFF
from contracts.common import SmeRef
from contracts.errors import Refused

from ..domain.users import User
from ..service_layer.marketplace import FILTERS, OUTCOMES, PROFILE_TYPES, Marketplace, Row
from .forms import posted, problems, validated
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

ANSWERS = ("accept", "decline")


class MyPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.market = Marketplace(portal.call)

    async def my_events(self, request: Request, person: User) -> Response:
        mine = await self.market.my_events(person.sme_ref(), person.actor())
        cancelled = request.query_params.get("cancelled")
        return self.portal.page(request, "my_events.html", person=person, mine=mine,
                                cancelled=cancelled)  # fmt: skip

    async def _host(self, form: Any) -> str:
        """The region hosting the event a form names (its registrations and meetings are kept
        there); the form's word only picks where to ask: that region still acts only for the
        person's own SME."""
        return await self.portal.host_of(str(form.get("event_id") or ""))

    async def cancel(self, request: Request, person: User) -> Response:
        form = await posted(request)
        registration_id = request.path_params["registration_id"]
        done = await self.market.cancel(registration_id, person.actor(), await self._host(form))
        event = await self.portal.event(done.event_id)
        return RedirectResponse(f"/my/events?{urlencode({'cancelled': event.title})}",
                                status_code=303)  # fmt: skip

    async def participants(self, request: Request, person: User) -> Response:
        """The marketplace; an htmx request (the filters, "more") gets only its cards."""
        given = {k: v for k in FILTERS if (v := request.query_params.get(k, "").strip())}
        cursor = request.query_params.get("cursor")
        market = await self.market.market(
            request.path_params["event_id"], given, cursor, person.actor()
        )
        more = urlencode(given | {"cursor": market.next_cursor}) if market.next_cursor else None
        part = "marketplace_cards.html" if request.headers.get("HX-Request") else "marketplace.html"
        return self.portal.page(request, part, person=person, market=market, more=more,
                                types=PROFILE_TYPES)  # fmt: skip

    async def request_page(self, request: Request, person: User) -> Response:
        other = validated(SmeRef, {"sme_id": request.query_params.get("sme_id"),
                                   "region": request.query_params.get("region")})  # fmt: skip
        return await self._form(request, person, other, request.query_params.get("event_id"))

    async def _form(
        self, request: Request, person: User, other: SmeRef, chosen: str | None,
        errors: list[str] | None = None, message: str = "",
    ) -> Response:  # fmt: skip
        common, shown = await self.market.in_common(person.sme_ref(), other, person.actor())
        return self.portal.page(request, "meeting_request.html", 400 if errors else 200,
                                person=person, other=other, shown=shown, common=common,
                                chosen=chosen, errors=errors or [],
                                message=message)  # fmt: skip

    async def send_request(self, request: Request, person: User) -> Response:
        form = await posted(request)
        other = validated(SmeRef, {"sme_id": form.get("sme_id"), "region": form.get("region")})
        event_id, message = str(form.get("event_id") or ""), str(form.get("message") or "")
        priority = str(form.get("priority") or "2")
        try:
            if priority not in ("1", "2", "3"):
                raise Refused("validation_failed", tr("priority: choose high, normal or low"))
            await self.market.request(
                person.sme_ref(), other, event_id, message, int(priority), person.actor()
            )
        except Refused as refusal:
            if refusal.code not in ("validation_failed", "duplicate", "conflict", "not_found"):
                raise
            return await self._form(request, person, other, event_id, problems(refusal),
                                    message)  # fmt: skip
        return RedirectResponse("/requests?sent=1", status_code=303)

    async def inbox(self, request: Request, person: User) -> Response:
        inbox = await self.market.inbox(person.sme_ref(), person.actor())
        sent = request.query_params.get("sent") == "1"
        return self.portal.page(request, "requests.html", person=person, inbox=inbox, sent=sent,
                                now=datetime.now(UTC), outcomes=OUTCOMES)  # fmt: skip

    async def answer(self, request: Request, person: User) -> Response:
        """Accept or decline a request received: an htmx request gets its row as it now
        stands, a plain form post goes back to the inbox."""
        form = await posted(request)
        action = form.get("action")
        if action not in ANSWERS:  # never an answer by default
            raise Refused("validation_failed", tr("choose accept or decline"))
        answered = await self.market.answer(
            request.path_params["meeting_id"], action == "accept", person.sme_ref(),
            person.actor(), await self._host(form),
        )  # fmt: skip
        return self._row(request, person, answered)

    async def report(self, request: Request, person: User) -> Response:
        """The contact's side's report of what an accepted meeting led to, once."""
        form = await posted(request)
        outcome = form.get("outcome")
        if outcome not in OUTCOMES:  # never an outcome by default
            raise Refused("validation_failed", tr("choose what the meeting led to"))
        reported = await self.market.report(
            request.path_params["meeting_id"], str(outcome), person.sme_ref(), person.actor(),
            await self._host(form),
        )  # fmt: skip
        return self._row(request, person, reported)

    def _row(self, request: Request, person: User, changed: Row) -> Response:
        """An htmx request gets the row as it now stands; a plain form post the inbox."""
        if request.headers.get("HX-Request"):
            return self.portal.page(request, "request_row.html", person=person, r=changed,
                                    now=datetime.now(UTC), outcomes=OUTCOMES)  # fmt: skip
        return RedirectResponse("/requests", status_code=303)


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    mine = MyPages(portal)
    pages.get(app, "/my/events", mine.my_events, "sme")
    pages.post(app, "/my/registrations/{registration_id}/cancel", mine.cancel, "sme")
    # The matching service decides who sees an event's participants (those with a seat, its
    # organisers, the region's staff); the portal only keeps other roles from the page.
    pages.get(app, "/events/{event_id}/participants", mine.participants,
              "sme", "organiser", *STAFF)  # fmt: skip
    pages.get(app, "/requests/new", mine.request_page, "sme")
    pages.post(app, "/requests/new", mine.send_request, "sme")
    pages.get(app, "/requests", mine.inbox, "sme")
    pages.post(app, "/requests/{meeting_id}", mine.answer, "sme")
    pages.post(app, "/requests/{meeting_id}/outcome", mine.report, "sme")
