"""The facts the seed counts, recorded by the region's staff: an SME presenting at a trade show
or congress, an introduction to a large company (its outcome told later), a partnership
agreement between science parks. Road shows, training seminars and cluster workshops with their
attendees are calendar entries with registrations and check-ins (the events service's): the
page says so and links the calendar; all of them count in the indicators (/kpis)."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts import registry as rg
from contracts.access import STAFF
from contracts.errors import Refused

from ..domain.users import User
from ..service_layer.facts import OUTCOMES, Facts
from .forms import listed, posted, problems, validated

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

# Each form: the command it makes, the fields it reads as text, and those read as lists.
FORMS: dict[str, tuple[Any, type[Any], tuple[str, ...], tuple[str, ...]]] = {
    "presentation": (
        rg.RECORD_TRADE_SHOW_PRESENTATION,
        rg.RecordTradeShowPresentation,
        ("sme_id", "show", "event_id", "country", "presented_on"),
        (),
    ),
    "introduction": (
        rg.RECORD_COMPANY_INTRODUCTION,
        rg.RecordCompanyIntroduction,
        ("fact_id", "sme_id", "company", "company_country", "introduced_on", "outcome"),
        (),
    ),
    "withdraw": (rg.WITHDRAW_FACT, rg.WithdrawFact, ("fact_id", "version", "reason"), ()),
    "agreement": (
        rg.RECORD_PARK_AGREEMENT,
        rg.RecordParkAgreement,
        ("aim", "signed_on"),
        ("parties", "countries", "clusters"),
    ),
}
# Shown on the form, which keeps what was typed: a fact recorded already is a conflict.
REFUSED_FORM = {"validation_failed": 400, "not_found": 404, "conflict": 409}


class FactsPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.facts = Facts(portal.call)

    async def _page(
        self,
        request: Request,
        person: User,
        status: int = 200,
        form: str | None = None,
        values: dict[str, Any] | None = None,
        errors: list[str] | None = None,
        figures_again: str = "",
    ) -> Response:
        rows, next_cursor = await self.facts.rows(
            person.actor(), request.query_params.get("cursor")
        )
        return self.portal.page(
            request,
            "facts.html",
            status,
            person=person,
            rows=rows,
            next_cursor=next_cursor,
            outcomes=OUTCOMES,
            form=form,
            values=values or {},
            errors=errors or [],
            figures_again=figures_again,
        )

    async def page(self, request: Request, person: User) -> Response:
        again = request.query_params.get("figures_again", "")
        return await self._page(request, person, figures_again=again[:7])

    async def record(self, request: Request, person: User) -> Response:
        form = await posted(request)
        which = request.path_params["kind"]
        if which not in FORMS:
            raise Refused("not_found", f"no form {which}")
        op, model, texts, lists = FORMS[which]
        values = {k: str(form.get(k) or "").strip() for k in (*texts, *lists)}
        given: dict[str, Any] = {k: v for k, v in values.items() if v and k in texts}
        given |= {k: listed(values[k]) for k in lists}
        for country in ("country", "company_country"):
            if country in given:
                given[country] = given[country].upper()
        if "countries" in given:
            given["countries"] = [c.upper() for c in given["countries"]]
        try:
            await self.portal.call(op, validated(model, given), person.actor())
        except Refused as refusal:
            if refusal.code not in REFUSED_FORM:
                raise
            return await self._page(
                request, person, REFUSED_FORM[refusal.code], which, values, problems(refusal)
            )
        if which == "withdraw":
            # The row's day: staff may publish any month's figures, so nothing here to trust;
            # without a day (a page from before it was sent) the figures are left as they are.
            with contextlib.suppress(ValueError):
                on = date.fromisoformat(str(form.get("on") or ""))
                again = await self.facts.figures_again(person.actor(), on)
                if again:
                    return RedirectResponse(f"/facts?figures_again={again}", status_code=303)
        return RedirectResponse("/facts", status_code=303)


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    facts = FactsPages(portal)
    pages.get(app, "/facts", facts.page, *STAFF)
    pages.post(app, "/facts/{kind}", facts.record, *STAFF)
