"""A repeat is the same operation from the same caller with the same id and content. An id used
again for other content is the typed error ``id_reused``, never the first command's answer; the
same id from another caller, or for another operation, is a command of its own."""

from __future__ import annotations

import pytest

from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.registry.entrypoints.loader import command_id
from services.registry.tests.test_registry_bus import new_sme

pytestmark = pytest.mark.usefixtures("region_app")


async def test_an_id_used_again_for_other_content_is_refused(
    client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region, id="k-1")
    again = await client.call(rg.REGISTER_SME, new_sme(), region, id="k-1")
    assert again.sme_id == sme.sme_id  # a true repeat
    with pytest.raises(Refused) as refused:
        await client.call(rg.REGISTER_SME, new_sme(name="Decoy OÜ"), region, id="k-1")
    assert refused.value.code == "id_reused"
    update = rg.UpdateSme(sme_id=sme.sme_id, expected_version=1, changes={"description": "A"})
    await client.call(rg.UPDATE_SME, update, region, id="k-2")
    other = rg.UpdateSme(sme_id=sme.sme_id, expected_version=1, changes={"description": "B"})
    with pytest.raises(Refused) as refused:
        await client.call(rg.UPDATE_SME, other, region, id="k-2")
    assert refused.value.code == "id_reused"
    stored = await client.call(rg.GET_SME, rg.GetSme(sme_id=sme.sme_id), region)
    assert stored.description == "A" and stored.legal_name == "Photon Forge OÜ"


async def test_the_same_id_for_another_operation_is_not_its_repeat(
    client: BusClient, region: str
) -> None:
    gone = await client.call(rg.REGISTER_SME, new_sme(), region)
    kept = await client.call(rg.REGISTER_SME, new_sme(reg="14000015", name="Kept OÜ"), region)
    await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=gone.sme_id, reason="asked"), region,
                      id="shared-id")  # fmt: skip
    stage = rg.ChangeStage(sme_id=kept.sme_id, to_stage="selected", actor="x", reason="y")
    view = await client.call(rg.CHANGE_STAGE, stage, region, id="shared-id")
    assert view.sme_id == kept.sme_id and view.stage == "selected"


async def test_an_import_id_taken_first_by_another_caller_does_not_hide_the_real_company(
    client: BusClient, region: str
) -> None:
    real = new_sme()
    decoy_sender = Actor(id="someone@tallinn.example", role="map_staff", region=region)
    decoy = new_sme(reg="14000015", name="Decoy OÜ")
    await client.call(rg.REGISTER_SME, decoy, region, id=command_id(real), actor=decoy_sender)
    imported = await client.call(rg.REGISTER_SME, real, region, id=command_id(real))
    assert imported.legal_name == "Photon Forge OÜ"
    page = await client.call(rg.SEARCH_SMES, rg.SearchSmes(), region)
    assert {s.legal_name for s in page.items} == {"Photon Forge OÜ", "Decoy OÜ"}
