"""An SME of Tallinn registers for Helsinki's event, across a real hub: Tallinn's events service
lists the registration to the SME's contact beside its registrations at Tallinn's own events
(Helsinki tells it, guest_registration_changed; Tallinn keeps a copy), with ``upcoming`` too;
cancelled at Helsinki, it leaves Tallinn's list (and shows with ``include_cancelled``). Nobody
else lists it: a contact of another SME, Helsinki's staff."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contracts import events as ev
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient
from tests.helpers import eventually
from tests.three_regions import an_entry, calendar_titles, registered

pytestmark = pytest.mark.timeout(240)

T, H = "tallinn", "helsinki"


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    home = Path(tmp_path_factory.mktemp("guest-registrations"))
    async with LocalNetwork(home, [T, H], ("registry", "events")) as network:
        yield network


async def listed(
    tallinn: BusClient, sme: SmeRef, actor: Actor, **query: Any
) -> list[tuple[str, str, str]]:
    """Tallinn's answer, page after page (two at a time: the cursor runs across both)."""
    rows: list[tuple[str, str, str]] = []
    cursor: str | None = None
    while True:
        asked = ev.ListSmeRegistrations(sme=sme, limit=2, cursor=cursor, **query)
        page = await tallinn.call(ev.LIST_SME_REGISTRATIONS, asked, T, actor=actor)
        rows += [(r.registration_id, r.region, r.status) for r in page.items]
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


async def test_tallinn_lists_its_smes_registration_at_helsinkis_event(net: LocalNetwork) -> None:
    tallinn, helsinki = await net.client(T), await net.client(H)
    sme = SmeRef(sme_id=await registered(tallinn, T, "Tallinn Lasers OÜ", None), region=T)
    kati = Actor(id="kati@lasers.ee", role="sme", region=T, sme_id=sme.sme_id)
    away = await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki Brokerage Day"), H)
    own = await tallinn.call(
        ev.PUBLISH_EVENT, an_entry("Tallinn Photonics Day", country="EE", city="Tallinn"), T
    )
    await eventually(  # Tallinn's calendar has its copy of Helsinki's event (upcoming reads it)
        lambda: calendar_titles(tallinn, T, H), until=lambda titles: away.title in titles
    )

    def signing_up(event: ev.CalendarEntry) -> ev.RegisterParticipant:
        return ev.RegisterParticipant(
            event_id=event.event_id, person_name="Kati Kask", email="kati@lasers.ee", sme=sme
        )

    at_home = await tallinn.call(ev.REGISTER_PARTICIPANT, signing_up(own), T, actor=kati)
    # Kati, in Tallinn's portal, registers at Helsinki's event: the command goes there.
    there = await tallinn.call(ev.REGISTER_PARTICIPANT, signing_up(away), H, actor=kati)
    assert there.status == "confirmed"

    both = [(there.registration_id, H, "confirmed"), (at_home.registration_id, T, "confirmed")]
    assert await eventually(lambda: listed(tallinn, sme, kati), until=both.__eq__) == both
    assert await listed(tallinn, sme, kati, upcoming=True) == both
    page = await tallinn.call(ev.LIST_SME_REGISTRATIONS, ev.ListSmeRegistrations(sme=sme), T,
                              actor=kati)  # fmt: skip
    assert "kati" not in page.model_dump_json().lower()  # no person in the answer

    await tallinn.call(
        ev.CANCEL_REGISTRATION, ev.CancelRegistration(registration_id=there.registration_id), H,
        actor=kati,
    )  # fmt: skip
    only_home = [(at_home.registration_id, T, "confirmed")]
    assert await eventually(lambda: listed(tallinn, sme, kati), until=only_home.__eq__)
    assert await listed(tallinn, sme, kati, upcoming=True) == only_home
    assert await listed(tallinn, sme, kati, include_cancelled=True) == [
        (there.registration_id, H, "cancelled"), (at_home.registration_id, T, "confirmed")
    ]  # fmt: skip

    # Nobody else lists them: another Tallinn SME's contact, Helsinki's staff.
    others = [
        Actor(id="o@other.ee", role="sme", region=T, sme_id="another"),
        Actor(id="staff@helsinki.example", role="map_staff", region=H),
    ]
    for actor in others:
        with pytest.raises(Refused) as refused:
            await tallinn.call(
                ev.LIST_SME_REGISTRATIONS, ev.ListSmeRegistrations(sme=sme), T, actor=actor
            )
        assert refused.value.code == "forbidden", actor
