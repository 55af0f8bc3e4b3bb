"""Who may do what in the registry, over the real bus: a contact sees another SME only as
another region would (if it shares at all), finds only those and its own; staff act only on
their own region's SMEs; who moved an SME along its journey is the request's actor."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from contracts import registry as c
from contracts.access import Actor
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme

pytestmark = pytest.mark.usefixtures("region_app")


def profile(title: str, **extra: Any) -> c.ProfileInput:
    return c.ProfileInput.model_validate(
        {
            "type": "technology_offer",
            "title": title,
            "summary": "What we offer",
            "partnership_types": ["licence"],
            "expires_on": (date.today() + timedelta(days=90)).isoformat(),
        }
        | extra
    )


async def put(client: BusClient, region: str, op: Operation[Any, Any], sme_id: str,
              title: str, **extra: Any) -> None:  # fmt: skip
    await client.call(op, c.PublishProfile(sme_id=sme_id, profile=profile(title, **extra)), region)


async def test_a_contact_sees_another_sme_only_as_the_network_does(
    client: BusClient, region: str
) -> None:
    own = await client.call(c.REGISTER_SME, new_sme(), region)
    other = await client.call(
        c.REGISTER_SME,
        new_sme(reg="14000015", name="Other OÜ", share_with_network=True, vat_id="EE100000007",
                address="Tartu mnt 1, Tallinn"),
        region,
    )  # fmt: skip
    hidden = await client.call(c.REGISTER_SME, new_sme(reg="14000021", name="Quiet OÜ"), region)
    await put(client, region, c.PUBLISH_PROFILE, other.sme_id, "Shown offer")
    await put(client, region, c.PUBLISH_PROFILE, other.sme_id, "Private offer",
              visibility="private")  # fmt: skip
    await put(client, region, c.DRAFT_PROFILE, other.sme_id, "Draft offer")
    await put(client, region, c.PUBLISH_PROFILE, other.sme_id, "Gone offer")
    seen = await client.call(c.GET_SME, c.GetSme(sme_id=other.sme_id), region)
    gone = next(p for p in seen.profiles if p.title == "Gone offer")
    await client.call(
        c.WITHDRAW_PROFILE,
        c.WithdrawProfile(sme_id=other.sme_id, profile_id=gone.profile_id),
        region,
    )
    await client.call(
        c.CHANGE_STAGE,
        c.ChangeStage(
            sme_id=other.sme_id, to_stage="selected", actor="x", reason="weak export plan"
        ),
        region,
    )
    contact = Actor(id="mari@photonforge.ee", role="sme", region=region, sme_id=own.sme_id)

    view = await client.call(c.GET_SME, c.GetSme(sme_id=other.sme_id), region, actor=contact)
    assert (view.legal_name, view.stage, view.size_class.value) == ("Other OÜ", "selected",
                                                                    "small")  # fmt: skip
    assert [p.title for p in view.profiles] == ["Shown offer"]
    assert view.contacts == [] and view.figures == [] and view.stage_history == []
    assert view.vat_id is None and view.address == "" and view.founded_on is None
    assert view.size_class.reasons == [] and view.growth_class.reasons == []
    assert "weak export plan" not in view.model_dump_json()

    with pytest.raises(Refused) as refused:
        await client.call(c.GET_SME, c.GetSme(sme_id=hidden.sme_id), region, actor=contact)
    assert refused.value.code == "forbidden"
    mine = await client.call(c.GET_SME, c.GetSme(sme_id=own.sme_id), region, actor=contact)
    assert mine.contacts and mine.figures  # its own SME in full

    found = await client.call(c.SEARCH_SMES, c.SearchSmes(), region, actor=contact)
    assert sorted(s.legal_name for s in found.items) == ["Other OÜ", "Photon Forge OÜ"]
    everyone = await client.call(c.SEARCH_SMES, c.SearchSmes(), region)
    assert len(everyone.items) == 3


async def test_staff_of_another_region_reach_no_sme_here(client: BusClient, region: str) -> None:
    sme = await client.call(c.REGISTER_SME, new_sme(), region)
    elsewhere = Actor(id="admin@riga.example", role="map_admin", region="riga")
    story = c.PublishSuccessStory(
        title="A deal", text="It happened", smes=[{"sme_id": sme.sme_id, "region": region}],
        agreement_type="licence", happened_on=date.today(), publication_consent=False,
    )  # fmt: skip
    attempts: list[tuple[Operation[Any, Any], Any]] = [
        (c.GET_SME, c.GetSme(sme_id=sme.sme_id)),
        (c.SEARCH_SMES, c.SearchSmes()),
        (c.REGISTER_SME, new_sme(reg="14000015", name="Planted OÜ")),
        (c.PUBLISH_SUCCESS_STORY, story),
        (c.ERASE_CONTACT, c.EraseContact(sme_id=sme.sme_id, contact_id=sme.contacts[0].id,
                                         reason="x")),
        (c.ERASE_SME, c.EraseSme(sme_id=sme.sme_id, reason="x")),
    ]  # fmt: skip
    for op, data in attempts:
        with pytest.raises(Refused) as refused:
            await client.call(op, data, region, actor=elsewhere)
        assert refused.value.code == "forbidden", op.name
    still = await client.call(c.SEARCH_SMES, c.SearchSmes(), region)
    assert [s.legal_name for s in still.items] == ["Photon Forge OÜ"]
    assert (await client.call(c.GET_SME, c.GetSme(sme_id=sme.sme_id), region)).contacts


async def test_who_moved_an_sme_is_the_requests_actor_not_what_its_data_says(
    client: BusClient, region: str
) -> None:
    staff = Actor(id="anna@map.example", role="map_staff", region=region)
    sme = await client.call(c.REGISTER_SME, new_sme(), region, actor=staff)
    assert sme.stage_history[0].actor == "anna@map.example"
    moved = await client.call(
        c.CHANGE_STAGE,
        c.ChangeStage(sme_id=sme.sme_id, to_stage="selected", actor="the director", reason="ok"),
        region,
        actor=staff,
    )
    assert moved.stage_history[-1].actor == "anna@map.example"
