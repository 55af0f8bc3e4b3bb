"""The MAP office's records as files: the registry with the table's filters (every row they
match) and the indicators of a period, as CSV or XLSX, a text cell that starts like a formula
kept as text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from contracts import registry as rg
from contracts.access import ADMIN, STAFF
from contracts.errors import Refused

from ..adapters.exports import XLSX_TYPE, Table, csv_bytes, xlsx_bytes
from ..domain.users import User
from ..service_layer.office import MAY_READ_INDICATORS, REGISTRY_FILTERS, Office
from .forms import posted, validated
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

FORMATS = ("csv", "xlsx")


def download(table: Table, fmt: str, name: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "csv":
        return Response(csv_bytes(table), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(xlsx_bytes(table), media_type=XLSX_TYPE, headers=headers)


def _format(request: Request) -> str:
    fmt = request.path_params["fmt"]
    if fmt not in FORMATS:
        raise Refused("not_found", tr("no such export"))
    return str(fmt)


class OfficePages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.office = Office(portal.call, portal.region)

    async def registry(self, request: Request, person: User) -> Response:
        fmt = _format(request)
        given = {k: v for k in REGISTRY_FILTERS if (v := request.query_params.get(k))}
        filters = validated(rg.SearchSmes, given)
        table = await self.office.registry(filters, person.actor())
        return download(table, fmt, f"registry-{self.portal.region}")

    async def indicators(self, request: Request, person: User) -> Response:
        fmt = _format(request)
        today = datetime.now(UTC).date()
        period = validated(rg.GetKpis, {
            "period_from": request.query_params.get("period_from") or date(today.year, 1, 1),
            "period_to": request.query_params.get("period_to") or today})  # fmt: skip
        table = await self.office.indicators(period, person.actor())
        name = f"indicators-{self.portal.region}-{period.period_from}-{period.period_to}"
        return download(table, fmt, name)

    async def reviews(self, request: Request, person: User, said: str = "", error: str = "",
                      status: int = 200) -> Response:  # fmt: skip
        """The profiles waiting for staff's approval before they are published."""
        waiting = await self.office.reviews(person.actor())
        return self.portal.page(request, "reviews.html", status, person=person,
                                waiting=waiting, said=said, error=error)  # fmt: skip

    async def review(self, request: Request, person: User) -> Response:
        form = await posted(request)
        action = str(form.get("action") or "")
        if action not in ("approve", "return"):
            raise Refused("validation_failed", tr("unknown action"))
        note = str(form.get("note") or "").strip()[:2000]
        if action == "return" and not note:
            return await self.reviews(
                request,
                person,
                error=tr("say what to change: the note goes back with it"),
                status=400,
            )
        sme_id, profile_id = request.path_params["sme_id"], request.path_params["profile_id"]
        view = await self.office.review(sme_id, profile_id, action == "approve", note,
                                        person.actor())  # fmt: skip
        title = next((p.title for p in view.profiles if p.profile_id == profile_id), profile_id)
        said = (tr("“%(title)s” of %(company)s is published.", title=title,
                   company=view.legal_name) if action == "approve"
                else tr("“%(title)s” went back to %(company)s with your note.", title=title,
                        company=view.legal_name))  # fmt: skip
        return await self.reviews(request, person, said=said)

    async def _accounts(self, person: User) -> dict[str, str | None]:
        return {p.email: p.sme_id for p in await self.portal.accounts.people(person.region)}

    async def erase_page(self, request: Request, person: User, error: str = "",
                         status: int = 200) -> Response:  # fmt: skip
        """What erasing the SME (or one contact of it) takes away, to confirm with a reason."""
        erasure = await self.office.erasure(
            request.path_params["sme_id"], request.path_params.get("contact_id"),
            person.actor(), await self._accounts(person),
        )  # fmt: skip
        return self.portal.page(request, "erase.html", status, person=person, erasure=erasure,
                                error=error)  # fmt: skip

    async def erase(self, request: Request, person: User) -> Response:
        form = await posted(request)
        sme_id, contact_id = request.path_params["sme_id"], request.path_params.get("contact_id")
        reason = str(form.get("reason") or "").strip()[:2000]
        if not reason:
            return await self.erase_page(request, person, tr("say why it is erased"), 400)
        try:
            await self.office.erase(sme_id, contact_id, reason, person.actor())
        except ValidationError:
            raise Refused("not_found", tr("no such SME or contact")) from None
        if contact_id is None:
            return self.portal.page(request, "notice.html", person=person, title=tr("Erased"),
                                    message=tr("The company and its people are erased, here "
                                               "and in every region that held a copy."),
                                    back="/smes")  # fmt: skip
        return RedirectResponse(f"/smes/{sme_id}?erased=contact#people", status_code=303)


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    office = OfficePages(portal)
    pages.get(app, "/smes/export.{fmt}", office.registry, *STAFF)  # before /smes/{sme_id}
    pages.get(app, "/kpis/export.{fmt}", office.indicators, *MAY_READ_INDICATORS)
    pages.get(app, "/reviews", office.reviews, *STAFF)
    pages.post(app, "/reviews/{sme_id}/{profile_id}", office.review, *STAFF)
    for path in ("/smes/{sme_id}/erase", "/smes/{sme_id}/contacts/{contact_id}/erase"):
        pages.get(app, path, office.erase_page, *ADMIN)
        pages.post(app, path, office.erase, *ADMIN)
