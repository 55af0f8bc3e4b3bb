"""The partner-search index follows the read model's change feed on a real nx-27017: a profile
published, replaced, withdrawn or erased is found or gone at the next search of every instance,
without reading every profile again; a new base built meanwhile keeps what changed during its
build; a feed number whose entry never comes is gone past."""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from typing import Any

import numpy as np
import pytest

from contracts.common import SmeRef
from mapnet.runtime.mongo import Database
from services.matching.adapters import profile_index
from services.matching.adapters.profile_index import Filters, ProfileIndex, _rows_of
from services.matching.adapters.read_model import ReadModel
from services.matching.domain.ranking import seeker_from, words
from services.matching.testdata.relevance_set import profile_docs

TODAY = date.today()


@pytest.fixture(autouse=True)
def delta_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small indexes are otherwise rebuilt at once after each change: these tests follow the
    path a large one takes (a delta over the base)."""
    monkeypatch.setattr(profile_index, "INLINE_REBUILD", 0)
    monkeypatch.setattr(profile_index, "REBUILD_SHARE", 100.0)


def docs() -> list[dict[str, Any]]:
    return [
        {**d, "sme": {**d["sme"], "version": 1}}
        for d in profile_docs(TODAY)
    ]  # fmt: skip


def found(index: ProfileIndex, seeker_doc: dict[str, Any], **filters: str) -> list[str]:
    seeker = seeker_from(seeker_doc["sme"], [seeker_doc["profile"]])
    return [doc["_id"] for doc, _, _ in index.search(seeker, Filters(**filters), TODAY, 50)]


async def loaded(db: Database) -> tuple[ReadModel, ProfileIndex, ProfileIndex, dict[str, Any]]:
    """A read model with the labelled set, and two instances' indexes of it: ``mine`` is told
    of this instance's changes, ``other`` only reads the feed."""
    model = ReadModel(db)
    await model.create_indexes()
    by_id = {d["_id"]: d for d in docs()}
    for d in by_id.values():
        await model.put_profile(d["sme"], d["profile"])
    mine, other = ProfileIndex(model), ProfileIndex(ReadModel(db))
    for index in (mine, other):
        await index.refresh()
    return model, mine, other, by_id


async def test_every_instance_finds_a_change_at_its_next_search_without_reading_all_again(
    db: Database,
) -> None:
    model, mine, other, by_id = await loaded(db)
    seeker = by_id["ph4"]
    bases = (mine.rows.retriever, other.rows.retriever)
    new = {**by_id["ph5"], "_id": "ph9"}
    new["profile"] = {**new["profile"], "profile_id": "ph9", "title": "Lidar for ships at sea"}
    new["sme"] = {**new["sme"], "sme_id": "sme-ph9", "clusters": ["maritime"]}
    await model.put_profile(new["sme"], new["profile"])
    await model.withdraw_profile("ph5")
    for index in (mine, other):
        await index.refresh()
        assert "ph9" in found(index, seeker) and "ph5" not in found(index, seeker)
        assert found(index, seeker, cluster="maritime") == ["ph9"]
        assert "maritime" in index.cluster_names(seeker_from(seeker["sme"], []), TODAY)
    # An SME's change reaches its profiles: no longer shared with the network, its profiles
    # are seen in its own region only.
    unshared = {**by_id["ph1"]["sme"], "version": 2, "share_with_network": False}
    await model.put_sme(unshared)
    # An erased SME's profiles are gone.
    await model.erase_sme(SmeRef(sme_id="sme-ph2", region="helsinki"))
    for index in (mine, other):
        await index.refresh()
        assert not {"ph1", "ph2"} & set(found(index, seeker))
        assert "ph1" in found(index, by_id["ict5"])  # berlin sees berlin's own
    assert (mine.rows.retriever, other.rows.retriever) == bases  # the base was not rebuilt


async def test_the_instance_that_made_the_change_follows_it_without_a_search(
    db: Database,
) -> None:
    model, mine, _, by_id = await loaded(db)
    await mine.start()
    try:
        await asyncio.sleep(0.5)  # its first look at the feed is over: it waits to be told
        await model.withdraw_profile("ph5")
        for _ in range(200):
            if "ph5" not in mine.rows.row_of:
                break
            await asyncio.sleep(0.01)
        assert "ph5" not in found(mine, by_id["ph4"])  # no refresh before this search
    finally:
        await mine.stop()


async def test_a_new_base_keeps_what_changed_while_it_was_built(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, mine, _, by_id = await loaded(db)
    building, go_on = threading.Event(), threading.Event()
    build = profile_index._rows_counted

    def slow_build(*args: Any) -> Any:
        building.set()
        go_on.wait(10)
        return build(*args)

    monkeypatch.setattr(profile_index, "_rows_counted", slow_build)
    monkeypatch.setattr(profile_index, "REBUILD_SHARE", 0.0)
    await model.withdraw_profile("ph5")
    await mine.refresh()  # past the share: a new base is built in a thread
    assert await asyncio.to_thread(building.wait, 10)
    old_base = mine.rows.retriever
    await model.withdraw_profile("ict2")  # while it is built
    await model.put_profile(by_id["ph5"]["sme"], by_id["ph5"]["profile"])  # and back again
    monkeypatch.setattr(profile_index, "REBUILD_SHARE", 100.0)
    await mine.refresh()
    go_on.set()
    rebuild = mine._rebuild
    assert rebuild is not None
    await rebuild
    assert mine.rows.retriever is not old_base and mine.rebuilds == 1
    assert "ict2" not in found(mine, by_id["ict3"]) and "ph5" in found(mine, by_id["ph4"])


async def test_a_number_whose_entry_never_comes_is_gone_past(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, mine, _, by_id = await loaded(db)
    # A writer took a number and died before writing its entry.
    await model.meta.update_one({"_id": "profiles"}, {"$inc": {"version": 1}})
    gap = await model.version()
    await model.withdraw_profile("ph5")
    await mine.refresh()
    assert "ph5" not in found(mine, by_id["ph4"])  # the entry after the gap is applied
    assert mine.cursor == gap - 1  # but the gap is waited for a while
    monkeypatch.setattr(profile_index, "GAP_WAIT_S", 0.0)
    await mine.refresh()
    await model.withdraw_profile("ph1")
    await mine.refresh()
    assert mine.cursor == gap + 2 and not mine._applied


def test_a_profile_in_the_delta_scores_as_it_did_in_the_base() -> None:
    held = docs()
    rows = _rows_of(held)
    query = words("long range lidar modules for ships laser")
    before = rows.text_scores(query)
    rows.put("ph5", *rows.held("ph5"))  # type: ignore[misc]
    after = rows.text_scores(query)
    assert rows.row_of["ph5"] == len(held)
    assert after[len(held)] == pytest.approx(
        before[held.index(next(d for d in held if d["_id"] == "ph5"))], rel=1e-5
    )
    assert np.count_nonzero(rows.alive[: len(rows.docs)]) == len(held)
