"""Upserts against the test run's database server (nx-27017 unless MAPNET_TEST_BACKEND says
otherwise): which of them store the filter's ``_id``, and that MAPnet's replacements are found
by it (mapnet.runtime.mongo.replace_by_id); and the reply cache, which keeps a command's answer
by its key even when its claim went meanwhile."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from contracts.common import Accepted
from contracts.envelope import Envelope
from contracts.registry import ERASE_SME, EraseSme
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.requests import REPLY_CACHE
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings
from tests.fixtures import Servers

EMBEDDED = os.environ.get("MAPNET_TEST_BACKEND") != "containers"


@pytest.fixture
async def coll(servers: Servers, region: str) -> AsyncIterator[mongo.Collection]:
    db = mongo.database(mongo.client(servers.mongo_url), region, "upserts")
    yield db["records"]
    await db["records"].drop()


async def test_a_replacement_by_id_is_found_by_its_id(coll: mongo.Collection) -> None:
    await mongo.replace_by_id(coll, "need-1", {"amount": "100"})
    await mongo.replace_by_id(coll, "need-1", {"amount": "200"})
    assert await coll.find({}).to_list(None) == [{"_id": "need-1", "amount": "200"}]


async def test_updates_with_operators_store_the_filters_id(coll: mongo.Collection) -> None:
    """What matching's, notify's, events' and the guide's update upserts rely on."""
    await coll.update_one({"_id": "set"}, {"$set": {"a": 1}}, upsert=True)
    await coll.update_one({"_id": "inc"}, {"$inc": {"n": 1}}, upsert=True)
    await coll.update_one({"_id": "inc"}, {"$inc": {"n": 1}}, upsert=True)
    await coll.update_one(
        {"_id": "both"}, {"$set": {"a": 1}, "$setOnInsert": {"n": 0}}, upsert=True
    )
    await coll.bulk_write([UpdateOne({"_id": "bulk"}, {"$set": {"a": 1}}, upsert=True)])
    found = {d["_id"]: d for d in await coll.find({}).to_list(None)}
    assert found == {
        "set": {"_id": "set", "a": 1},
        "inc": {"_id": "inc", "n": 2},
        "both": {"_id": "both", "a": 1, "n": 0},
        "bulk": {"_id": "bulk", "a": 1},
    }


@pytest.mark.skipif(not EMBEDDED, reason="what nx-27017 does; MongoDB stores the filter's _id")
async def test_nx_27017_upserts_a_replacement_without_its_id_under_a_new_one(
    coll: mongo.Collection,
) -> None:
    """Why every replacement carries its _id (mapnet/runtime/mongo.py). Should this fail, a
    newer nx-27017 stores the filter's _id, and the note there can say so."""
    await coll.replace_one({"_id": "plain"}, {"a": 1}, upsert=True)
    await coll.bulk_write([ReplaceOne({"_id": "bulk"}, {"a": 1}, upsert=True)])
    await coll.find_one_and_replace({"_id": "found"}, {"a": 1}, upsert=True)
    assert await coll.count_documents({}) == 3
    assert await coll.find({"_id": {"$in": ["plain", "bulk", "found"]}}).to_list(None) == []


async def test_a_commands_answer_is_kept_by_its_key_when_its_claim_went_meanwhile(
    settings: Settings, region: str, client: BusClient
) -> None:
    """A claim can go while its command runs (the process whose lease ran out faults and
    deletes it); the answer is still kept under the command's key, so a repeat gets it and
    the command does not run a second time."""
    runs: list[str] = []
    rt = Runtime(region, "registry", settings, mongo.client(settings.mongo_url or ""))

    @rt.handles(ERASE_SME)
    async def erase(env: Envelope[EraseSme]) -> Accepted:
        runs.append(env.id)
        await rt.db[REPLY_CACHE].delete_many({"claimed": {"$exists": True}})
        return Accepted(id=env.data.sme_id, version=len(runs))

    command, command_id = EraseSme(sme_id="s1", reason="asked"), str(uuid.uuid4())
    async with Assembly(settings, [], [region], runtimes=[rt]) as app:
        await app.broker.connection.flush()
        first = await client.call(ERASE_SME, command, region, id=command_id, timeout_s=5)
        repeat = await client.call(ERASE_SME, command, region, id=command_id, timeout_s=5)
    assert first == repeat == Accepted(id="s1", version=1)
    assert runs == [command_id]


async def test_insert_new_tells_which_documents_were_new(coll: mongo.Collection) -> None:
    await coll.insert_one({"_id": "held"})
    new = await mongo.insert_new(coll, [{"_id": "a"}, {"_id": "held"}, {"_id": "b"}])
    assert new == {0, 2}
    assert await coll.count_documents({}) == 3


async def test_insert_new_raises_a_write_the_write_concern_did_not_see_through() -> None:
    """w=majority timed out (wTimeoutMS): the inserts may be rolled back, so none is told as
    stored. nx-27017 has no replicas to time out on: the driver's error is raised by hand."""

    class MajorityTimedOut:
        async def insert_many(self, docs: Any, ordered: bool) -> None:
            raise BulkWriteError(
                {"writeErrors": [], "writeConcernErrors": [{"code": 64, "errmsg": "timeout"}]}
            )

    with pytest.raises(BulkWriteError):
        await mongo.insert_new(MajorityTimedOut(), [{"_id": "a"}])  # type: ignore[arg-type]
