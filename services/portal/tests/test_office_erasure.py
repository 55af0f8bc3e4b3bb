"""Erasing from the office without servers (issue 31 item 15): the confirmation names what
goes (the company, its contacts, profiles and portal accounts; or one contact and their
account), and only the region's administrator may ask, before anything is read or erased."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused
from services.portal.service_layer.office import Office, erasure_of

REGION = "tallinn"
ADMIN = Actor(id="a@t.ee", role="map_admin", region=REGION)


def view() -> rg.SmeView:
    return rg.SmeView.model_validate({
        "sme_id": "s1", "region": REGION, "version": 3, "stage": "selected",
        "stage_history": [], "legal_name": "Photon Forge OÜ", "registration_number": "14000009",
        "country": "EE", "nace_codes": ["26.70"], "clusters": ["photonics"],
        "size_class": {"value": "small", "reasons": []},
        "growth_class": {"value": "gazelle", "reasons": []},
        "contacts": [{"id": "c1", "name": "Mari Maasikas", "email": "Mari@photonforge.ee"},
                     {"id": "c2", "name": "Uku Tamm", "email": "uku@photonforge.ee"}],
        "profiles": [], "created_at": "2027-01-01T00:00:00Z", "updated_at": "2027-01-02T00:00:00Z",
    })  # fmt: skip


ACCOUNTS = {"mari@photonforge.ee": "s1", "uku@photonforge.ee": "s1", "other@x.ee": "s2",
            "staff@t.ee": None}  # fmt: skip


def test_the_confirmation_names_what_goes() -> None:
    whole = erasure_of(view(), None, ACCOUNTS)
    assert whole.whole and whole.accounts == ["mari@photonforge.ee", "uku@photonforge.ee"]
    one = erasure_of(view(), "c1", ACCOUNTS)
    assert one.contact is not None and one.contact.name == "Mari Maasikas"
    assert one.accounts == ["mari@photonforge.ee"]  # the contact's own, matched without case
    with pytest.raises(Refused) as missing:
        erasure_of(view(), "c9", ACCOUNTS)
    assert missing.value.code == "not_found"


class Registry:
    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []

    async def __call__(self, op: Any, data: Any, actor: Actor, /) -> Any:
        self.asked.append((op.name, data))
        return view() if op is rg.GET_SME else None


async def test_only_the_regions_administrator_erases() -> None:
    registry = Registry()
    office = Office(registry, REGION)
    assert (await office.erasure("s1", "c2", ADMIN, ACCOUNTS)).accounts == ["uku@photonforge.ee"]
    await office.erase("s1", "c2", "asked to be forgotten", ADMIN)
    await office.erase("s1", None, "closed down", ADMIN)
    assert [name for name, _ in registry.asked] == ["get_sme", "erase_contact", "erase_sme"]
    assert registry.asked[1][1] == rg.EraseContact(sme_id="s1", contact_id="c2",
                                                   reason="asked to be forgotten")  # fmt: skip
    others = [
        Actor(id="s@t.ee", role="map_staff", region=REGION),
        Actor(id="c@t.ee", role="sme", region=REGION, sme_id="s1"),
        Actor(id="o@t.ee", role="organiser", region=REGION, event_ids=["e1"]),
        Actor(id="st@t.ee", role="steering", region=REGION),
        Actor(id="a@riga.lv", role="map_admin", region="riga"),
    ]
    for actor in others:
        registry.asked.clear()
        with pytest.raises(Refused) as page:
            await office.erasure("s1", None, actor, ACCOUNTS)
        with pytest.raises(Refused) as erase:
            await office.erase("s1", "c1", "why", actor)
        assert page.value.code == erase.value.code == "forbidden" and registry.asked == []
