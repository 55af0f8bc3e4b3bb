"""`search_smes` from the in-memory index (adapters/sme_index.py, search.py): the same pages as
the database's keyset query for every filter, text, sort and cursor; this process's writes
found by the very next search, another instance's through the change feed, an erasure gone
at once, and pages that neither skip nor double a row while SMEs are added between them."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stdnum.ee.registrikood import calc_check_digit

from contracts import registry as c
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.mongo import Database
from services.registry.adapters import changes, sme_index
from services.registry.adapters import search as search_module
from services.registry.adapters.repository import COLLECTION, SmeRepository, _state
from services.registry.adapters.search import SmeSearch, search_database
from services.registry.domain.model import Sme
from services.registry.domain.terms import query_terms
from services.registry.service_layer.ports import FirstAnswer
from tests.fixtures import Servers

WORDS = ["laser", "optics", "cloud", "saas", "wind", "solar", "shipping", "bakery", "nordic",
         "baltic", "export", "software"]  # fmt: skip
CLUSTERS = ["ict", "photonics", "cleantech", "maritime", "food"]
NACE = ["62.01", "63.11", "26.70", "72.11", "10.89"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def reg_number(i: int) -> str:
    number = f"1{i:06d}"
    return number + calc_check_digit(number + "0")


def sme_input(i: int, rng: random.Random, name: str | None = None) -> c.RegisterSme:
    words = rng.sample(WORDS, 3)
    headcount = rng.choice([3, 30, 120, 400])
    return c.RegisterSme.model_validate({
        "legal_name": name or f"{words[0].title()} {words[1].title()} {i} OÜ",
        "registration_number": reg_number(i),
        "country": "EE",
        "nace_codes": rng.sample(NACE, rng.randint(1, 2)),
        "clusters": rng.sample(CLUSTERS, rng.randint(0, 2)),
        "keywords": words[:2],
        "description": f"We make {words[2]} for firms",
        "figures": [{"year": 2025, "staff_headcount": headcount}],
        "share_with_network": rng.random() < 0.5,
    })  # fmt: skip


async def registered(repo: SmeRepository, i: int, rng: random.Random, at: datetime) -> Sme:
    sme = Sme.register(str(uuid.UUID(int=i)), "idx", sme_input(i, rng), actor="t", now=at)
    await repo.add(sme, [], FirstAnswer("", b""))
    return sme


def queries() -> list[c.SearchSmes]:
    asked: list[dict[str, Any]] = [
        {}, {"text": "laser"}, {"text": "las opt"}, {"text": "nordic 1"}, {"cluster": "ict"},
        {"cluster": "ict", "size_class": "small"}, {"nace": "62"}, {"nace": "C"},
        {"stage": "identified", "growth_class": "unknown"}, {"keywords": ["cloud", "saas"]},
        {"country": "EE", "region": "idx"}, {"country": "FI"}, {"text": "nothing-like-it"},
        {"size_class": "medium", "stage": "selected"},
    ]  # fmt: skip
    return [
        c.SearchSmes.model_validate({**given, "sort": sort, "limit": 7})
        for given in asked
        for sort in ("legal_name", "-legal_name", "updated_at", "-updated_at")
    ]


async def every_page(search: Any, q: c.SearchSmes, own: str | None) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await search(q.model_copy(update={"cursor": cursor}), own=own)
        pages.append([item.sme_id for item in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def by_hand(stored: list[dict[str, Any]], q: c.SearchSmes, own: str | None) -> list[list[str]]:
    """The pages the search's rules give, computed over every stored record."""

    def matches(doc: dict[str, Any]) -> bool:
        equal = {"country": q.country, "region": q.region, "stage": q.stage}
        classes = {"size_class": q.size_class, "growth_class": q.growth_class}
        among = {
            "nace_levels": [q.nace] if q.nace else [],
            "clusters": [q.cluster] if q.cluster else [],
            "keywords": q.keywords,
            "search_terms": query_terms(q.text or ""),
        }
        return (
            not doc.get("erased")
            and all(v is None or doc[k] == v for k, v in equal.items())
            and all(v is None or doc[k]["value"] == v for k, v in classes.items())
            and all(set(v) <= set(doc[k]) for k, v in among.items())
            and (own is None or doc["share_with_network"] or doc["_id"] == own)
        )

    field = q.sort.lstrip("-")
    found = sorted(
        ((d[field], d["_id"]) for d in stored if matches(d)), reverse=q.sort.startswith("-")
    )
    ids = [sme_id for _, sme_id in found]
    return [ids[i : i + q.limit] for i in range(0, len(ids), q.limit)] or [[]]


async def searching(db: Database) -> tuple[SmeSearch, SmeRepository]:
    """A registry instance's search index, read, and the repository that writes through it."""
    search = SmeSearch(db, COLLECTION)
    repo = SmeRepository(db, search)
    await repo.create_indexes()
    await search.start()
    await search.loaded()
    return search, repo


async def test_the_index_answers_as_the_database_does(db: Database) -> None:
    """Every query of every filter, the text, each sort and the contact's view, paged through:
    the same rows in the same pages, after registrations (ties on updated_at), changes of
    stage and name, and erasures. Tests every structure the index keeps against the query
    it replaces."""
    search, repo = await searching(db)
    rng = random.Random(5)
    smes = [await registered(repo, i, rng, START + timedelta(seconds=i // 3)) for i in range(90)]
    for sme in smes[::7]:
        sme.change_stage("selected", "t", "ready", START + timedelta(days=1))
        await repo.save(sme, sme.version - 1, [])
    for sme in smes[1::11]:
        sme.update(c.SmeChanges(legal_name=f"Renamed {sme.data.legal_name}"), START)
        await repo.save(sme, sme.version - 1, [])
    for sme in smes[2::13]:
        await repo.erase(sme.sme_id, [])
    # A contact's SME that does not share: it finds that one and the shared ones.
    own = next(s.sme_id for s in smes[3:] if not s.data.share_with_network)
    stored = await db[COLLECTION].find({}).to_list(None)
    for q in queries():
        for seen_by in (None, own):
            from_index = await every_page(search.search, q, seen_by)
            from_database = await every_page(
                lambda q, own: search_database(search.smes, q, own=own), q, seen_by
            )
            assert from_index == from_database == by_hand(stored, q, seen_by), (q, seen_by)
    # And an index read from the database at start holds the same.
    started = SmeSearch(db, COLLECTION)
    await started.start()
    await started.loaded()
    for q in queries()[:8]:
        assert await every_page(started.search, q, None) == await every_page(search.search, q, None)


async def test_writes_are_found_by_the_next_search_and_an_erasure_is_gone_at_once(
    db: Database,
) -> None:
    search, repo = await searching(db)
    rng = random.Random(1)
    sme = await registered(repo, 1, rng, START)
    found = await search.search(c.SearchSmes(text=sme.data.legal_name.split()[0]))
    assert [s.sme_id for s in found.items] == [sme.sme_id]
    sme.update(c.SmeChanges(legal_name="Quasar Works OÜ"), START)
    await repo.save(sme, sme.version - 1, [])
    assert [s.legal_name for s in (await search.search(c.SearchSmes(text="quas"))).items] == [
        "Quasar Works OÜ"
    ]
    assert (
        await search.search(c.SearchSmes(text=sme_input(1, random.Random(1)).legal_name))
    ).items == []
    await repo.erase(sme.sme_id, [])
    assert (await search.search(c.SearchSmes(text="quas"))).items == []
    assert (await search.search(c.SearchSmes())).items == []


@pytest.mark.usefixtures("region_app")
async def test_another_instance_finds_what_this_one_wrote_in_its_next_search(
    client: BusClient, region: str, servers: Servers
) -> None:
    """A second registry instance's index (on the region's database) finds an SME the first
    instance registered, its change and its erasure in the first search after each answer:
    the change feed is written before the command is answered."""
    db = mongo.database(mongo.client(servers.mongo_url), region, "registry")
    other = SmeSearch(db, COLLECTION)
    await other.start()
    await other.loaded()
    assert other.ready
    rng = random.Random(2)
    view = await client.call(c.REGISTER_SME, sme_input(7, rng, "Borealis Kiln OÜ"), region)
    found = await other.search(c.SearchSmes(text="boreal"))
    assert [s.sme_id for s in found.items] == [view.sme_id]
    await client.call(
        c.UPDATE_SME,
        c.UpdateSme(sme_id=view.sme_id, expected_version=view.version,
                    changes=c.SmeChanges(legal_name="Aurora Kiln OÜ", clusters=["maritime"])),
        region,
    )  # fmt: skip
    assert [s.legal_name for s in (await other.search(c.SearchSmes(cluster="maritime"))).items] == [
        "Aurora Kiln OÜ"
    ]
    assert (await other.search(c.SearchSmes(text="boreal"))).items == []
    await client.call(c.ERASE_SME, c.EraseSme(sme_id=view.sme_id, reason="asked"), region)
    assert (await other.search(c.SearchSmes(text="kiln"))).items == []
    # Nothing new: a search reads the feed's counter only.
    assert other.upto == await other.feed.last()


@pytest.mark.usefixtures("region_app")
async def test_paging_while_smes_are_added_skips_and_doubles_nothing(
    client: BusClient, region: str
) -> None:
    rng = random.Random(3)
    first = [
        (await client.call(c.REGISTER_SME, sme_input(100 + i, rng), region)).sme_id
        for i in range(12)
    ]
    for sort in ("legal_name", "-updated_at"):
        seen: list[str] = []
        page = await client.call(c.SEARCH_SMES, c.SearchSmes(limit=4, sort=sort), region)
        kept_cursor = page.next_cursor
        added = 0
        while True:
            seen += [item.sme_id for item in page.items]
            # SMEs added between two pages, before and after the cursor in either order.
            for name in ("Aaa Added", "Zzz Added"):
                added += 1
                await client.call(
                    c.REGISTER_SME,
                    sme_input(200 + added + (50 if sort != "legal_name" else 0), rng,
                              f"{name} {added} {sort} OÜ"),
                    region,
                )  # fmt: skip
            if page.next_cursor is None:
                break
            page = await client.call(
                c.SEARCH_SMES, c.SearchSmes(limit=4, sort=sort, cursor=page.next_cursor), region
            )
        assert len(seen) == len(set(seen)), "a row doubled"
        assert set(first) <= set(seen), "a row skipped"
        # A cursor given out before all that still pages on from where it was.
        again = await client.call(
            c.SEARCH_SMES, c.SearchSmes(limit=4, sort=sort, cursor=kept_cursor), region
        )
        assert again.items and not {i.sme_id for i in again.items} & set(seen[:4])


def test_a_walk_that_finds_its_rows_bunched_at_the_far_end_sorts_them_instead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows matching a broad filter all at the end of the order: the walk gives up within its
    budget and the match is sorted, with the same page."""
    monkeypatch.setattr(sme_index, "_WALK_SLACK", 0)
    index = sme_index.SmeIndex()
    docs = []
    for i in range(400):
        given = sme_input(i, random.Random(i), f"{'Zed' if i % 2 else 'Abe'} {i:03d} OÜ")
        sme = Sme.register(str(uuid.UUID(int=i)), "idx", given, actor="t", now=START)
        docs.append({"_id": sme.sme_id, **_state(sme)})
        index.put(docs[-1])
    q = c.SearchSmes(text="zed", limit=5)
    walked: list[Any] = []
    sort_match = index._sorted

    def sorted_instead(*given: Any) -> list[Any]:
        walked.append(given)
        return sort_match(*given)

    monkeypatch.setattr(index, "_sorted", sorted_instead)
    pages: list[list[str]] = []
    cursor = None
    while True:
        items, cursor = index.page(q.model_copy(update={"cursor": cursor}))
        pages.append([item.sme_id for item in items])
        if cursor is None:
            break
    assert walked, "the walk did not give up"
    assert pages == by_hand(docs, q, None)


async def writer_and_reader(db: Database) -> tuple[SmeSearch, SmeRepository, SmeSearch]:
    """Two registry instances on one database: one writes (its index, its repository), the
    other's index follows the first's through the change feed."""
    writer = SmeSearch(db, COLLECTION)
    repo = SmeRepository(db, writer)
    await repo.create_indexes()
    reader = SmeSearch(db, COLLECTION)
    await reader.start()
    await reader.loaded()
    return writer, repo, reader


async def test_a_feed_number_without_its_entry_is_waited_for_then_passed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that took a number and died before writing its entry holds the index back for
    GAP_WAIT_S only; entries after the gap are read meanwhile."""
    monkeypatch.setattr(search_module, "GAP_WAIT_S", 0.3)
    writer, repo, reader = await writer_and_reader(db)
    await writer.feed._next_number()  # taken, never written
    sme = await registered(repo, 1, random.Random(1), START)
    found = await reader.search(c.SearchSmes())
    assert [s.sme_id for s in found.items] == [sme.sme_id]
    assert reader.upto == 0 and reader.applied == {2}
    await asyncio.sleep(0.4)
    await reader.search(c.SearchSmes())  # the gap seen again after the wait
    await reader.search(c.SearchSmes())
    assert reader.upto == 2 and not reader.applied


async def test_smes_whose_feed_entry_failed_go_into_a_later_one(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed's write fails once (the database away a moment): the registration stands and
    its SME reaches the other instances' indexes through the entry written after the pause."""
    monkeypatch.setattr(changes, "RETRY_S", 0.1)
    writer, repo, reader = await writer_and_reader(db)
    take_number = writer.feed._next_number
    failed: list[int] = []

    async def away_once() -> int:
        if not failed:
            failed.append(1)
            raise ConnectionError("the database is away")
        return await take_number()

    monkeypatch.setattr(writer.feed, "_next_number", away_once)
    sme = await registered(repo, 1, random.Random(1), START)
    assert failed and (await reader.search(c.SearchSmes())).items == []
    await asyncio.sleep(0.3)
    assert [s.sme_id for s in (await reader.search(c.SearchSmes())).items] == [sme.sme_id]
