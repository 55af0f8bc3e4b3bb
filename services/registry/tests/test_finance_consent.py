"""The SME's consent to be shown to finance partners (the guide lists SMEs that need finance to
them only with it): off unless given, kept, and withdrawn by an update."""

from __future__ import annotations

import pytest

from contracts import registry as c
from contracts.access import Actor
from mapnet.runtime.bus import BusClient

pytestmark = pytest.mark.usefixtures("region_app")


async def test_the_consent_to_be_shown_to_finance_partners_is_kept_and_withdrawn(
    client: BusClient, region: str
) -> None:
    me = Actor(id=f"staff@{region}.example", role="map_staff", region=region)
    plain = c.RegisterSme(legal_name="Quiet OÜ", registration_number="14000015", country="EE")
    quiet = await client.call(c.REGISTER_SME, plain, region, actor=me)
    assert quiet.show_to_finance_partners is False
    given = plain.model_copy(
        update={"registration_number": "14000009", "show_to_finance_partners": True}
    )
    shown = await client.call(c.REGISTER_SME, given, region, actor=me)
    assert shown.show_to_finance_partners is True
    contact = Actor(id="a@shown.example", role="sme", region=region, sme_id=shown.sme_id)
    withdrawn = await client.call(
        c.UPDATE_SME,
        c.UpdateSme(
            sme_id=shown.sme_id,
            expected_version=shown.version,
            changes=c.SmeChanges(show_to_finance_partners=False),
        ),
        region,
        actor=contact,
    )
    assert withdrawn.show_to_finance_partners is False
    got = await client.call(c.GET_SME, c.GetSme(sme_id=shown.sme_id), region, actor=me)
    assert got.show_to_finance_partners is False
