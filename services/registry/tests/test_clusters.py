"""The clusters of a region's SMEs (list_clusters), over the real bus and nx-27017: each cluster
with how many SMEs are in it, kept as SMEs are registered, changed and erased, and made again
from every SME at start; listed to the region's staff and the steering group only."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import registry as c
from contracts.access import Actor, Role
from contracts.errors import Refused
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.registry.adapters.repository import SmeRepository
from services.registry.tests.test_registry_bus import new_sme

pytestmark = pytest.mark.usefixtures("region_app")


def someone(region: str, role: Role, **extra: Any) -> Actor:
    return Actor(id=f"{role}@{region}.example", role=role, region=region, **extra)


async def clusters(client: BusClient, region: str) -> dict[str, int]:
    staff = someone(region, "map_staff")
    found = await client.call(c.LIST_CLUSTERS, c.ListClusters(), region, actor=staff)
    return {item.cluster: item.smes for item in found.items}


async def test_the_counts_follow_the_smes_as_they_are_registered_changed_and_erased(
    client: BusClient, region: str
) -> None:
    assert await clusters(client, region) == {}
    laser = await client.call(
        c.REGISTER_SME, new_sme(clusters=["Photonics and Micro/Nano technologies", "ICT"]), region
    )
    # The same command again (an import run twice) counts the SME once.
    again = new_sme(reg="14000015", name="Code OÜ", clusters=["ICT"])
    code = await client.call(c.REGISTER_SME, again, region, id="register-code")
    await client.call(c.REGISTER_SME, again, region, id="register-code")
    await client.call(c.REGISTER_SME, new_sme(reg="14000021", name="Bio OÜ", clusters=[]), region)
    listed = await client.call(c.LIST_CLUSTERS, c.ListClusters(), region)
    assert [(i.cluster, i.smes) for i in listed.items] == [
        ("ICT", 2),
        ("Photonics and Micro/Nano technologies", 1),
    ]
    # A region's own cluster, a name taken away, another change that leaves them as they were.
    await client.call(
        c.UPDATE_SME,
        c.UpdateSme(
            sme_id=laser.sme_id,
            expected_version=laser.version,
            changes=c.SmeChanges(clusters=["ICT", "Tallinn lasers"]),
        ),
        region,
    )
    await client.call(
        c.CHANGE_STAGE,
        c.ChangeStage(sme_id=laser.sme_id, to_stage="selected", actor="x", reason="ok"),
        region,
    )
    assert await clusters(client, region) == {"ICT": 2, "Tallinn lasers": 1}
    await client.call(c.ERASE_SME, c.EraseSme(sme_id=code.sme_id, reason="asked"), region)
    await client.call(c.ERASE_SME, c.EraseSme(sme_id=laser.sme_id, reason="asked"), region)
    assert await clusters(client, region) == {}


async def test_the_counts_are_made_again_from_every_sme_at_start(
    client: BusClient, region: str, settings: Settings
) -> None:
    """A registry stored before the counts were kept, or a count a crash left behind between
    an SME's write and its count's, is right again once the registry starts."""
    await client.call(c.REGISTER_SME, new_sme(clusters=["ICT", "Life Sciences"]), region)
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "registry")
    await db["cluster_counts"].update_one({"_id": "ICT"}, {"$set": {"smes": 7}})
    await db["cluster_counts"].update_one({"_id": "Gone"}, {"$set": {"smes": 2}}, upsert=True)
    await db["cluster_counts"].delete_one({"_id": "Life Sciences"})
    assert await clusters(client, region) == {"ICT": 7, "Gone": 2}
    await SmeRepository(db).create_indexes()  # what the registry does at start
    assert await clusters(client, region) == {"ICT": 1, "Life Sciences": 1}


async def test_only_the_regions_staff_and_the_steering_group_list_the_clusters(
    client: BusClient, region: str
) -> None:
    await client.call(c.REGISTER_SME, new_sme(), region)
    steering = someone(region, "steering")
    seen = await client.call(c.LIST_CLUSTERS, c.ListClusters(), region, actor=steering)
    assert [(i.cluster, i.smes) for i in seen.items] == [("photonics", 1)]
    admin = someone(region, "map_admin")
    assert (await client.call(c.LIST_CLUSTERS, c.ListClusters(), region, actor=admin)).items
    refused = [
        someone("riga", "map_staff"),  # staff of another region
        someone("riga", "map_admin"),
        someone(region, "sme", sme_id="x"),
        someone(region, "organiser", event_ids=["x"]),
        someone(region, "partner"),
        someone(region, "operator"),
    ]
    for actor in refused:
        with pytest.raises(Refused) as refusal:
            await client.call(c.LIST_CLUSTERS, c.ListClusters(), region, actor=actor)
        assert refusal.value.code == "forbidden", actor
