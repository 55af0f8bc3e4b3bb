"""The portal's pages: each asks the services for what the signed-in person may see and renders
it; an htmx request gets only the part of the page it replaces."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, get_args
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from contracts import events as ev
from contracts import matching as mt
from contracts import notify as nt
from contracts import registry as rg
from contracts.access import STAFF, Role
from contracts.common import SmeRef
from contracts.errors import Refused

from ..domain.users import User
from ..service_layer.feedback import Feedback
from ..service_layer.filters import region_clusters
from ..service_layer.finance import Finance
from ..service_layer.home import Home, RunningImport
from ..service_layer.organiser import Desk
from .forms import validated
from .guide_pages import guide_of
from .i18n import tr

if TYPE_CHECKING:
    from .web import Portal

Page = Callable[[Request, User], Awaitable[Response]]
Route = Callable[[Request], Awaitable[Response]]
_PARTNER_FILTERS = ("country", "cluster", "profile_type", "cursor")
_CALENDAR_FILTERS = ("text", "country", "kind", "cluster", "region")
# Calendar entries on a page; the rest are a "next page" link away.
CALENDAR_PAGE = 50
_SME_FILTERS = ("text", "country", "cluster", "stage", "size_class", "growth_class", "cursor")


class Pages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.guide = guide_of(portal)
        self.finance = Finance(portal.call, portal.region)
        self.feedback = Feedback(portal.call)
        self.desk = Desk(portal.call, portal.region)
        self.home_parts = Home(portal.call, portal.region, portal.accounts.pending_invitations)

    def get(self, app: FastAPI, path: str, page: Page, *roles: Role) -> None:
        """A page for people signed in, in these roles (any role if none is named)."""
        app.add_api_route(path, self.signed_in(page, *roles), methods=["GET"])

    def post(self, app: FastAPI, path: str, page: Page, *roles: Role) -> None:
        """A form people signed in, in these roles, send (its token checked by the page)."""
        app.add_api_route(path, self.signed_in(page, *roles), methods=["POST"])

    def signed_in(self, page: Page, *roles: Role) -> Route:
        """A page for people in these roles (any role if none is named); others are sent to
        sign in, or told they may not see it."""

        async def route(request: Request) -> Response:
            found = await self.portal.person(request)
            if found is None:
                return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)
            person, _ = found
            if roles and person.role not in roles:
                refusal = tr("this page is not for your role")
                return self.portal.page(request, "error.html", 403, code="forbidden",
                                        message=refusal, person=person)  # fmt: skip
            return await page(request, person)

        return route

    async def home(self, request: Request, person: User) -> Response:
        """What needs the person now (service_layer.home); without the bus the page still
        shows, each part saying it cannot be shown now."""
        actor, imports = person.actor(), self._imports(request, person)
        if self.portal.bus is None:
            view = Home.unreachable(actor, imports)
        else:
            view = await self.home_parts.view(actor, self.portal.public(), imports)
        answered = request.query_params.get("answered") == "1"
        return self.portal.page(request, "home.html", person=person, home=view,
                                surveys=view.surveys, answered=answered)  # fmt: skip

    @staticmethod
    def _imports(request: Request, person: User) -> list[RunningImport]:
        """The person's imports still running (the portal keeps them while it runs)."""
        imports = getattr(request.app.state, "imports", None)
        jobs = imports.jobs.values() if imports is not None else []
        return [RunningImport(j.job_id, j.file_name, j.percent)
                for j in jobs if j.by == person.email and not j.finished]  # fmt: skip

    async def smes(self, request: Request, person: User) -> Response:
        """The registry's table; the whole page offers the clusters of the region's SMEs (with
        how many each), an htmx request gets only the rows."""
        given = {k: v for k in _SME_FILTERS if (v := request.query_params.get(k))}
        query = validated(rg.SearchSmes, given | {"limit": 50})
        actor = person.actor()
        counts: dict[str, int] = {}  # the rows alone need no filter
        if request.headers.get("HX-Request"):
            found, part = await self.portal.call(rg.SEARCH_SMES, query, actor), "smes_rows.html"
        else:
            found, counts = await asyncio.gather(
                self.portal.call(rg.SEARCH_SMES, query, actor),
                region_clusters(self.portal.call, actor),
            )
            part = "smes.html"
        stages = rg.Stage.__args__  # type: ignore[attr-defined]
        return self.portal.page(request, part, person=person, page=found, given=given,
                                stages=stages, clusters=list(counts),
                                cluster_counts=counts)  # fmt: skip

    async def sme(self, request: Request, person: User) -> Response:
        """A company, with its finance need and the offers weighed for it (for its contacts and
        its MAP), and the guide of its market (for another company's contact: a partner's)."""
        query = rg.GetSme(sme_id=request.path_params["sme_id"])
        actor = person.actor()
        view = await self.portal.call(rg.GET_SME, query, actor)
        finance = await self.finance.for_sme(SmeRef(sme_id=view.sme_id, region=view.region), actor)
        entering = set(finance.need.target_markets) if finance and finance.need else set()
        if person.sme_id not in (None, view.sme_id):
            entering.add(view.country)
        guides = await self.guide.market_links(entering, actor)
        return self.portal.page(request, "sme.html", person=person, sme=view, finance=finance,
                                guides=guides)  # fmt: skip

    async def partners(self, request: Request, person: User) -> Response:
        """Partner search for the SME the person acts for: each result with its reasons."""
        if person.sme_id is None:
            raise Refused("forbidden", tr("partner search is for a company's contact"))
        given = {k: v for k in _PARTNER_FILTERS if (v := request.query_params.get(k))}
        seeker = {"region": person.region, "sme_id": person.sme_id}
        query = validated(mt.FindPartners, given | {"seeker": seeker, "limit": 20})
        found = await self.portal.call(mt.FIND_PARTNERS, query, person.actor())
        # Each partner's market's guide ("entering Germany? read: company forms, VAT, …"): the
        # country it is based in, or its region's where matching does not say.
        guides = await self.guide.partner_links(found.items, person.actor())
        # The next page keeps the filters; a meeting is asked for from the request form, which
        # offers only the brokerage events both companies attend.
        filters = {k: v for k, v in given.items() if k != "cursor"}
        more = urlencode(filters | {"cursor": found.next_cursor}) if found.next_cursor else None
        return self.portal.page(request, "partners.html", person=person, page=found, given=given,
                                guides=guides, more=more,
                                types=mt.ProfileType.__args__)  # type: ignore[attr-defined]  # fmt: skip

    async def calendar(self, request: Request) -> Response:
        """The calendar a page of CALENDAR_PAGE at a time, with a link to the next page (its
        cursor and the same filters); an htmx request gets only the table."""
        found = await self.portal.person(request)
        given = {k: v for k in _CALENDAR_FILTERS if (v := request.query_params.get(k))}
        paged = {"limit": CALENDAR_PAGE, "cursor": request.query_params.get("cursor")}
        query = validated(ev.ListCalendar, given | paged | {"period_from": datetime.now(UTC)})
        page = await self.portal.call(ev.LIST_CALENDAR, query, self.portal.public())
        filters = urlencode(given)
        feed = "/calendar.ics" + (f"?{filters}" if filters else "")
        more = urlencode(given | {"cursor": page.next_cursor}) if page.next_cursor else None
        part = "calendar_rows.html" if request.headers.get("HX-Request") else "calendar.html"
        return self.portal.page(request, part, person=found[0] if found else None, page=page,
                                given=given, kinds=get_args(ev.EventKind), feed=feed,
                                more=more)  # fmt: skip

    async def calendar_feed(self, request: Request) -> Response:
        """The calendar as an iCalendar feed to subscribe to, with the page's filters: the
        whole of it (the events service reads it to the end, or refuses one larger than a
        message carries, saying so)."""
        given = {k: v for k in _CALENDAR_FILTERS if (v := request.query_params.get(k))}
        query = validated(ev.GetIcal, given)
        feed = await self.portal.call(ev.GET_ICAL, query, self.portal.public())
        return Response(feed.ical, media_type="text/calendar; charset=utf-8")

    async def unsubscribe_page(self, request: Request) -> Response:
        email, token = request.query_params.get("email", ""), request.query_params.get("token", "")
        return self.portal.page(request, "unsubscribe.html", person=None, email=email,
                                token=token, done=None)  # fmt: skip

    async def unsubscribe(self, request: Request) -> Response:
        """One click from a mail, no sign-in and no form token: the link's signed token is the
        proof (whoever holds it may stop the mail anyway). So the page's button works, and so
        does a mail program's one-click POST to the link itself (RFC 8058: the address and
        token in the query, `List-Unsubscribe=One-Click` in the body, no cookie)."""
        form = await request.form()

        def given(name: str) -> str:
            return str(form.get(name) or request.query_params.get(name) or "")

        try:
            command = nt.Unsubscribe(email=given("email"), token=given("token"))
        except ValidationError:
            raise Refused("validation_failed", tr("the link is incomplete")) from None
        await self.portal.call(nt.UNSUBSCRIBE, command, self.portal.public())
        return self.portal.page(request, "unsubscribe.html", person=None, email=command.email,
                                token="", done=True)  # fmt: skip


def add_routes(app: FastAPI, pages: Pages) -> None:
    pages.get(app, "/", pages.home)
    pages.get(app, "/smes", pages.smes, *STAFF)
    pages.get(app, "/smes/{sme_id}", pages.sme, *STAFF, "sme")
    pages.get(app, "/partners", pages.partners, "sme")
    app.add_api_route("/calendar", pages.calendar, methods=["GET"])
    app.add_api_route("/calendar.ics", pages.calendar_feed, methods=["GET"])
    app.add_api_route("/unsubscribe", pages.unsubscribe_page, methods=["GET"])
    app.add_api_route("/unsubscribe", pages.unsubscribe, methods=["POST"])
