"""Read copies of other regions' calendar entries against a real MongoDB-compatible server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import events as c
from contracts.errors import Refused
from mapnet.runtime import mongo
from services.events.adapters.repository import EntryRepository
from services.events.domain.calendar import Entry, entry_id
from tests.fixtures import Servers, unique_region
from tests.helpers import CommandsSent

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
E1 = entry_id("helsinki", "p", "x")  # the only id Helsinki's copy of this entry can have


def helsinki_entry(version: int, title: str) -> c.CalendarEntry:
    data = c.CalendarEntryInput.model_validate(
        {"partner_id": "p", "external_id": "x", "kind": "conference", "title": title,
         "starts_at": "2027-03-01T10:00:00", "ends_at": "2027-03-01T12:00:00",
         "timezone": "Europe/Helsinki", "country": "FI"}
    )  # fmt: skip
    view = Entry.publish(E1, "helsinki", data, None, NOW).view()
    return view.model_copy(update={"version": version})


async def test_copies_take_only_newer_versions_and_stay_dropped(servers: Servers) -> None:
    region = unique_region()
    repo = EntryRepository(
        mongo.database(mongo.client(servers.mongo_url), region, "events"), region
    )
    await repo.put_copy(helsinki_entry(2, "second"))
    await repo.put_copy(helsinki_entry(1, "first"))  # late, older
    assert (await repo.require(E1, copy_will_do=True)).data.title == "second"
    # A copy is read here and changed only at home.
    with pytest.raises(Refused) as refused:
        await repo.require(E1)
    assert refused.value.code == "not_home" and refused.value.details["region"] == "helsinki"
    assert await repo.get(E1) is None

    await repo.drop_copy(c.EntryUnshared(event_id=E1, region="helsinki", version=3))
    await repo.put_copy(helsinki_entry(2, "second"))  # a stale copy arriving after the drop
    with pytest.raises(Refused):
        await repo.require(E1, copy_will_do=True)
    await repo.put_copy(helsinki_entry(4, "shared again"))
    assert (await repo.require(E1, copy_will_do=True)).data.title == "shared again"


def other_entry(external_id: str) -> c.CalendarEntry:
    entry = helsinki_entry(1, f"entry {external_id}")
    return entry.model_copy(
        update={"event_id": entry_id("helsinki", "p", external_id), "external_id": external_id}
    )


async def test_first_versions_copied_cost_three_operations_a_batch(servers: Servers) -> None:
    """The tombstones looked up, the copies inserted and the tombstones looked up again (an
    unsharing handled meanwhile), one operation each for the whole batch: a first version is
    new here (one copy cost five: the update before the insert, and a cluster mark of no
    clusters, read and written)."""
    region, commands = unique_region(), CommandsSent()
    db = mongo.database(mongo.client(servers.mongo_url, [commands]), region, "events")
    repo = EntryRepository(db, region)
    await repo.put_copies([helsinki_entry(1, "first"), *(other_entry(f"y{n}") for n in range(4))])
    assert commands.sent == [("find", "gone_entries"), ("insert", "entries"),
                             ("find", "gone_entries")]  # fmt: skip
    for n in range(4):
        assert await repo.require(entry_id("helsinki", "p", f"y{n}"), copy_will_do=True)
    await repo.put_copies([helsinki_entry(2, "second"), helsinki_entry(1, "first, again")])
    assert (await repo.require(E1, copy_will_do=True)).data.title == "second"
    await repo.put_copy(helsinki_entry(1, "first, told again"))  # a repeat changes nothing
    await repo.put_copy(helsinki_entry(2, "second"))
    assert (await repo.require(E1, copy_will_do=True)).data.title == "second"
    await repo.put_copy(helsinki_entry(1, "first, late"))
    assert (await repo.require(E1, copy_will_do=True)).data.title == "second"


async def test_an_unsharing_handled_while_a_batch_of_copies_is_written_is_not_undone(
    servers: Servers,
) -> None:
    """The batch reads the tombstones once, then writes; the unsharing's own consumer drops
    the entry after that read: the batch's look at the tombstones after its writes takes the
    copy out again (without it, the region-only entry stayed in this region's calendar)."""
    repo = EntryRepository(
        mongo.database(mongo.client(servers.mongo_url), unique_region(), "events"), "here"
    )
    real = repo.entries

    class UnsharedMeanwhile:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        async def insert_many(self, docs: Any, **kwargs: Any) -> Any:
            await repo.drop_copy(c.EntryUnshared(event_id=E1, region="helsinki", version=1))
            return await real.insert_many(docs, **kwargs)

    repo.entries = UnsharedMeanwhile()  # type: ignore[assignment]
    await repo.put_copies([helsinki_entry(1, "first"), other_entry("y0")])
    repo.entries = real
    with pytest.raises(Refused):
        await repo.require(E1, copy_will_do=True)
    assert await repo.require(entry_id("helsinki", "p", "y0"), copy_will_do=True)
