"""A company's pages: its data edited at the version read (a conflict shows both versions), and
its cooperation profiles drafted, published and withdrawn. Staff of the region and the
company's own contacts use them; the registry decides who may change what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, get_args

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts import registry as rg
from contracts.access import STAFF
from contracts.errors import Refused

from ..domain.users import User
from .forms import listed, posted, problems, validated
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

# What the company form edits, in the order it shows them.
EDITED = (
    "legal_name",
    "address",
    "website",
    "description",
    "keywords",
    "clusters",
    "share_with_network",
)
LISTS = ("keywords", "clusters")
PROFILE_TYPES, PARTNERSHIPS = get_args(rg.ProfileType), get_args(rg.PartnershipType)


def _changes(form: Any) -> dict[str, Any]:
    given: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in EDITED if k not in LISTS}
    given |= {k: listed(form.get(k)) for k in LISTS}
    given["website"] = given["website"] or None
    given["share_with_network"] = form.get("share_with_network") == "on"
    return given


def _shown(view: rg.SmeView) -> dict[str, Any]:
    return {k: getattr(view, k) for k in EDITED} | {"website": str(view.website or "")}


class SmePages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def _sme(self, person: User, sme_id: str) -> rg.SmeView:
        view: rg.SmeView = await self.portal.call(
            rg.GET_SME, rg.GetSme(sme_id=sme_id), person.actor()
        )
        return view

    async def register_page(self, request: Request, person: User) -> Response:
        return self.portal.page(request, "sme_new.html", person=person, values={}, errors=[])

    async def register(self, request: Request, person: User) -> Response:
        form = await posted(request)
        values: dict[str, Any] = {
            k: str(form.get(k) or "").strip()
            for k in ("legal_name", "registration_number", "country", "description",
                      "contact_name", "contact_email")
        }  # fmt: skip
        values["country"] = values["country"].upper()
        values |= {k: listed(form.get(k)) for k in ("nace_codes", "clusters", "keywords")}
        contact = {"name": values["contact_name"], "email": values["contact_email"],
                   "consent_contact": form.get("consent_contact") == "on"}  # fmt: skip
        given = {k: v for k, v in values.items() if not k.startswith("contact_")}
        given["share_with_network"] = form.get("share_with_network") == "on"
        try:
            command = validated(rg.RegisterSme, given | {"contacts": [contact]})
            view = await self.portal.call(rg.REGISTER_SME, command, person.actor())
        except Refused as refusal:
            if refusal.code not in ("validation_failed", "duplicate"):
                raise
            return self.portal.page(request, "sme_new.html", 400, person=person, values=values,
                                    errors=problems(refusal))  # fmt: skip
        return RedirectResponse(f"/smes/{view.sme_id}", status_code=303)

    async def edit_page(self, request: Request, person: User) -> Response:
        sme = await self._sme(person, request.path_params["sme_id"])
        return self.portal.page(
            request,
            "sme_edit.html",
            person=person,
            sme=sme,
            values=_shown(sme),
            version=sme.version,
            errors=[],
            stored=None,
        )

    async def edit(self, request: Request, person: User) -> Response:
        form = await posted(request)
        sme_id = request.path_params["sme_id"]
        values = _changes(form)
        try:
            given = {"sme_id": sme_id, "changes": values, "expected_version": form.get("version")}
            command = validated(rg.UpdateSme, given)
            await self.portal.call(rg.UPDATE_SME, command, person.actor())
        except Refused as refusal:
            if refusal.code not in ("validation_failed", "conflict", "duplicate"):
                raise
            sme = await self._sme(person, sme_id)
            stored = _shown(sme) if refusal.code == "conflict" else None
            version = sme.version if stored else form.get("version")
            return self.portal.page(
                request,
                "sme_edit.html",
                409 if stored else 400,
                person=person,
                sme=sme,
                values=values,
                version=version,
                errors=problems(refusal),
                stored=stored,
            )
        return RedirectResponse(f"/smes/{sme_id}", status_code=303)

    async def stage(self, request: Request, person: User) -> Response:
        """Move the SME along its coaching journey, with the reason."""
        form = await posted(request)
        sme_id = request.path_params["sme_id"]
        command = validated(
            rg.ChangeStage,
            {
                "sme_id": sme_id,
                "to_stage": form.get("to_stage"),
                "actor": person.email,
                "reason": form.get("reason"),
            },
        )
        await self.portal.call(rg.CHANGE_STAGE, command, person.actor())
        return RedirectResponse(f"/smes/{sme_id}#journey", status_code=303)

    async def profile_page(self, request: Request, person: User) -> Response:
        sme = await self._sme(person, request.path_params["sme_id"])
        expires = (datetime.now(UTC) + timedelta(days=180)).date().isoformat()
        return self._profile_form(request, person, sme, {"expires_on": expires}, [])

    async def edit_profile_page(self, request: Request, person: User) -> Response:
        """A draft or published profile, to change and publish again (or keep as a draft)."""
        if person.role == "sme" and person.sme_id != request.path_params["sme_id"]:
            # The registry would refuse the change; the form is not offered either.
            raise Refused("forbidden", tr("a contact changes only their own company's profiles"))
        sme = await self._sme(person, request.path_params["sme_id"])
        found = _profile_of(sme, request.path_params["profile_id"])
        values = found.model_dump(mode="json", include=set(rg.ProfileInput.model_fields))
        return self._profile_form(request, person, sme, values, [], found)

    def _profile_form(
        self, request: Request, person: User, sme: rg.SmeView, values: dict[str, Any],
        errors: list[str], editing: rg.Profile | None = None,
    ) -> Response:  # fmt: skip
        return self.portal.page(
            request,
            "profile_edit.html",
            400 if errors else 200,
            person=person,
            sme=sme,
            values=values,
            errors=errors,
            types=PROFILE_TYPES,
            kinds=PARTNERSHIPS,
            profile_id=editing.profile_id if editing else None,
            published=editing is not None and editing.status == "published",
        )

    async def profile(self, request: Request, person: User) -> Response:
        form = await posted(request)
        sme_id = request.path_params["sme_id"]
        values: dict[str, Any] = {
            k: str(form.get(k) or "").strip()
            for k in ("type", "title", "summary", "description", "expires_on")
        }
        values |= {
            "keywords": listed(form.get("keywords")),
            "target_countries": [c.upper() for c in listed(form.get("target_countries"))],
            "partnership_types": form.getlist("partnership_types"),
        }
        action = form.get("action")
        if action not in ("publish", "draft"):
            raise Refused("validation_failed", tr("choose publish or save as a draft"))
        op = rg.PUBLISH_PROFILE if action == "publish" else rg.DRAFT_PROFILE
        # Editing: the same profile id, so the registry changes it (and a published one is
        # published again, replacing what partner search and the marketplaces show).
        profile_id = request.path_params.get("profile_id")
        try:
            given = {"sme_id": sme_id, "profile": values | {"profile_id": profile_id}}
            command = validated(rg.PublishProfile, given)
            await self.portal.call(op, command, person.actor())
        except Refused as refusal:
            if refusal.code not in ("validation_failed", "conflict"):
                raise
            sme = await self._sme(person, sme_id)
            editing = _profile_of(sme, profile_id) if profile_id else None
            return self._profile_form(request, person, sme, values, problems(refusal), editing)
        anchor = f"profile-{profile_id}" if profile_id else "profiles"
        return RedirectResponse(f"/smes/{sme_id}#{anchor}", status_code=303)

    async def profile_action(self, request: Request, person: User) -> Response:
        """Publish a draft as it is, or withdraw a profile."""
        form = await posted(request)
        sme_id, profile_id = request.path_params["sme_id"], request.path_params["profile_id"]
        action = form.get("action")
        if action not in ("publish", "withdraw"):  # never a publication by default
            raise Refused("validation_failed", tr("choose publish or withdraw"))
        if action == "withdraw":
            reason = str(form.get("reason") or "withdrawn")
            withdraw = rg.WithdrawProfile(sme_id=sme_id, profile_id=profile_id, reason=reason)
            await self.portal.call(rg.WITHDRAW_PROFILE, withdraw, person.actor())
        else:
            sme = await self._sme(person, sme_id)
            found = _profile_of(sme, profile_id)
            given = rg.ProfileInput.model_validate(
                found.model_dump(include=set(rg.ProfileInput.model_fields))
            )
            publish = rg.PublishProfile(sme_id=sme_id, profile=given)
            await self.portal.call(rg.PUBLISH_PROFILE, publish, person.actor())
        return RedirectResponse(f"/smes/{sme_id}#profiles", status_code=303)


def _profile_of(sme: rg.SmeView, profile_id: str) -> rg.Profile:
    """One of the SME's draft or published profiles (a withdrawn one is not changed)."""
    found = next((p for p in sme.profiles if p.profile_id == profile_id), None)
    if found is None or found.status not in ("draft", "published"):
        raise Refused("not_found", tr("no draft or published profile %(id)s", id=profile_id))
    return found


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    smes = SmePages(portal)
    people = (*STAFF, "sme")
    pages.get(app, "/smes/new", smes.register_page, *STAFF)
    pages.post(app, "/smes/new", smes.register, *STAFF)
    pages.post(app, "/smes/{sme_id}/stage", smes.stage, *STAFF)
    for path, get, post in (
        ("/smes/{sme_id}/edit", smes.edit_page, smes.edit),
        ("/smes/{sme_id}/profiles/new", smes.profile_page, smes.profile),
        ("/smes/{sme_id}/profiles/{profile_id}/edit", smes.edit_profile_page, smes.profile),
    ):
        pages.get(app, path, get, *people)
        pages.post(app, path, post, *people)
    pages.post(app, "/smes/{sme_id}/profiles/{profile_id}", smes.profile_action, *people)
