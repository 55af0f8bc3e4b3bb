"""The portal's pages: each asks the services for what the signed-in person may see and renders
it; an htmx request gets only the part of the page it replaces."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from contracts import events as ev
from contracts import notify as nt
from contracts import registry as rg
from contracts.access import STAFF
from contracts.errors import Refused

from ..domain.users import User
from .forms import csrf_ok

if TYPE_CHECKING:
    from .web import Portal

Page = Callable[[Request, User], Awaitable[Response]]
_SME_FILTERS = ("text", "country", "cluster", "stage", "size_class", "growth_class", "cursor")


def add_routes(app: FastAPI, portal: Portal) -> None:
    def signed_in(*roles: str) -> Callable[[Page], Callable[[Request], Awaitable[Response]]]:
        """A page for people in these roles (any role if none is named); others are sent to
        sign in, or told they may not see it."""

        def wrap(page: Page) -> Callable[[Request], Awaitable[Response]]:
            async def route(request: Request) -> Response:
                found = await portal.person(request)
                if found is None:
                    target = quote(str(request.url.path), safe="/")
                    return RedirectResponse(f"/signin?next={target}", status_code=303)
                person, _ = found
                if roles and person.role not in roles:
                    refusal = "this page is not for your role"
                    return portal.page(request, "error.html", 403, code="forbidden",
                                       message=refusal, person=person)  # fmt: skip
                return await page(request, person)

            return route

        return wrap

    @signed_in()
    async def home(request: Request, person: User) -> Response:
        return portal.page(request, "home.html", person=person)

    @signed_in(*STAFF)
    async def smes(request: Request, person: User) -> Response:
        given = {k: v for k in _SME_FILTERS if (v := request.query_params.get(k))}
        try:
            query = rg.SearchSmes.model_validate(given | {"limit": 50})
        except ValidationError as exc:
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
            raise Refused("validation_failed", f"check the search: {fields}") from None
        found = await portal.call(rg.SEARCH_SMES, query, person.actor())
        part = "smes_rows.html" if request.headers.get("HX-Request") else "smes.html"
        return portal.page(request, part, person=person, page=found, given=given,
                           stages=rg.Stage.__args__)  # type: ignore[attr-defined]  # fmt: skip

    @signed_in(*STAFF, "sme")
    async def sme(request: Request, person: User) -> Response:
        sme_id = request.path_params["sme_id"]
        view = await portal.call(rg.GET_SME, rg.GetSme(sme_id=sme_id), person.actor())
        return portal.page(request, "sme.html", person=person, sme=view)

    async def calendar(request: Request) -> Response:
        found = await portal.person(request)
        query = ev.ListCalendar(period_from=datetime.now(UTC), limit=50,
                                text=request.query_params.get("text") or None)  # fmt: skip
        page = await portal.call(ev.LIST_CALENDAR, query, portal.public())
        return portal.page(request, "calendar.html", person=found[0] if found else None,
                           page=page, text=query.text or "")  # fmt: skip

    async def unsubscribe_page(request: Request) -> Response:
        email, token = request.query_params.get("email", ""), request.query_params.get("token", "")
        return portal.page(request, "unsubscribe.html", person=None, email=email, token=token,
                           done=None)  # fmt: skip

    async def unsubscribe(request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form):
            raise Refused("forbidden", "the form has expired: open the link from the mail again")
        try:
            command = nt.Unsubscribe(email=str(form.get("email")), token=str(form.get("token")))
        except ValidationError:
            raise Refused("validation_failed", "the link is incomplete") from None
        await portal.call(nt.UNSUBSCRIBE, command, portal.public())
        return portal.page(request, "unsubscribe.html", person=None, email=command.email,
                           token="", done=True)  # fmt: skip

    app.add_api_route("/", home, methods=["GET"])
    app.add_api_route("/smes", smes, methods=["GET"])
    app.add_api_route("/smes/{sme_id}", sme, methods=["GET"])
    app.add_api_route("/calendar", calendar, methods=["GET"])
    app.add_api_route("/unsubscribe", unsubscribe_page, methods=["GET"])
    app.add_api_route("/unsubscribe", unsubscribe, methods=["POST"])
