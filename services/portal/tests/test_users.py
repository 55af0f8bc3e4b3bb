"""The portal's rules about people and sessions, without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.errors import Refused
from services.portal.domain.users import (
    User,
    check_password,
    invitation,
    new_session,
    password_reset,
    token_digest,
    wait_after,
)


def test_people_sign_in_in_a_persons_role_and_a_contact_names_their_sme() -> None:
    user = User.new(" Mari@Example.EE ", "sme", "tallinn", "hash", sme_id="s1")
    assert user.email == "mari@example.ee"
    assert user.actor().sme_id == "s1" and user.actor().role == "sme"
    for role, sme in (("partner", None), ("operator", None), ("sme", None)):
        with pytest.raises(Refused) as refused:
            User.new("a@b.ee", role, "tallinn", "hash", sme_id=sme)
        assert refused.value.code == "validation_failed"
    with pytest.raises(Refused):
        check_password("short")


def test_sessions_are_kept_by_digest_and_guessing_pauses() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    session = new_session(now, timedelta(hours=2))
    assert session.digest == token_digest(session.token) != session.token
    assert session.expires_at == now + timedelta(hours=2) and len(session.csrf) > 20
    waits = [wait_after(n, free=5).total_seconds() for n in range(4, 12)]
    assert waits == [0, 30, 60, 120, 240, 480, 900, 900]  # doubling, up to 15 minutes


def test_who_invites_whom_and_how_long_a_link_works() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    admin = User.new("admin@t.ee", "map_admin", "tallinn", "h")
    staff = User.new("staff@t.ee", "map_staff", "tallinn", "h")
    contact = User.new("mari@t.ee", "sme", "tallinn", "h", sme_id="s1")
    assert invitation(admin, "new@t.ee", "map_staff", now).expires_at == now + timedelta(days=7)
    link = invitation(staff, "Mari2@T.ee", "sme", now, sme_id="s1")
    assert (link.email, link.role, link.region, link.sme_id) == (
        "mari2@t.ee",
        "sme",
        "tallinn",
        "s1",
    )
    for inviter, role in ((staff, "map_admin"), (staff, "map_staff"), (contact, "sme")):
        with pytest.raises(Refused) as refused:
            invitation(inviter, "x@t.ee", role, now, sme_id="s1")
        assert refused.value.code == "forbidden"
    with pytest.raises(Refused):
        invitation(staff, "x@t.ee", "sme", now)  # a contact names their SME
    reset = password_reset(contact, now)
    assert reset.usable(now + timedelta(minutes=119)) and not reset.usable(now + timedelta(hours=2))


async def test_a_session_is_kept_in_memory_a_moment_and_dropped_at_sign_out() -> None:
    from services.portal.service_layer.accounts import SEEN_FOR, Accounts

    class Store:
        reads = 0
        sessions: dict[str, Any] = {}

        async def session(self, digest: str) -> dict[str, Any] | None:
            Store.reads += 1
            return self.sessions.get(digest)

        async def user(self, email: str) -> User:
            return User.new(email, "map_staff", "tallinn", "h")

        async def end_session(self, digest: str) -> None:
            self.sessions.pop(digest, None)

    now = [datetime(2026, 11, 30, tzinfo=UTC)]
    accounts = Accounts(Store(), None, None, 1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    session = new_session(now[0], timedelta(hours=1))
    Store.sessions[session.digest] = {"email": "a@t.ee", "csrf": session.csrf,
                                      "expires_at": session.expires_at.isoformat()}  # fmt: skip
    assert await accounts.signed_in(session.token) and await accounts.signed_in(session.token)
    assert Store.reads == 1
    now[0] += SEEN_FOR
    assert await accounts.signed_in(session.token) and Store.reads == 2
    await accounts.sign_out(session.token)
    assert await accounts.signed_in(session.token) is None
