"""The clusters the calendar offers to filter by (its page's ``clusters``), over the real bus and
nx-27017: those of every entry not over yet, whatever the page shows; an entry over leaves its
cluster out; kept as entries are written, not read from every entry on each page. (An entry
moved earlier or cancelled keeps its cluster offered until its former end: the latest end of
each cluster only moves later.)"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import events as c
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.events.adapters.repository import EntryRepository
from services.events.tests.test_events_bus import entry

pytestmark = pytest.mark.usefixtures("region_app")


async def offered(client: BusClient, region: str, **query: object) -> list[str]:
    page = await client.call(c.LIST_CALENDAR, c.ListCalendar.model_validate(query), region)
    return list(page.clusters)


async def test_the_calendar_offers_the_clusters_of_its_entries_not_over(
    client: BusClient, region: str
) -> None:
    assert await offered(client, region) == []
    await client.call(c.PUBLISH_EVENT, entry("a", clusters=["ICT", "Life Sciences"]), region)
    await client.call(c.PUBLISH_EVENT, entry("b", clusters=["life sciences"]), region)
    await client.call(c.PUBLISH_EVENT, entry("c", clusters=["Baltic Photonics"]), region)
    assert await offered(client, region) == ["Baltic Photonics", "ICT", "Life Sciences",
                                             "life sciences"]  # fmt: skip
    # Every entry's, not the page's: a page of one, or a filter, offers them all.
    assert await offered(client, region, limit=1) == await offered(client, region, kind="webinar")
    assert len(await offered(client, region, limit=1)) == 4
    # An entry that ends in a moment: once over, its cluster is no longer offered (the
    # others' are: "ICT" came with "a", still ahead).
    tallinn = ZoneInfo("Europe/Tallinn")
    ends = datetime.now(tallinn).replace(microsecond=0, tzinfo=None) + timedelta(seconds=3)
    brief = entry("d", clusters=["Short talks", "ICT"], starts_at=(ends - timedelta(hours=1))
                  .isoformat(), ends_at=ends.isoformat())  # fmt: skip
    await client.call(c.PUBLISH_EVENT, brief, region)
    assert "Short talks" in await offered(client, region)
    await asyncio.sleep(4.5)
    assert await offered(client, region) == ["Baltic Photonics", "ICT", "Life Sciences",
                                             "life sciences"]  # fmt: skip


async def test_a_calendar_stored_before_gets_its_clusters_at_start(
    client: BusClient, region: str, settings: Settings
) -> None:
    await client.call(c.PUBLISH_EVENT, entry("a", clusters=["ICT"]), region)
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "events")
    await db["cluster_ends"].delete_many({})
    assert await offered(client, region) == []
    await EntryRepository(db, region).create_indexes()  # what the service does at start
    assert await offered(client, region) == ["ICT"]
