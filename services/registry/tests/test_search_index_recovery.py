"""The registry's search index when a change's feed entry is lost or late (the hostile review of
issue 33): an erasure still reaches every instance's index."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from contracts import registry as c
from contracts.errors import Refused
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.mongo import Database
from services.registry.adapters import search as search_module
from services.registry.adapters.repository import SmeRepository
from services.registry.tests.test_search_index import (
    START,
    registered,
    sme_input,
    writer_and_reader,
)
from tests.fixtures import Servers
from tests.helpers import eventually


@pytest.mark.usefixtures("region_app")
async def test_an_erasure_whose_feed_entry_was_lost_is_not_found_by_search(
    client: BusClient, region: str, servers: Servers
) -> None:
    """Instance A erases an SME and dies between the tombstone and its feed entry (or is
    stopped while the entry's retry waits out a database blip). The caller retries erase_sme:
    it is refused not_found and writes no entry. Instance B (here the region's service) goes
    on finding the erased SME in search_smes until it restarts."""
    db = mongo.database(mongo.client(servers.mongo_url), region, "registry")
    view = await client.call(
        c.REGISTER_SME, sme_input(7, random.Random(2), "Borealis Kiln OÜ"), region
    )
    found = await client.call(c.SEARCH_SMES, c.SearchSmes(text="boreal"), region)
    assert [s.sme_id for s in found.items] == [view.sme_id]
    # Instance A: the tombstone is written, the process dies before ChangeFeed.record.
    await SmeRepository(db, None).erase(view.sme_id, [])
    # The caller retries the erasure (its first attempt got no answer).
    with pytest.raises(Refused) as refused:
        await client.call(c.ERASE_SME, c.EraseSme(sme_id=view.sme_id, reason="asked"), region)
    print("retried erase_sme:", refused.value.code, refused.value.message)
    await asyncio.sleep(search_module.GAP_WAIT_S + 0.5)
    found = await client.call(c.SEARCH_SMES, c.SearchSmes(text="boreal"), region)
    assert found.items == [], f"erased SME still found: {found.items}"


class SlowEntries:
    """The feed's entries collection, its insert held back (a busy single-request server)."""

    def __init__(self, real: Any, delay_s: float) -> None:
        self.real = real
        self.delay_s = delay_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    async def insert_one(self, doc: Any, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(self.delay_s)
        return await self.real.insert_one(doc, *args, **kwargs)


async def test_a_feed_entry_written_after_the_gap_wait_still_reaches_the_other_index(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer slower than GAP_WAIT_S between the counter and its entry (nx-27017 serving one
    request at a time under an import): the reader passes the number, and the entry written
    afterwards is never read. Here the write is an erasure."""
    monkeypatch.setattr(search_module, "GAP_WAIT_S", 0.2)
    writer, repo, reader = await writer_and_reader(db)
    sme = await registered(repo, 1, random.Random(1), START)
    assert [s.sme_id for s in (await reader.search(c.SearchSmes())).items] == [sme.sme_id]
    writer.feed.entries = SlowEntries(writer.feed.entries, 0.8)  # type: ignore[assignment]
    before = await writer.feed.last()
    erasing = asyncio.create_task(repo.erase(sme.sme_id, []))
    await eventually(writer.feed.last, until=lambda n: n != before)  # the number is taken
    for _ in range(6):  # the reader's searches meanwhile pass the gap after GAP_WAIT_S
        await reader.search(c.SearchSmes())
        await asyncio.sleep(0.1)
    await erasing
    found = await reader.search(c.SearchSmes())
    assert found.items == [], f"erased SME still found by the other instance: {found.items}"
