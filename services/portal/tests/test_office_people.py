"""The office's people without servers (issue 31 item 15): invitations not yet taken up, sent
again (a new link, the old one void) or revoked; a person's role changed; a person disabled
(their sessions end, they cannot sign in or reset their password) and enabled again. Each
refused to the roles it is not for, to staff for roles they do not hand out, to anyone on their
own account and for another region's person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.errors import Refused
from services.portal.domain.users import User
from services.portal.service_layer.accounts import Accounts

from .test_routes import MemoryStore

PASSWORD = "correct horse battery"


async def _hashed(password: str) -> str:
    return f"h:{password}"


async def _verified(password: str, hashed: str | None) -> bool:
    return hashed == f"h:{password}"


NOW = datetime(2027, 2, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def office() -> tuple[Accounts, dict[str, User]]:
    accounts = Accounts(MemoryStore(), _hashed, _verified, 12, clock=lambda: NOW)
    people = {
        "admin": await accounts.add_user("admin@t.ee", "map_admin", "tallinn", PASSWORD),
        "staff": await accounts.add_user("staff@t.ee", "map_staff", "tallinn", PASSWORD),
        "staff2": await accounts.add_user("staff2@t.ee", "map_staff", "tallinn", PASSWORD),
        "org": await accounts.add_user(
            "org@t.ee", "organiser", "tallinn", PASSWORD, event_ids=["e1"]
        ),
        "mari": await accounts.add_user("mari@t.ee", "sme", "tallinn", PASSWORD, sme_id="s1"),
        "steering": await accounts.add_user("steer@t.ee", "steering", "tallinn", PASSWORD),
        "riga": await accounts.add_user("staff@riga.lv", "map_staff", "riga", PASSWORD),
        "riga_admin": await accounts.add_user("admin@riga.lv", "map_admin", "riga", PASSWORD),
    }
    return accounts, people


async def test_an_invitation_is_sent_again_with_a_new_link_or_revoked(
    office: tuple[Accounts, dict[str, User]],
) -> None:
    accounts, people = office
    first, _ = await accounts.invite(people["staff"], "new@t.ee", "sme", "s2", name="Uku")
    await accounts.invite(people["admin"], "boss@t.ee", "map_staff")
    pending = await accounts.pending_invitations("tallinn")
    assert {(k.email, k.role, k.name) for k in pending} == {
        ("new@t.ee", "sme", "Uku"),
        ("boss@t.ee", "map_staff", ""),
    }
    assert await accounts.pending_invitations("riga") == []

    again, link = await accounts.resend_invitation(people["staff"], "New@T.ee")
    assert (link.email, link.sme_id, link.name) == ("new@t.ee", "s2", "Uku") and again != first
    with pytest.raises(Refused) as void:
        await accounts.link(first)  # the earlier link no longer works
    assert void.value.code == "not_found"
    assert (await accounts.link(again)).email == "new@t.ee"
    assert len(await accounts.pending_invitations("tallinn")) == 2  # one per address

    # Staff do not hand out staff roles: neither resend nor revoke such an invitation.
    for act in (accounts.resend_invitation, accounts.revoke_invitation):
        with pytest.raises(Refused) as refused:
            await act(people["staff"], "boss@t.ee")
        assert refused.value.code == "forbidden"
        for who in ("org", "mari", "steering"):
            with pytest.raises(Refused) as refused:
                await act(people[who], "new@t.ee")
            assert refused.value.code == "forbidden", who
        with pytest.raises(Refused) as elsewhere:  # another region's staff see none of it
            await act(people["riga"], "new@t.ee")
        assert elsewhere.value.code == "not_found"
    assert (await accounts.link(again)).email == "new@t.ee"  # none of that touched it

    await accounts.revoke_invitation(people["staff"], "new@t.ee")
    with pytest.raises(Refused):
        await accounts.link(again)
    assert [k.email for k in await accounts.pending_invitations("tallinn")] == ["boss@t.ee"]
    await accounts.revoke_invitation(people["admin"], "boss@t.ee")
    assert await accounts.pending_invitations("tallinn") == []


async def test_a_role_changed_takes_effect_at_once(
    office: tuple[Accounts, dict[str, User]],
) -> None:
    accounts, people = office
    _, session = await accounts.sign_in("org@t.ee", PASSWORD, "10.0.0.1")
    changed = await accounts.change_role(people["staff"], "org@t.ee", "sme", "s9", ["s9"])
    assert (changed.role, changed.sme_id, changed.event_ids) == ("sme", "s9", [])
    assert await accounts.signed_in(session.token) is None  # the old role's session ended
    user, _ = await accounts.sign_in("org@t.ee", PASSWORD, "10.0.0.1")
    assert user.role == "sme" and user.actor().sme_id == "s9"
    promoted = await accounts.change_role(people["admin"], "staff2@t.ee", "map_admin", None, [])
    assert promoted.role == "map_admin"

    refusals = [
        ("staff", "staff2@t.ee", "organiser", "forbidden"),  # staff do not manage staff
        ("staff", "mari@t.ee", "map_staff", "forbidden"),  # nor hand out a staff role
        ("staff", "steer@t.ee", "sme", "forbidden"),
        ("admin", "admin@t.ee", "map_staff", "forbidden"),  # nobody changes their own
        ("mari", "org@t.ee", "organiser", "forbidden"),
        ("org", "mari@t.ee", "organiser", "forbidden"),
        ("steering", "mari@t.ee", "organiser", "forbidden"),
        ("riga", "mari@t.ee", "organiser", "not_found"),  # another region's person
        ("riga_admin", "mari@t.ee", "organiser", "not_found"),
        ("admin", "nobody@t.ee", "organiser", "not_found"),
        ("staff", "mari@t.ee", "sme", "validation_failed"),  # a contact names their SME
    ]
    for manager, email, role, code in refusals:
        with pytest.raises(Refused) as refused:
            await accounts.change_role(people[manager], email, role, None, [])
        assert refused.value.code == code, (manager, email, role)
    assert (await accounts.store.user("mari@t.ee")).role == "sme"  # type: ignore[union-attr]


async def test_a_disabled_person_is_signed_out_and_cannot_come_back_until_enabled(
    office: tuple[Accounts, dict[str, User]],
) -> None:
    accounts, people = office
    _, session = await accounts.sign_in("mari@t.ee", PASSWORD, "10.0.0.2")
    reset, _ = await accounts.forgot("mari@t.ee") or ("", None)
    assert (await accounts.set_disabled(people["staff"], "mari@t.ee", True)).disabled
    assert await accounts.signed_in(session.token) is None
    with pytest.raises(Refused) as refused:
        await accounts.sign_in("mari@t.ee", PASSWORD, "10.0.0.2")
    assert "disabled" in refused.value.message
    with pytest.raises(Refused):  # the wrong password still says only that
        await accounts.sign_in("mari@t.ee", "not the password", "10.0.0.2")
    assert await accounts.forgot("mari@t.ee") is None  # no reset link for a disabled account
    with pytest.raises(Refused):  # nor does one made before work
        await accounts.redeem(reset, "another long password")
    assert [p.disabled for p in await accounts.people("tallinn") if p.email == "mari@t.ee"] == [
        True
    ]
    for manager, email in (("staff", "staff2@t.ee"), ("staff", "staff@t.ee"), ("mari", "org@t.ee"),
                           ("org", "mari@t.ee"), ("steering", "mari@t.ee"),
                           ("riga", "mari@t.ee"), ("admin", "admin@t.ee")):  # fmt: skip
        with pytest.raises(Refused):
            await accounts.set_disabled(people[manager], email, False)
    await accounts.set_disabled(people["admin"], "mari@t.ee", False)
    user, _ = await accounts.sign_in("mari@t.ee", PASSWORD, "10.0.0.2")
    assert user.email == "mari@t.ee" and not user.disabled
    await accounts.set_disabled(people["admin"], "staff2@t.ee", True)  # an admin disables staff
    with pytest.raises(Refused):
        await accounts.sign_in("staff2@t.ee", PASSWORD, "10.0.0.3")
