"""People who sign in to the portal, their sessions and the limits on guessing passwords.
No I/O: the store keeps these, the service layer decides with them."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from contracts.access import ROLES, Actor, Role
from contracts.common import SmeRef
from contracts.errors import Refused

# Sign-in attempts let through at once, before each further one waits (see wait_after): per
# account from one address (someone who forgot their password, or a guesser there); per address
# (one guesser trying many accounts); per account from anywhere (guessers spread over many
# addresses). An account's own attempts from elsewhere do not lock its owner out, and an
# administrator lifts a pause with `mapnet user unlock`. A counter is forgotten after a quiet
# window.
FREE_ATTEMPTS = {"pair": 5, "address": 20, "account": 50}
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
ATTEMPT_WINDOW = timedelta(minutes=15)
# How long the attempt after so many waits.
Wait = Callable[[int], timedelta]
MIN_PASSWORD = 10
# Roles a person signs in with; partners and operators use their own credentials.
PERSON_ROLES: tuple[Role, ...] = ("map_admin", "map_staff", "organiser", "sme", "steering")
# Who may invite whom: an administrator anyone, staff the companies' contacts and organisers.
MAY_INVITE: dict[str, tuple[Role, ...]] = {
    "map_admin": PERSON_ROLES,
    "map_staff": ("organiser", "sme"),
}
# A link in a mail works once, for this long: an invitation waits a week for its reader; a
# password reset is asked for by the reader and is a key to the account while it lasts.
LINK_LASTS: dict[str, timedelta] = {
    "invitation": timedelta(days=7),
    "password_reset": timedelta(hours=2),
}


@dataclass
class User:
    email: str
    role: Role
    region: str
    password_hash: str
    sme_id: str | None = None
    event_ids: list[str] = field(default_factory=list)
    # A disabled person cannot sign in, their sessions are ended, no reset link is made for
    # them; their account stays (enabled again, they sign in with the same password).
    disabled: bool = False
    # The language of their pages, one the portal has (its code: "de"); None: as their browser
    # asks.
    language: str | None = None

    @classmethod
    def new(
        cls,
        email: str,
        role: str,
        region: str,
        password_hash: str,
        sme_id: str | None = None,
        event_ids: list[str] | None = None,
    ) -> User:
        if role not in PERSON_ROLES:
            raise _invalid("role", f"a person signs in as one of {', '.join(PERSON_ROLES)}")
        if role == "sme" and not sme_id:
            raise _invalid("sme", N_("an SME's contact names the SME they act for"))
        known = next(r for r in ROLES if r == role)
        return cls(email.strip().lower(), known, region, password_hash, sme_id, event_ids or [])

    def sme_ref(self) -> SmeRef:
        """The SME a company's contact acts for."""
        return SmeRef(sme_id=str(self.sme_id), region=self.region)

    def actor(self) -> Actor:
        """Whom the portal's requests act for: this person, in their role and region."""
        return Actor(
            id=self.email, role=self.role, region=self.region, sme_id=self.sme_id,
            event_ids=self.event_ids or None,
        )  # fmt: skip


@dataclass(frozen=True)
class Link:
    """What a one-use link in a mail lets its reader do: join as this person (an invitation)
    or choose a new password (a reset)."""

    purpose: Literal["invitation", "password_reset"]
    email: str
    role: Role
    region: str
    expires_at: datetime
    sme_id: str | None = None
    event_ids: tuple[str, ...] = ()
    name: str = ""  # whom an invitation greets (the mail sent again greets them the same)

    def usable(self, now: datetime) -> bool:
        return now < self.expires_at


def invitation(inviter: User, email: str, role: str, now: datetime, sme_id: str | None = None,
               event_ids: list[str] | None = None, name: str = "") -> Link:  # fmt: skip
    """An invitation to the inviter's region, in a role the inviter may hand out."""
    may_hand_out(inviter, role)
    person = User.new(email, role, inviter.region, "", sme_id, event_ids)  # checks role and SME
    return Link("invitation", person.email, person.role, person.region,
                now + LINK_LASTS["invitation"], person.sme_id, tuple(person.event_ids),
                name.strip()[:200])  # fmt: skip


def may_hand_out(manager: User, role: str) -> None:
    """Refused unless the manager may give this role (invite to it, or change someone to or
    from it): an administrator any, staff the companies' contacts and organisers."""
    if role not in MAY_INVITE.get(manager.role, ()):
        allowed = ", ".join(MAY_INVITE.get(manager.role, ())) or "nobody"
        raise Refused("forbidden", f"a {manager.role} invites only: {allowed}")


def may_manage(manager: User, person: User) -> None:
    """Refused unless the manager may change this person's account (role, disabling): one of
    their region, in a role the manager hands out, and never their own (an administrator who
    demoted or disabled themselves would leave the region without one)."""
    if person.email == manager.email:
        raise Refused("forbidden", N_("nobody changes their own account here"))
    if person.region != manager.region:
        raise Refused("not_found", N_("no such person in this region"))
    may_hand_out(manager, person.role)


def with_role(manager: User, person: User, role: str, sme_id: str | None,
              event_ids: list[str] | None) -> User:  # fmt: skip
    """The person in another role (the SME they act for, or the events they organise, with
    it), if the manager may manage them and hand out the new role."""
    may_manage(manager, person)
    may_hand_out(manager, role)
    changed = User.new(person.email, role, person.region, person.password_hash,
                       sme_id if role == "sme" else None,
                       event_ids if role == "organiser" else None)  # fmt: skip
    changed.disabled, changed.language = person.disabled, person.language
    return changed


def with_language(person: User, language: str, offered: Collection[str]) -> User:
    """The person writing their pages in this language: one the portal offers, or none ("")
    to follow their browser's."""
    chosen = language.strip() or None
    if chosen is not None and chosen not in offered:
        raise _invalid("language", N_("choose one of the languages offered"))
    return replace(person, language=chosen)


def password_reset(user: User, now: datetime) -> Link:
    if user.disabled:
        raise Refused("forbidden", N_("this account is disabled: ask your MAP office"))
    return Link("password_reset", user.email, user.role, user.region,
                now + LINK_LASTS["password_reset"], user.sme_id, tuple(user.event_ids))  # fmt: skip


def new_link_token() -> tuple[str, str]:
    """(the token for the mail, the digest the store keeps): a copy of the store opens no link."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def N_(message: str) -> str:  # the name gettext tools look for
    """Marks a message for the portal's catalogue; the page that shows it translates it."""
    return message


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise _invalid("password", f"a password has at least {MIN_PASSWORD} characters")


def _invalid(field_name: str, message: str) -> Refused:
    problem = {"field": field_name, "message": message, "type": "value_error"}
    return Refused("validation_failed", message, fields=[problem])


@dataclass(frozen=True)
class NewSession:
    """A session as the browser holds it (the token) and as the store keeps it (its digest)."""

    token: str
    digest: str
    csrf: str
    expires_at: datetime


def new_session(now: datetime, lasts: timedelta) -> NewSession:
    token = secrets.token_urlsafe(32)
    return NewSession(token, token_digest(token), secrets.token_urlsafe(24), now + lasts)


def token_digest(token: str) -> str:
    """Sessions are stored by digest: a copy of the store signs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


def wait_after(attempts: int, free: int) -> timedelta:
    """How long the next attempt waits after these: none while some are free, then 30 s,
    doubling with each attempt, up to 15 minutes."""
    if attempts < free:
        return timedelta(0)
    return min(FIRST_WAIT * 2 ** min(attempts - free, 10), LONGEST_WAIT)


def attempt_keys(email: str, address: str) -> dict[str, str]:
    """The counters a sign-in attempt counts on, by kind (see FREE_ATTEMPTS)."""
    account = email.strip().lower()
    return {"pair": f"pair:{account}|{address}", "address": f"address:{address}",
            "account": f"account:{account}"}  # fmt: skip
