"""What each write waits for on a replica set, read off the commands the driver sends to the
test server (the write concern travels in each command, whatever the server is)."""

from __future__ import annotations

import random
import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pymongo import monitoring
from pymongo.read_preferences import Primary

from mapnet.runtime import mongo
from services.portal.adapters.store import PortalStore

from .fixtures import Servers


class Sent(monitoring.CommandListener):
    """Every write command the client sends: (command name, collection, write concern)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, dict[str, Any] | None]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("insert", "update", "delete", "findAndModify"):
            concern = event.command.get("writeConcern")
            self.writes.append((event.command_name, event.command[event.command_name], concern))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def scratch() -> str:
    return f"scratch_{''.join(random.choices(string.ascii_lowercase, k=10))}"


@pytest.fixture
async def watched(servers: Servers) -> AsyncIterator[tuple[mongo.Database, Sent]]:
    sent = Sent()
    client = mongo.client(servers.mongo_url, event_listeners=[sent])
    name = scratch()
    yield client[name], sent
    await client.drop_database(name)
    client.close()


async def test_every_write_waits_for_a_majority_within_a_bound(
    watched: tuple[mongo.Database, Sent],
) -> None:
    db, sent = watched
    await db.records.insert_one({"_id": "a", "n": 1})
    await db.records.update_one({"_id": "a"}, {"$inc": {"n": 1}})
    await db.records.delete_one({"_id": "a"})
    assert [(name, concern) for name, _, concern in sent.writes] == [
        (name, {"w": "majority", "wtimeout": 10_000}) for name in ("insert", "update", "delete")
    ]
    options = cast(Any, db.client).options  # motor's stubs see a method
    assert options.retry_writes and options.retry_reads


async def test_the_urls_own_settings_win_but_reads_stay_on_the_primary(servers: Servers) -> None:
    sent = Sent()
    url = f"{servers.mongo_url}/?w=1&readPreference=secondaryPreferred&retryWrites=false"
    client = mongo.client(url, event_listeners=[sent])
    name = scratch()
    try:
        await client[name].records.insert_one({"_id": "a"})
        assert sent.writes == [("insert", "records", {"w": 1, "wtimeout": 10_000})]
        assert not cast(Any, client).options.retry_writes
        assert isinstance(client.read_preference, Primary)
    finally:
        await client.drop_database(name)
        client.close()


async def test_the_sign_in_throttle_counts_on_the_primary_alone_but_an_erasure_waits(
    watched: tuple[mongo.Database, Sent],
) -> None:
    db, sent = watched
    store = PortalStore(db)
    now = datetime.now(UTC)
    counted = await store.reserve_attempt(
        "address:1", "ana@example.org", now, now - timedelta(minutes=15), lambda n: timedelta()
    )
    assert counted is None
    await store.release_attempt("address:1")
    assert {concern["w"] for _, coll, concern in sent.writes if concern} == {1}
    sent.writes.clear()
    await store.clear_attempts_of("ana@example.org")
    assert [(coll, concern) for _, coll, concern in sent.writes] == [
        ("sign_in_attempts", {"w": "majority", "wtimeout": 10_000})
    ]


async def test_a_url_setting_only_the_wait_keeps_the_majority_and_w0_is_refused(
    servers: Servers,
) -> None:
    shorter = mongo.client(f"{servers.mongo_url}/?wTimeoutMS=2000&journal=true")
    try:
        assert shorter.write_concern.document == {"w": "majority", "wtimeout": 2000, "j": True}
        assert "majority" in mongo.write_concern(shorter)
    finally:
        shorter.close()
    with pytest.raises(mongo.UnsafeMongoUrl, match="w=0"):
        mongo.client(f"{servers.mongo_url}/?w=0")
