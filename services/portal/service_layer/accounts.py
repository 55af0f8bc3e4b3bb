"""Signing in and out, and adding people: one use case per method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.errors import Refused

from ..domain.users import (
    ATTEMPT_WINDOW,
    NewSession,
    User,
    check_password,
    new_session,
    token_digest,
    too_many,
)


class Store(Protocol):
    async def user(self, email: str) -> User | None: ...
    async def put_user(self, user: User) -> None: ...
    async def add_session(self, session: NewSession, email: str) -> None: ...
    async def session(self, digest: str) -> dict[str, Any] | None: ...
    async def end_session(self, digest: str) -> None: ...
    async def failures_since(self, key: str, since: datetime) -> int: ...
    async def failed(self, key: str, now: datetime, since: datetime) -> None: ...
    async def clear_failures(self, key: str) -> None: ...


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

    async def sign_in(self, email: str, password: str, address: str) -> tuple[User, NewSession]:
        now = self.clock()
        since = now - ATTEMPT_WINDOW
        account, place = f"account:{email.strip().lower()}", f"address:{address}"
        if too_many(
            await self.store.failures_since(account, since),
            await self.store.failures_since(place, since),
        ):
            raise Refused("forbidden", "too many failed sign-ins: try again in 15 minutes")
        user = await self.store.user(email)
        if not await self.verified(password, user.password_hash if user else None):
            await self.store.failed(account, now, since)
            await self.store.failed(place, now, since)
            raise Refused("forbidden", "wrong email or password")
        assert user is not None
        await self.store.clear_failures(account)
        session = new_session(now, self.lasts)
        await self.store.add_session(session, user.email)
        return user, session

    async def signed_in(self, token: str) -> tuple[User, str] | None:
        """The person and the CSRF token of a live session, if the token is one."""
        found = await self.store.session(token_digest(token))
        if found is None or found["expires_at"] < self.clock().isoformat():
            return None
        user = await self.store.user(found["email"])
        return (user, found["csrf"]) if user else None

    async def sign_out(self, token: str) -> None:
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
        return user
