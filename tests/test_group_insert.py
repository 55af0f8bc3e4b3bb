"""Group commit of inserts against the real database: callers inserting side by side each learn
their own document's fate, as with insert_one; a duplicate refuses only its own document."""

from __future__ import annotations

import asyncio

import pytest
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from mapnet.runtime import mongo
from mapnet.runtime.group_insert import GroupInsert
from tests.fixtures import Servers


async def test_each_caller_hears_of_its_own_document(servers: Servers, region: str) -> None:
    coll = mongo.client(servers.mongo_url)[f"mapnet_{region}_grouped"]["things"]
    await coll.create_index([("key", ASCENDING)], unique=True, name="key")
    await coll.insert_one({"_id": "already", "key": "taken"})
    grouped = GroupInsert(coll, most=4)
    documents = [{"_id": f"d{i}", "key": f"k{i}"} for i in range(10)]
    documents[3]["key"] = "taken"  # collides with what is stored
    documents[7]["_id"] = "d1"  # collides with a document of the same group

    outcomes = await asyncio.gather(
        *(grouped.insert(doc) for doc in documents), return_exceptions=True
    )

    refused = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, DuplicateKeyError)]
    assert refused == [3, 7]
    assert all(outcome is None for i, outcome in enumerate(outcomes) if i not in refused)
    stored = {doc["_id"] for doc in await coll.find({}, {"_id": 1}).to_list(None)}
    assert stored == {"already"} | {f"d{i}" for i in range(10) if i not in (3, 7)}


async def test_a_lone_insert_goes_at_once_and_errors_reach_the_caller(
    servers: Servers, region: str
) -> None:
    coll = mongo.client(servers.mongo_url)[f"mapnet_{region}_grouped"]["things"]
    grouped = GroupInsert(coll)
    await grouped.insert({"_id": "one"})
    with pytest.raises(DuplicateKeyError):
        await grouped.insert({"_id": "one"})
    assert await coll.count_documents({}) == 1
