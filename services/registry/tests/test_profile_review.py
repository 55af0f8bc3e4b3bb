"""Profile review before publication, over the real bus (issue 31 item 13, EEN's validation
step): in a region that reviews profiles (MAPNET_PROFILE_REVIEW), a contact's profile waits in
staff's queue, unseen by the network, until approved (then published, once) or sent back as a
draft with a note; staff's own publishing is their approval. Refused to the contact (who may
not approve their own profile), an organiser, steering and another region's staff."""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from contracts import registry as c
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.registry.settings import RegistrySettings
from services.registry.tests.test_registry_bus import new_sme
from services.registry.tests.test_who_may import profile

pytestmark = pytest.mark.usefixtures("region_app")


@pytest.fixture
def service_configs() -> dict[str, BaseSettings]:
    return {"registry": RegistrySettings(MAPNET_PROFILE_REVIEW=True)}


def titled(view: c.SmeView, title: str) -> c.Profile:
    return next(p for p in view.profiles if p.title == title)


async def test_a_contacts_profile_waits_for_staff_then_is_approved_or_sent_back(
    client: BusClient, region: str
) -> None:
    own = await client.call(c.REGISTER_SME, new_sme(share_with_network=True), region)
    other = await client.call(c.REGISTER_SME, new_sme(reg="14000015", name="Other OÜ"), region)
    mari = Actor(id="mari@photonforge.ee", role="sme", region=region, sme_id=own.sme_id)
    peer = Actor(id="p@other.example", role="sme", region=region, sme_id=other.sme_id)
    staff = Actor(id="anna@map.example", role="map_staff", region=region)
    publish = c.PublishProfile(sme_id=own.sme_id, profile=profile("Laser offer"))
    sent = await client.call(c.PUBLISH_PROFILE, publish, region, actor=mari)
    waiting = titled(sent, "Laser offer")
    assert waiting.status == "in_review" and waiting.published_at is None and waiting.submitted_at
    seen = await client.call(c.GET_SME, c.GetSme(sme_id=own.sme_id), region, actor=peer)
    assert seen.profiles == []  # nobody outside the MAP sees it yet

    queue = await client.call(c.LIST_PROFILE_REVIEWS, c.ListProfileReviews(), region, actor=staff)
    assert [(r.legal_name, r.profile.title) for r in queue.items] == [("Photon Forge OÜ",
                                                                        "Laser offer")]  # fmt: skip
    decide = c.ReviewProfile(sme_id=own.sme_id, profile_id=waiting.profile_id, approve=False,
                             note="Say which lasers, and for which materials")  # fmt: skip
    back = titled(await client.call(c.REVIEW_PROFILE, decide, region, actor=staff), "Laser offer")
    assert (back.status, back.review_note) == ("draft", "Say which lasers, and for which materials")
    assert (await client.call(c.LIST_PROFILE_REVIEWS, c.ListProfileReviews(), region)).items == []
    with pytest.raises(Refused) as twice:  # not in review any more
        await client.call(c.REVIEW_PROFILE, decide, region, actor=staff)
    assert twice.value.code == "conflict"

    again = c.PublishProfile(
        sme_id=own.sme_id,
        profile=profile(
            "Laser offer", profile_id=waiting.profile_id, description="Femtosecond, for glass"
        ),
    )
    await client.call(c.PUBLISH_PROFILE, again, region, actor=mari)
    approve = decide.model_copy(update={"approve": True, "note": ""})
    done = titled(await client.call(c.REVIEW_PROFILE, approve, region, actor=staff), "Laser offer")
    assert (done.status, done.review_note) == ("published", "") and done.published_at
    seen = await client.call(c.GET_SME, c.GetSme(sme_id=own.sme_id), region, actor=peer)
    assert [p.title for p in seen.profiles] == ["Laser offer"]

    # Staff's own publishing is their approval.
    by_staff = c.PublishProfile(sme_id=own.sme_id, profile=profile("Staff's offer"))
    view = await client.call(c.PUBLISH_PROFILE, by_staff, region, actor=staff)
    assert titled(view, "Staff's offer").status == "published"

    # A published profile a contact changes is in review again, and leaves the network's view.
    changed = again.model_copy(
        update={
            "profile": profile(
                "Laser offer", profile_id=waiting.profile_id, description="Now also for sapphire"
            )
        }
    )
    view = await client.call(c.PUBLISH_PROFILE, changed, region, actor=mari)
    assert titled(view, "Laser offer").status == "in_review"
    seen = await client.call(c.GET_SME, c.GetSme(sme_id=own.sme_id), region, actor=peer)
    assert [p.title for p in seen.profiles] == ["Staff's offer"]


async def test_nobody_but_the_regions_staff_reviews(client: BusClient, region: str) -> None:
    own = await client.call(c.REGISTER_SME, new_sme(), region)
    mari = Actor(id="mari@photonforge.ee", role="sme", region=region, sme_id=own.sme_id)
    publish = c.PublishProfile(sme_id=own.sme_id, profile=profile("Laser offer"))
    waiting = titled(await client.call(c.PUBLISH_PROFILE, publish, region, actor=mari),
                     "Laser offer")  # fmt: skip
    approve = c.ReviewProfile(sme_id=own.sme_id, profile_id=waiting.profile_id, approve=True)
    others = [
        mari,  # a contact may not approve their own profile
        Actor(id="org@x.example", role="organiser", region=region, event_ids=["e1"]),
        Actor(id="st@x.example", role="steering", region=region),
        Actor(id="anna@riga.example", role="map_staff", region="riga"),
        Actor(id="boss@riga.example", role="map_admin", region="riga"),
    ]
    for actor in others:
        with pytest.raises(Refused) as refused:
            await client.call(c.REVIEW_PROFILE, approve, region, actor=actor)
        assert refused.value.code == "forbidden", actor.id
        with pytest.raises(Refused) as listed:
            await client.call(c.LIST_PROFILE_REVIEWS, c.ListProfileReviews(), region, actor=actor)
        assert listed.value.code == "forbidden", actor.id
    view = await client.call(c.GET_SME, c.GetSme(sme_id=own.sme_id), region)
    assert titled(view, "Laser offer").status == "in_review"
    send_back = approve.model_copy(update={"approve": False})
    with pytest.raises(Refused) as no_note:
        await client.call(c.REVIEW_PROFILE, send_back, region)
    assert no_note.value.code == "validation_failed"
