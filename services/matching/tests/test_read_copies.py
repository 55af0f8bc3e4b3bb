"""Matching's read copies of other regions' SMEs against a real MongoDB-compatible server: newer
versions win, and an erased or unshared SME stays gone whatever older copy arrives later."""

from __future__ import annotations

from typing import Any

from contracts.common import SmeRef
from mapnet.runtime import mongo
from services.matching.adapters.read_model import ReadModel
from tests.fixtures import Servers, unique_region
from tests.helpers import CommandsSent

REF = SmeRef(sme_id="s1", region="berlin")


def shared(version: int, *profiles: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sme = {"sme_id": "s1", "region": "berlin", "version": version, "legal_name": f"v{version}",
           "share_with_network": True}  # fmt: skip
    return sme, [{"profile_id": p, "title": p} for p in profiles]


async def held(model: ReadModel) -> tuple[str | None, list[str]]:
    sme = await model.sme(REF)
    profiles = sorted(p["_id"] for p in await model.all_profiles())
    return (sme["legal_name"] if sme else None), profiles


async def test_a_snapshot_replaces_the_profiles_and_an_older_one_changes_nothing(
    servers: Servers,
) -> None:
    model = ReadModel(mongo.database(mongo.client(servers.mongo_url), unique_region(), "matching"))
    await model.put_shared(*shared(2, "a", "b"))
    await model.put_shared(*shared(3, "b"))
    assert await held(model) == ("v3", ["b"])
    await model.put_shared(*shared(2, "a", "b"))  # late, older
    assert await held(model) == ("v3", ["b"])


async def test_erasure_wins_over_every_stale_copy(servers: Servers) -> None:
    model = ReadModel(mongo.database(mongo.client(servers.mongo_url), unique_region(), "matching"))
    await model.put_shared(*shared(2, "a"))
    await model.erase_sme(REF)
    await model.put_shared(*shared(3, "a"))  # arrives after the tombstone
    assert await held(model) == (None, [])


async def test_unsharing_holds_until_a_newer_version_is_shared_again(servers: Servers) -> None:
    model = ReadModel(mongo.database(mongo.client(servers.mongo_url), unique_region(), "matching"))
    await model.put_shared(*shared(2, "a"))
    await model.unshare_sme(REF, 5)
    await model.put_shared(*shared(4, "a"))
    assert await held(model) == (None, [])
    await model.put_shared(*shared(6, "a"))  # consent given again later
    assert await held(model) == ("v6", ["a"])


async def test_a_brokerage_event_is_kept_at_its_newest_version(servers: Servers) -> None:
    """Its second version used to fail on reading the first (a dotted projection nx-27017
    answers flat), and so never arrived."""
    model = ReadModel(mongo.database(mongo.client(servers.mongo_url), unique_region(), "matching"))
    deadline = "2027-05-01T00:00:00Z"
    setup = {"days": ["2027-05-04"], "day_start": "09:00", "slots_per_day": 4,
             "slot_minutes": 30, "tables": 2, "registration_deadline": deadline}  # fmt: skip

    def version(n: int) -> dict[str, Any]:
        return {"event_id": "e1", "region": "tallinn", "kind": "brokerage_event", "version": n,
                "timezone": "Europe/Tallinn", "brokerage": setup | {"tables": n}}  # fmt: skip

    for n in (1, 2, 1):  # the first version again, late
        await model.put_event(version(n))
    event = await model.event("e1")
    assert event is not None and event.setup["tables"] == 2


async def test_smes_shared_without_profiles_cost_two_operations_a_batch(
    servers: Servers,
) -> None:
    """Other regions' SMEs without profiles (most of them), new here: their tombstones looked
    up and the SMEs inserted, one operation each for the whole batch, and nothing for the
    search index (it indexes profiles). One SME cost eight, and three more in each instance's
    index following a change."""
    commands = CommandsSent()
    db = mongo.database(mongo.client(servers.mongo_url, [commands]), unique_region(), "matching")
    model = ReadModel(db)
    others: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({**shared(1)[0], "sme_id": f"o{n}", "legal_name": f"o{n}"}, []) for n in range(5)
    ]
    await model.put_shared_many([shared(2), *others])
    # (and the tombstones looked up again: an erasure handled meanwhile is not undone)
    assert commands.sent == [("find", "gone_smes"), ("insert", "smes"), ("find", "gone_smes")]
    assert len(await model.clusters_of([f"berlin:o{n}" for n in range(5)])) == 5
    assert await held(model) == ("v2", [])
    assert await model.version() == 0  # no change for the index to follow
    commands.sent.clear()
    await model.put_shared(*shared(1))  # late, older: kept out by the conditional replacement
    await model.put_shared(*shared(3))
    assert await held(model) == ("v3", [])
    assert await model.version() == 0


async def test_profiles_dropped_by_a_share_without_profiles_reach_the_index(
    servers: Servers,
) -> None:
    model = ReadModel(mongo.database(mongo.client(servers.mongo_url), unique_region(), "matching"))
    await model.put_shared(*shared(2, "a"))
    told = await model.version()
    await model.put_shared(*shared(3))
    assert await held(model) == ("v3", [])
    assert await model.version() == told + 1


async def test_a_batch_keeps_the_newest_version_of_an_sme_told_twice(servers: Servers) -> None:
    model = ReadModel(mongo.database(mongo.client(servers.mongo_url), unique_region(), "matching"))
    await model.put_shared_many([shared(3, "b"), shared(2, "a"), shared(4)])
    assert await held(model) == ("v4", [])
    await model.put_shared_many([shared(5, "c"), shared(6, "c", "d")])
    assert await held(model) == ("v6", ["c", "d"])
