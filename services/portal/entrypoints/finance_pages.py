"""The finance link's pages: the network's finance offers for everyone (public information, as
the guide), published and withdrawn by the region's staff under the MAP's name; an SME's finance
need, set by its contacts or the region's staff (the SME's page shows it with the offers
suggested and why)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts import finance as f
from contracts.access import STAFF
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.publishers import map_publisher

from ..domain.users import User
from ..service_layer.finance import Finance, may_see_finance
from .forms import listed, posted, problems, validated
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

_FILTERS = ("kind", "market")
OFFERS_PAGE = 50
_OFFER_TEXTS = (
    "kind",
    "title",
    "provider",
    "instrument",
    "amount_min",
    "amount_max",
    "currency",
    "deadline",
    "url",
    "markets",
    "external_id",
)
_OFFER_CHOICES = ("sme_sizes", "growth_classes", "stages", "purposes")
CHOICES = {
    "sme_sizes": f.SIZES,
    "growth_classes": f.GROWTH_CLASSES,
    "stages": f.STAGES,
    "purposes": f.PURPOSES,
}
_NEED_TEXTS = ("amount", "currency", "purpose", "by_when", "target_markets", "note")
REFUSED_FORM = {"validation_failed": 400, "forbidden": 403, "conflict": 409, "not_found": 404}


def _offer_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in _OFFER_TEXTS}
    values |= {k: form.getlist(k) for k in _OFFER_CHOICES}
    return values


def _need_values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in _NEED_TEXTS}
    return values | {"instruments": form.getlist("instruments")}


class FinancePages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.finance = Finance(portal.call, portal.region)

    async def offers(self, request: Request) -> Response:
        found = await self.portal.person(request)
        person = found[0] if found else None
        actor = person.actor() if person else self.portal.public()
        given = {k: v for k in _FILTERS if (v := request.query_params.get(k))}
        paged = {"limit": OFFERS_PAGE, "cursor": request.query_params.get("cursor")}
        page = await self.finance.offers(validated(f.ListFinanceOffers, given | paged), actor)
        withdrawable = {o.offer_id for o in page.items if self.finance.may_withdraw(o, actor)}
        # More offers than a page: the next one's link (with the filters), never left out.
        more = urlencode(given | {"cursor": page.next_cursor}) if page.next_cursor else None
        return self.portal.page(
            request,
            "finance.html",
            person=person,
            page=page,
            more=more,
            given=given,
            kinds=f.FINANCE_KINDS,
            withdrawable=withdrawable,
            staff=person is not None and person.role in STAFF,
        )

    def _offer_form(
        self,
        request: Request,
        person: User,
        values: dict[str, Any],
        status: int = 200,
        errors: list[str] | None = None,
    ) -> Response:
        return self.portal.page(
            request,
            "finance_new.html",
            status,
            person=person,
            values=values,
            errors=errors or [],
            kinds=f.FINANCE_KINDS,
            choices=CHOICES,
        )

    async def new_offer_page(self, request: Request, person: User) -> Response:
        # The form's own id: sent twice (a double click, a retry), it is the same offer.
        values = {"external_id": str(uuid.uuid4()), "currency": "EUR", "kind": "loan"}
        return self._offer_form(request, person, values | {k: list(CHOICES[k]) for k in CHOICES})

    async def publish(self, request: Request, person: User) -> Response:
        form = await posted(request)
        values = _offer_values(form)
        given: dict[str, Any] = {k: v for k, v in values.items() if v not in ("", [])}
        given |= {
            "partner_id": map_publisher(self.portal.region),
            "markets": [m.upper() for m in listed(values["markets"])],
        }
        try:
            command = validated(f.PublishFinanceOffer, given)
            await self.portal.call(f.PUBLISH_FINANCE_OFFER, command, person.actor())
        except Refused as refusal:
            if refusal.code not in REFUSED_FORM:
                raise
            return self._offer_form(
                request, person, values, REFUSED_FORM[refusal.code], problems(refusal)
            )
        return RedirectResponse("/finance", status_code=303)

    async def withdraw(self, request: Request, person: User) -> Response:
        form = await posted(request)
        command = validated(
            f.WithdrawFinanceOffer,
            {"offer_id": request.path_params["offer_id"], "reason": form.get("reason") or ""},
        )
        await self.portal.call(f.WITHDRAW_FINANCE_OFFER, command, person.actor())
        return RedirectResponse("/finance", status_code=303)

    # --- an SME's finance need -----------------------------------------------------------------

    def _sme(self, request: Request, person: User) -> SmeRef:
        sme = SmeRef(sme_id=request.path_params["sme_id"], region=self.portal.region)
        if not may_see_finance(person.actor(), sme):
            raise Refused("forbidden", tr("an SME's finance need is its own and its MAP's"))
        return sme

    def _need_form(
        self,
        request: Request,
        person: User,
        sme: SmeRef,
        values: dict[str, Any],
        status: int = 200,
        errors: list[str] | None = None,
        kept: bool = False,
    ) -> Response:
        return self.portal.page(
            request,
            "sme_finance.html",
            status,
            person=person,
            sme_id=sme.sme_id,
            values=values,
            errors=errors or [],
            kinds=f.FINANCE_KINDS,
            purposes=f.PURPOSES,
            kept=kept,
        )

    async def need_page(self, request: Request, person: User) -> Response:
        sme = self._sme(request, person)
        need = await self.finance.need(sme, person.actor())
        if need is None:
            return self._need_form(request, person, sme, {"currency": "EUR", "instruments": []})
        values = need.model_dump(mode="json") | {"target_markets": ", ".join(need.target_markets)}
        return self._need_form(request, person, sme, values, kept=True)

    async def set_need(self, request: Request, person: User) -> Response:
        form = await posted(request)
        sme = self._sme(request, person)
        action = form.get("action")
        if action not in ("set", "clear"):
            raise Refused("validation_failed", tr("choose save or remove"))
        values = _need_values(form)
        try:
            if action == "clear":
                await self.portal.call(
                    f.CLEAR_FINANCE_NEED, f.ClearFinanceNeed(sme=sme), person.actor()
                )
            else:
                given = {k: v for k, v in values.items() if v != ""} | {
                    "sme": sme,
                    "target_markets": [m.upper() for m in listed(values["target_markets"])],
                }
                command = validated(f.SetFinanceNeed, given)
                await self.portal.call(f.SET_FINANCE_NEED, command, person.actor())
        except Refused as refusal:
            if refusal.code not in ("validation_failed", "not_found"):
                raise
            return self._need_form(request, person, sme, values, 400, problems(refusal))
        return RedirectResponse(f"/smes/{sme.sme_id}#finance", status_code=303)


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    finance = FinancePages(portal)
    app.add_api_route("/finance", finance.offers, methods=["GET"])
    pages.get(app, "/finance/new", finance.new_offer_page, *STAFF)
    pages.post(app, "/finance/new", finance.publish, *STAFF)
    pages.post(app, "/finance/{offer_id}/withdraw", finance.withdraw, *STAFF)
    pages.get(app, "/smes/{sme_id}/finance", finance.need_page, *STAFF, "sme")
    pages.post(app, "/smes/{sme_id}/finance", finance.set_need, *STAFF, "sme")
