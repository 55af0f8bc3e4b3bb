"""Signing in and out, and adding people: one use case per method."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol

from contracts.errors import Refused

from ..domain.users import (
    ATTEMPT_WINDOW,
    FREE_ATTEMPTS,
    N_,
    Link,
    NewSession,
    User,
    Wait,
    attempt_keys,
    check_password,
    invitation,
    may_hand_out,
    may_manage,
    new_link_token,
    new_session,
    password_reset,
    token_digest,
    wait_after,
    with_language,
    with_role,
)

SEEN_FOR = timedelta(seconds=2)
# Reset mails asked for before further ones wait: per account (its mailbox), per address.
RESETS_PER_ACCOUNT = 3
RESETS_PER_ADDRESS = 10


class Store(Protocol):
    async def user(self, email: str) -> User | None: ...
    async def put_user(self, user: User) -> None: ...
    async def add_session(self, session: NewSession, email: str) -> None: ...
    async def session(self, digest: str) -> dict[str, Any] | None: ...
    async def end_session(self, digest: str) -> None: ...
    async def reserve_attempt(
        self,
        key: str,
        account: str,
        now: datetime,
        since: datetime,
        wait: Wait,
    ) -> datetime | None: ...
    async def clear_attempts(self, key: str) -> None: ...
    async def release_attempt(self, key: str) -> None: ...
    async def clear_attempts_of(self, account: str) -> None: ...
    async def add_link(self, digest: str, link: Link) -> None: ...
    async def link(self, digest: str) -> Link | None: ...
    async def use_link(self, digest: str) -> bool: ...
    async def drop_links_of(self, email: str) -> None: ...
    async def end_sessions_of(self, email: str) -> None: ...
    async def set_language(self, email: str, language: str | None) -> bool: ...
    async def people(self, region: str) -> list[User]: ...
    async def invitations(self, region: str) -> list[Link]: ...
    async def drop_invitations_of(self, email: str) -> int: ...


class Accounts:
    def __init__(
        self,
        store: Store,
        hashed: Callable[[str], Awaitable[str]],
        verified: Callable[[str, str | None], Awaitable[bool]],
        session_hours: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.hashed, self.verified = store, hashed, verified
        self.lasts = timedelta(hours=session_hours)
        self.clock = clock
        self._seen: dict[str, tuple[datetime, tuple[User, str]]] = {}

    async def sign_in(self, email: str, password: str, address: str) -> tuple[User, NewSession]:
        """The person and a new session, if the password is theirs. Each attempt is counted
        before the password is checked (the check is slow on purpose, and parallel guesses must
        not all pass a count made after it), on every counter it belongs to."""
        now = self.clock()
        keys, account = attempt_keys(email, address), email.strip().lower()
        for kind, key in keys.items():
            wait = partial(wait_after, free=FREE_ATTEMPTS[kind])
            until = await self.store.reserve_attempt(key, account, now, now - ATTEMPT_WINDOW, wait)
            if until is not None:
                raise Refused(
                    "forbidden", N_("too many failed sign-ins: wait a while and try again"),
                    retry_after_s=max(1, math.ceil((until - now).total_seconds())),
                )  # fmt: skip
        user = await self.store.user(email)
        if not await self.verified(password, user.password_hash if user else None):
            raise Refused("forbidden", N_("wrong email or password"))
        assert user is not None
        if user.disabled:  # told only to whoever knows the password
            raise Refused("forbidden", N_("this account is disabled: ask your MAP office"))
        await self.store.clear_attempts(keys["pair"])
        await self.store.clear_attempts(keys["account"])
        # The address counts failures: a sign-in that succeeded gives back what it reserved
        # there (a whole office behind one address signs in every morning), while the
        # failures of others from that address stay counted.
        await self.store.release_attempt(keys["address"])
        session = new_session(now, self.lasts)
        await self.store.add_session(session, user.email)
        return user, session

    async def unlock(self, email: str) -> None:
        """An administrator lifts every pause on signing in to this account (`mapnet user
        unlock`)."""
        await self.store.clear_attempts_of(email.strip().lower())

    async def signed_in(self, token: str) -> tuple[User, str] | None:
        """The person and the CSRF token of a live session, if the token is one."""
        digest, now = token_digest(token), self.clock()
        if (seen := self._seen.get(digest)) and now < seen[0]:
            return seen[1]
        found = await self.store.session(digest)
        if found is None or found["expires_at"] < now.isoformat():
            return None
        user = await self.store.user(found["email"])
        if user is None or user.disabled:
            return None
        # Every request looks its session up: kept for a moment, so that a busy portal does not
        # read the store twice per request. Sign-out and erasure here drop it at once; another
        # portal process may honour it for SEEN_FOR more at most.
        until = min(now + SEEN_FOR, datetime.fromisoformat(found["expires_at"]))
        self._seen[digest] = (until, (user, found["csrf"]))
        if len(self._seen) > 10_000:
            self._seen.clear()
        return user, found["csrf"]

    async def choose_language(self, person: User, language: str, offered: Collection[str]) -> User:
        """The person's pages in the language they chose (one of those offered; "" for their
        browser's), from their next page on: their sessions kept in memory are dropped."""
        chosen = with_language(person, language, offered)
        if not await self.store.set_language(chosen.email, chosen.language):
            raise Refused("not_found", N_("this account no longer exists"))
        self._seen = {k: v for k, v in self._seen.items() if v[1][0].email != chosen.email}
        return chosen

    def forget_sessions(self) -> None:
        """After people were removed: no session is taken from memory any more."""
        self._seen.clear()

    async def sign_out(self, token: str) -> None:
        self._seen.pop(token_digest(token), None)
        await self.store.end_session(token_digest(token))

    async def add_user(
        self,
        email: str,
        role: str,
        region: str,
        password: str,
        sme_id: str | None = None,
        event_ids: list[str] | None = None,
    ) -> User:
        check_password(password)
        user = User.new(email, role, region, await self.hashed(password), sme_id, event_ids)
        await self.store.put_user(user)
        await self.unlock(user.email)  # a password set from the command line lifts any pause
        return user

    async def people(self, region: str) -> list[User]:
        return await self.store.people(region)

    # --- links in mails: invitations and password resets -------------------------------------

    async def invite(
        self, inviter: User, email: str, role: str, sme_id: str | None = None,
        event_ids: list[str] | None = None, name: str = "",
    ) -> tuple[str, Link]:  # fmt: skip
        """A link for the mail that makes the invited person a user; the token, then what it
        grants."""
        link = invitation(inviter, email, role, self.clock(), sme_id, event_ids, name)
        if await self.store.user(link.email) is not None:
            raise Refused("duplicate", f"{link.email} has an account already")
        token, digest = new_link_token()
        await self.store.add_link(digest, link)
        return token, link

    # --- the office's people: invitations pending, roles, disabling ---------------------------

    async def pending_invitations(self, region: str) -> list[Link]:
        """Every invitation of the region not yet taken up, newest expiry first (expired ones
        too, so that they can be sent again): one per address, the latest."""
        latest: dict[str, Link] = {}
        for link in await self.store.invitations(region):
            if link.email not in latest or link.expires_at > latest[link.email].expires_at:
                latest[link.email] = link
        return sorted(latest.values(), key=lambda k: (k.expires_at, k.email), reverse=True)

    async def _invitation(self, manager: User, email: str) -> Link:
        wanted = email.strip().lower()
        found = [k for k in await self.pending_invitations(manager.region) if k.email == wanted]
        if not found:
            raise Refused("not_found", N_("no invitation pending for this address"))
        may_hand_out(manager, found[0].role)
        return found[0]

    async def resend_invitation(self, manager: User, email: str) -> tuple[str, Link]:
        """The invitation again, with a new link for another 7 days: the earlier links of the
        address stop working."""
        old = await self._invitation(manager, email)
        token, digest = new_link_token()
        link = invitation(manager, old.email, old.role, self.clock(), old.sme_id,
                          list(old.event_ids), old.name)  # fmt: skip
        await self.store.drop_invitations_of(old.email)
        await self.store.add_link(digest, link)
        return token, link

    async def revoke_invitation(self, manager: User, email: str) -> Link:
        """Every link of the invitation stops working."""
        old = await self._invitation(manager, email)
        await self.store.drop_invitations_of(old.email)
        return old

    async def _person(self, manager: User, email: str) -> User:
        person = await self.store.user(email)
        if person is None or person.region != manager.region:
            raise Refused("not_found", N_("no such person in this region"))
        may_manage(manager, person)
        return person

    async def change_role(
        self, manager: User, email: str, role: str, sme_id: str | None = None,
        event_ids: list[str] | None = None,
    ) -> User:  # fmt: skip
        """The person in their new role, at once: their sessions end (a page open in the old
        role cannot act in it any more)."""
        person = with_role(manager, await self._person(manager, email), role, sme_id, event_ids)
        await self.store.put_user(person)
        await self.store.end_sessions_of(person.email)
        self.forget_sessions()
        return person

    async def set_disabled(self, manager: User, email: str, disabled: bool) -> User:
        """Disabled: their sessions and links end and they cannot sign in; enabled again: they
        sign in with their password."""
        person = await self._person(manager, email)
        person.disabled = disabled
        await self.store.put_user(person)
        if disabled:
            await self.store.end_sessions_of(person.email)
            await self.store.drop_links_of(person.email)
            self.forget_sessions()
        return person

    async def may_ask_reset(self, address: str) -> None:
        """Refused when this address asked for too many reset links lately (whether or not
        the addresses had accounts: the refusal tells nothing about them)."""
        now = self.clock()
        wait = partial(wait_after, free=RESETS_PER_ADDRESS)
        key = f"reset-address:{address}"
        if until := await self.store.reserve_attempt(key, "", now, now - ATTEMPT_WINDOW, wait):
            raise Refused(
                "forbidden", N_("too many password resets asked for: wait a while and try again"),
                retry_after_s=max(1, math.ceil((until - now).total_seconds())),
            )  # fmt: skip

    async def forgot(self, email: str) -> tuple[str, Link] | None:
        """A reset link for a person with an account; None otherwise, or when the account had
        RESETS_PER_ACCOUNT links lately (no one fills a person's mailbox with them)."""
        user = await self.store.user(email)
        if user is None or user.disabled:
            return None
        now = self.clock()
        wait = partial(wait_after, free=RESETS_PER_ACCOUNT)
        key = f"reset:{user.email}"
        if await self.store.reserve_attempt(key, user.email, now, now - ATTEMPT_WINDOW, wait):
            return None
        token, digest = new_link_token()
        link = password_reset(user, self.clock())
        await self.store.add_link(digest, link)
        return token, link

    async def link(self, token: str) -> Link:
        link = await self.store.link(token_digest(token))
        if link is None or not link.usable(self.clock()):
            raise Refused(
                "not_found", N_("this link was used already or has expired: ask for a new one")
            )
        return link

    async def redeem(self, token: str, password: str) -> tuple[User, NewSession]:
        """The password chosen through a link: the invited person's account is made, or the
        person's password replaced (and every session of the old one ended); then signed in."""
        link = await self.link(token)
        check_password(password)
        hashed = await self.hashed(password)
        if not await self.store.use_link(token_digest(token)):
            raise Refused("not_found", N_("this link was used already: ask for a new one"))
        # The person's other links go with it: an older reset mail is no key any more.
        await self.store.drop_links_of(link.email)
        if link.purpose == "invitation":
            if await self.store.user(link.email) is not None:
                raise Refused("duplicate", f"{link.email} has an account already: sign in")
            user = User.new(link.email, link.role, link.region, hashed, link.sme_id,
                            list(link.event_ids))  # fmt: skip
        else:
            found = await self.store.user(link.email)
            if found is None:
                raise Refused("not_found", N_("this account no longer exists"))
            if found.disabled:
                raise Refused("forbidden", N_("this account is disabled: ask your MAP office"))
            user = replace(found, password_hash=hashed)
            await self.store.end_sessions_of(user.email)
            self.forget_sessions()
        await self.store.put_user(user)
        await self.unlock(user.email)
        session = new_session(self.clock(), self.lasts)
        await self.store.add_session(session, user.email)
        return user, session
