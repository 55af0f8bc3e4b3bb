"""The clusters the calendar offers to filter by (its page's ``clusters``), over the real bus and
nx-27017: those of every entry not over yet, whatever the page shows; an entry over leaves its
cluster out; kept as entries are written, not read from every entry on each page. (An entry
moved earlier keeps its cluster offered until its former end: the latest end of each cluster
only moves later.) A cancelled or withdrawn entry counts no more, and a page offers at most
CLUSTERS_OFFERED of them, those with the most entries: one partner's thousands of clusters
cannot outgrow the calendar's replies (issue #31's review)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts import events as c
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.events.adapters.repository import (
    CLUSTERS_OFFERED,
    CLUSTERS_OFFERED_BYTES,
    EntryRepository,
)
from services.events.domain.calendar import Entry
from services.events.service_layer.handlers import entry_id
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
    await db["cluster_counts"].delete_many({})
    await db["cluster_marks"].delete_many({})
    assert await offered(client, region) == []
    await EntryRepository(db, region).create_indexes()  # what the service does at start
    assert await offered(client, region) == ["ICT"]


def helsinki_copy(n: int, clusters: list[str], version: int = 1) -> c.CalendarEntry:
    """Another region's network entry ending in 2099, as its copy arrives here."""
    data = c.CalendarEntryInput.model_validate(
        {"partner_id": "spammer", "external_id": f"x{n}", "kind": "conference",
         "title": f"Event {n}", "starts_at": "2099-01-01T10:00:00",
         "ends_at": "2099-01-01T12:00:00", "timezone": "Europe/Helsinki", "country": "FI",
         "clusters": clusters}
    )  # fmt: skip
    event_id = entry_id("helsinki", "spammer", f"x{n}")
    view = Entry.publish(event_id, "helsinki", data, None, datetime.now(ZoneInfo("UTC"))).view()
    return view.model_copy(update={"version": version})


async def test_one_partners_clusters_cannot_fill_the_calendar(
    client: BusClient, region: str, settings: Settings
) -> None:
    """The reviewer's case, smaller: a partner's network entries, each with 20 clusters of 60
    characters, copied into this region. A page offers CLUSTERS_OFFERED of them within its
    byte budget, the clusters of most entries first; cancelling or withdrawing an entry takes
    its clusters out of the count at once."""
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "events")
    copies = EntryRepository(db, region)
    for n in range(60):  # 1,200 names
        names = [f"{n:04d}-{j:02d}-" + "x" * 52 for j in range(20)]
        await copies.put_copy(helsinki_copy(n, names))
        await copies.put_copy(helsinki_copy(n, names))  # told again: counted once
    # This region's own entries: a cluster two entries have is among the most used.
    await client.call(c.PUBLISH_EVENT, entry("a", clusters=["ICT", "Zebra fish"]), region)
    await client.call(c.PUBLISH_EVENT, entry("b", clusters=["ICT"]), region)
    await client.call(c.PUBLISH_EVENT, entry("c", clusters=["ICT"]), region)
    page = await client.call(c.LIST_CALENDAR, c.ListCalendar(limit=5), region)
    assert len(page.clusters) <= CLUSTERS_OFFERED
    assert len(page.model_dump_json()) < CLUSTERS_OFFERED_BYTES + 40_000  # 5 entries besides
    assert "ICT" in page.clusters
    # A cancelled entry's cluster ("Zebra fish" was a's alone) is offered no more.
    few = await offered(client, region, limit=1)
    cancelled = await client.call(c.PUBLISH_EVENT, entry("a", clusters=["ICT", "Zebra fish"],
                                                         status="cancelled"), region)  # fmt: skip
    assert cancelled.status == "cancelled"
    assert "Zebra fish" not in await offered(client, region)
    assert "ICT" in await offered(client, region)  # b and c still have it
    assert len(few) <= CLUSTERS_OFFERED


async def test_a_withdrawn_or_changed_entry_counts_no_more(
    client: BusClient, region: str, settings: Settings
) -> None:
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "events")
    copies = EntryRepository(db, region)
    await copies.put_copy(helsinki_copy(1, ["Robotics", "Cleantech"]))
    await copies.put_copy(helsinki_copy(2, ["Cleantech"]))
    assert await offered(client, region) == ["Cleantech", "Robotics"]
    # A later version without Robotics; then an older one arriving late changes nothing.
    await copies.put_copy(helsinki_copy(1, ["Cleantech"], version=2))
    await copies.put_copy(helsinki_copy(1, ["Robotics", "Cleantech"], version=1))
    assert await offered(client, region) == ["Cleantech"]
    # Both withdrawn (made region-only at Helsinki): nothing left to offer.
    for n, version in ((1, 3), (2, 2)):
        withdrawn = entry_id("helsinki", "spammer", f"x{n}")
        await copies.drop_copy(c.EntryUnshared(event_id=withdrawn, region="helsinki",
                                               version=version))  # fmt: skip
    assert await offered(client, region) == []
    # Counted again from the marks at start: the same.
    await copies.create_indexes()
    assert await offered(client, region) == []
