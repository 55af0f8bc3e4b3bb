"""Pages about people's accounts: one's own (the language of one's pages), inviting someone,
the one-use links of the invitation and password reset mails (notify sends them), and the list
of the region's people."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, get_args

from fastapi import FastAPI, Request
from fastapi.responses import Response

from contracts import notify as nt
from contracts.access import STAFF
from contracts.errors import Refused

from ..domain.users import MAY_INVITE, Link, User
from . import i18n
from .forms import posted, validated
from .i18n import tr

MAIL_KINDS = get_args(nt.MailKind)

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal


class AccountPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.mailing: set[asyncio.Task[None]] = set()

    async def _mail(self, token: str, link: Link, name: str = "") -> None:
        name = name or link.name
        path = "welcome" if link.purpose == "invitation" else "reset"
        mail = nt.SendAccountMail(
            kind=link.purpose,
            email=link.email,
            name=name,
            region=link.region,
            role=link.role,
            link=f"{self.portal.base_url}/{path}/{token}",
            expires_at=link.expires_at,
        )
        await self.portal.call(nt.SEND_ACCOUNT_MAIL, mail, self.portal.public())

    async def people(self, request: Request, person: User, said: str = "") -> Response:
        """The region's people and the invitations not yet taken up; each a manager may manage
        (a role they hand out, never themselves) with its controls."""
        accounts = self.portal.accounts
        found, pending = await asyncio.gather(
            accounts.people(person.region), accounts.pending_invitations(person.region)
        )
        roles = MAY_INVITE[person.role]
        return self.portal.page(request, "people.html", person=person, people=found,
                                pending=pending, roles=roles,
                                said=said)  # fmt: skip

    async def invitation_action(self, request: Request, person: User) -> Response:
        """An invitation sent again (a new link, the old ones void) or revoked."""
        form = await posted(request)
        email, action = str(form.get("email") or ""), str(form.get("action") or "")
        accounts = self.portal.accounts
        if action == "resend":
            token, link = await accounts.resend_invitation(person, email)
            await self._mail(token, link)
            said = tr("The invitation to %(email)s is sent again; the earlier link no longer "
                      "works.", email=link.email)  # fmt: skip
        elif action == "revoke":
            link = await accounts.revoke_invitation(person, email)
            said = tr("The invitation to %(email)s is revoked.", email=link.email)
        else:
            raise Refused("validation_failed", tr("unknown action"))
        return await self.people(request, person, said)

    async def person_action(self, request: Request, person: User) -> Response:
        """A person's role changed, or the person disabled or enabled: their sessions end."""
        form = await posted(request)
        email, action = str(form.get("email") or ""), str(form.get("action") or "")
        accounts = self.portal.accounts
        if action == "role":
            acts_for = [a.strip() for a in str(form.get("acts_for") or "").split(",") if a.strip()]
            role = str(form.get("role") or "")
            changed = await accounts.change_role(
                person, email, role, acts_for[0] if acts_for else None, acts_for
            )
            said = tr("%(email)s is now %(role)s; their sessions have ended.",
                      email=changed.email, role=changed.role.replace("_", " "))  # fmt: skip
        elif action in ("disable", "enable"):
            changed = await accounts.set_disabled(person, email, action == "disable")
            said = (tr("%(email)s is disabled: their sessions have ended and they cannot sign "
                       "in.", email=changed.email) if changed.disabled
                    else tr("%(email)s may sign in again.", email=changed.email))  # fmt: skip
        else:
            raise Refused("validation_failed", tr("unknown action"))
        return await self.people(request, person, said)

    async def invite(self, request: Request, person: User) -> Response:
        form = await posted(request)
        event_ids = [e.strip() for e in str(form.get("event_ids") or "").split(",") if e.strip()]
        token, link = await self.portal.accounts.invite(
            person,
            str(form.get("email", "")),
            str(form.get("role", "")),
            str(form.get("sme_id") or "") or None,
            event_ids,
            str(form.get("name") or ""),
        )
        await self._mail(token, link, str(form.get("name") or ""))
        return self.portal.page(
            request,
            "notice.html",
            person=person,
            title=tr("Invitation sent"),
            message=tr(
                "%(email)s is invited as %(role)s; the link in the mail works once, for 7 days.",
                email=link.email,
                role=link.role.replace("_", " "),
            ),
        )

    async def choose_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        link = await self.portal.accounts.link(token)
        return self.portal.page(
            request, "choose_password.html", person=None, link=link, token=token, error=None
        )

    async def choose(self, request: Request) -> Response:
        form = await posted(request)
        token = request.path_params["token"]
        password = str(form.get("password", ""))
        try:
            if password != str(form.get("repeat", "")):
                raise Refused("validation_failed", tr("the two passwords differ"))
            _, session = await self.portal.accounts.redeem(token, password)
        except Refused as refusal:
            if refusal.code != "validation_failed":
                raise
            link = await self.portal.accounts.link(token)
            return self.portal.page(request, "choose_password.html", 400, person=None, link=link,
                                    token=token, error=refusal.message)  # fmt: skip
        return self.portal.signed_in_at("/", session)

    async def preferences_page(self, request: Request, person: User) -> Response:
        asked = nt.GetPreferences(email=person.email)
        now = await self.portal.call(nt.GET_PREFERENCES, asked, person.actor())
        return self.portal.page(request, "preferences.html", person=person, now=now,
                                kinds=MAIL_KINDS, saved=False)  # fmt: skip

    async def preferences(self, request: Request, person: User) -> Response:
        form = await posted(request)
        chosen = {k: form.get(f"kind-{k}") for k in MAIL_KINDS if form.get(f"kind-{k}")}
        command = validated(nt.SetPreferences, {
            "email": person.email, "language": form.get("language") or "en", "kinds": chosen,
            "consent": form.get("consent") == "on"})  # fmt: skip
        now = await self.portal.call(nt.SET_PREFERENCES, command, person.actor())
        return self.portal.page(request, "preferences.html", person=person, now=now,
                                kinds=MAIL_KINDS, saved=True)  # fmt: skip

    async def account_page(self, request: Request, person: User, status: int = 200,
                           saved: bool = False, problem: str = "") -> Response:  # fmt: skip
        """The person's own account: the language of their pages, with how it writes dates
        and numbers."""
        return self.portal.page(request, "account.html", status, person=person,
                                languages=self.portal.languages.choices(), saved=saved,
                                problem=problem, today=datetime.now(UTC),
                                example_number=1234567.5)  # fmt: skip

    async def account(self, request: Request, person: User) -> Response:
        """The language chosen: this answer is in it already. A language the portal does not
        offer is said on the form, not a crash."""
        form = await posted(request)
        offered = [code for code, _ in self.portal.languages.choices()]
        try:
            chosen = await self.portal.accounts.choose_language(
                person, str(form.get("language") or "")[:32], offered
            )
        except Refused as refusal:
            if refusal.code != "validation_failed":
                raise
            return await self.account_page(request, person, 400, problem=tr(refusal.message))
        i18n.speak(
            self.portal.languages.for_request(
                chosen.language, request.headers.get("accept-language")
            )
        )
        return await self.account_page(request, chosen, saved=True)

    async def forgot_page(self, request: Request) -> Response:
        return self.portal.page(request, "forgot.html", person=None, sent=False)

    async def forgot(self, request: Request) -> Response:
        """The same answer, as fast, whether or not the address has an account: the link is
        made and mailed after the answer has gone."""
        form = await posted(request)
        try:
            await self.portal.accounts.may_ask_reset(request.client.host if request.client else "")
        except Refused as refusal:
            wait = str(refusal.details["retry_after_s"])
            shown = self.portal.page(request, "error.html", 429, code="forbidden", person=None,
                                     message=tr(refusal.message))  # fmt: skip
            shown.headers["Retry-After"] = wait
            return shown
        task = asyncio.create_task(self._reset(str(form.get("email", ""))[:320]))
        self.mailing.add(task)
        task.add_done_callback(self.mailing.discard)
        return self.portal.page(request, "forgot.html", person=None, sent=True)

    async def _reset(self, email: str) -> None:
        try:
            if made := await self.portal.accounts.forgot(email):
                await self._mail(*made)
        except Exception:  # nobody waits for it: said in the log
            if self.portal.log is not None:
                self.portal.log.exception("reset_mail_failed")


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    accounts = AccountPages(portal)
    pages.get(app, "/people", accounts.people, *STAFF)
    pages.post(app, "/invitations", accounts.invite, *STAFF)
    pages.post(app, "/invitations/pending", accounts.invitation_action, *STAFF)
    pages.post(app, "/people", accounts.person_action, *STAFF)
    for path in ("/welcome/{token}", "/reset/{token}"):
        app.add_api_route(path, accounts.choose_page, methods=["GET"])
        app.add_api_route(path, accounts.choose, methods=["POST"])
    pages.get(app, "/account", accounts.account_page)
    pages.post(app, "/account", accounts.account)
    pages.get(app, "/preferences", accounts.preferences_page)
    pages.post(app, "/preferences", accounts.preferences)
    app.add_api_route("/forgot", accounts.forgot_page, methods=["GET"])
    app.add_api_route("/forgot", accounts.forgot, methods=["POST"])
