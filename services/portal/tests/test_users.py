"""The portal's rules about people and sessions, without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.errors import Refused
from services.portal.domain.users import (
    User,
    check_password,
    invitation,
    new_session,
    password_reset,
    token_digest,
    too_many,
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
    assert not too_many(4, 19) and too_many(5, 0) and too_many(0, 20)


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
