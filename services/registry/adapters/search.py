"""`search_smes`: filters, free text, sort and cursor pages, answered from the registry
process's in-memory index (sme_index.py) and kept current by every write.

- This process's own writes go into the index as they are written (the repository hands each
  written record over before the command is answered): whoever registers or edits an SME finds
  it in the very next search.
- Other registry instances' writes come through the change feed (changes.py), whose entry each
  writer adds before its command is answered. Before each search this process reads the feed's
  counter (one read by ``_id``) and, if other entries came, reads them and their SMEs (by
  ``_id``): a search sent after another instance answered a write finds it. Nothing is read
  while nobody searches.
- At start the index is read from the database in the background (the counter first, so that
  whatever is written meanwhile is followed); until it is read, searches go to the database
  (``search_database``, the keyset query this index replaces). At 100,000 SMEs the database
  took up to 1.7 s per search (nx-27017 reads and sorts every SME of a broad filter).
- An index more than the feed holds behind (FEED_KEPT entries) reads every SME again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from contracts import registry as c
from contracts.errors import Refused
from mapnet.runtime import logs
from mapnet.runtime.mongo import Collection, Database
from mapnet.runtime.paging import decode_cursor, keyset_page

from ..domain.terms import query_terms
from .changes import FEED_KEPT, READ_CHUNK, ChangeFeed
from .sme_index import PROJECTION, SmeIndex

# How long a feed number whose entry is missing (its writer between the counter and the entry,
# or died there) is waited for before the index goes past it.
GAP_WAIT_S = 5.0
# A number passed after GAP_WAIT_S is still looked for this long (its writer may only be slow:
# nx-27017 serves one request at a time), so that its entry is read when it comes.
LATE_KEEP_S = 600.0
# SMEs read at start per request: nx-27017 serves one request at a time, and the others (the
# registry's writes) go between two batches (the batch's size changes the whole read little).
LOAD_BATCH = 500

log = logs.get(component="sme_search")


class SmeSearch:
    """The index, what keeps it current, and the search over it."""

    def __init__(self, db: Database, collection: str) -> None:
        self.smes = db[collection]
        self.feed = ChangeFeed(db)
        self.feed.listeners.append(self._own_entry)
        self.index = SmeIndex()
        self.ready = False
        # Every feed entry up to ``upto`` is in the index; so are those in ``applied`` above.
        self.upto = 0
        self.applied: set[int] = set()
        self._missing_since: dict[int, float] = {}
        # Numbers passed without their entry, and when: still looked for (LATE_KEEP_S).
        self._late: dict[int, float] = {}
        self._asked = self._followed = 0
        self._following = asyncio.Lock()
        self._loading: asyncio.Task[None] | None = None
        # While the index is read: the SMEs this process writes meanwhile, read again after.
        self._written_meanwhile: set[str] | None = None

    # --- what the repository tells ------------------------------------------------------------

    def written(self, record: dict[str, Any]) -> None:
        """A record this process just wrote (its state as stored)."""
        self.index.put(record)
        if self._written_meanwhile is not None:
            self._written_meanwhile.add(str(record["_id"]))

    def erased(self, sme_id: str) -> None:
        self.index.remove(sme_id)

    async def changed(self, sme_ids: list[str]) -> None:
        """Tells the other instances, through the feed, that these SMEs were written. A
        failure is logged, not raised: the write stands, and the feed writes its SMEs into a
        later entry (changes.py)."""
        try:
            await self.feed.record(sme_ids)
        except Exception as exc:
            log.warning("sme_change_not_recorded", error=f"{type(exc).__name__}: {exc}",
                        smes=len(sme_ids))  # fmt: skip

    def _own_entry(self, number: int) -> None:
        self.applied.add(number)
        self._missing_since.pop(number, None)  # a search may have looked before it was written
        self._advance()

    # --- start ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """The index read in the background: the service answers meanwhile."""
        self._loading = asyncio.create_task(self._load(), name="sme-index-load")

    async def stop(self) -> None:
        if self._loading is not None:
            self._loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loading

    async def _load(self) -> None:
        started = time.monotonic()
        self._written_meanwhile = set()
        try:
            fresh = SmeIndex()
            # The counter first: every entry after it is read again once the index is in use.
            last = await self.feed.last()
            async for doc in self.smes.find({}, PROJECTION).batch_size(LOAD_BATCH):
                fresh.put(doc)
            # What this process wrote while the read went on, as it is now (the read may have
            # passed it before it changed).
            while self._written_meanwhile:
                ids, self._written_meanwhile = sorted(self._written_meanwhile), set()
                await self._read_into(fresh, ids)
            for sme_id in self.index.gone:
                fresh.remove(sme_id)
            self.index = fresh
            self.upto = max(self.upto, last)
            self.applied = {n for n in self.applied if n > self.upto}
            self.ready = True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # searches go on from the database; the next start retries
            log.exception("sme_index_load_failed", error=str(exc))
            return
        finally:
            self._written_meanwhile = None
        log.info("sme_index_loaded", smes=len(self.index),
                 seconds=round(time.monotonic() - started, 2))  # fmt: skip

    async def loaded(self) -> None:
        """Waits until the index is read (for tests and the benchmark)."""
        if self._loading is not None:
            await asyncio.shield(self._loading)

    # --- following the others ------------------------------------------------------------------

    async def follow(self) -> None:
        """Whatever the other instances wrote before now, into the index. Searches that ask
        while one follow runs share the next one."""
        self._asked += 1
        asked = self._asked
        async with self._following:
            if self._followed >= asked:
                return
            asked = self._asked
            await self._follow()
            self._followed = asked

    async def _follow(self) -> None:
        last = await self.feed.last()
        now = time.monotonic()
        self._late = {n: at for n, at in self._late.items() if now - at < LATE_KEEP_S}
        if last <= self.upto and not self._late:
            return
        if last - self.upto > FEED_KEPT:
            # Too far behind for the feed: everything again (rare: a long-stopped instance).
            self.ready = False
            self._loading = asyncio.create_task(self._load(), name="sme-index-load")
            await self.loaded()
            return
        numbers = [n for n in range(self.upto + 1, last + 1) if n not in self.applied]
        entries = await self.feed.read(numbers + sorted(self._late))
        ids = sorted({sme_id for entry in entries for sme_id in entry.get("ids", [])})
        await self._read_into(self.index, ids)
        found = {int(entry["_id"]) for entry in entries}
        for number in found & self._late.keys():
            del self._late[number]  # came late: read now
        for number in numbers:
            if number in found:
                self.applied.add(number)
                self._missing_since.pop(number, None)
            elif now - self._missing_since.setdefault(number, now) > GAP_WAIT_S:
                # Its writer died between the counter and the entry, or is slow: passed, and
                # still looked for a while.
                self.applied.add(number)
                self._missing_since.pop(number, None)
                self._late[number] = now
        self._advance()

    async def _read_into(self, index: SmeIndex, ids: list[str]) -> None:
        """These SMEs as stored now, into ``index`` (by ``_id``, READ_CHUNK a request)."""
        for start in range(0, len(ids), READ_CHUNK):
            chunk = ids[start : start + READ_CHUNK]
            async for doc in self.smes.find({"_id": {"$in": chunk}}, PROJECTION):
                index.put(doc)

    def _advance(self) -> None:
        while self.upto + 1 in self.applied:
            self.upto += 1
            self.applied.discard(self.upto)

    # --- the search ----------------------------------------------------------------------------

    async def search(self, q: c.SearchSmes, *, own: str | None = None) -> c.SmePage:
        """``own``: a contact's SME; the contact finds it and the SMEs that share with the
        network (what another region finds), no others."""
        if q.cursor:
            decode_cursor(q.cursor)  # a forged cursor is refused before anything is read
        if not self.ready:
            return await search_database(self.smes, q, own=own)
        await self.follow()
        items, cursor = self.index.page(q, own)
        return c.SmePage(items=items, next_cursor=cursor)


# --- the database's answer, while the index is being read ----------------------------------------

SUMMARY = {
    "region": 1,
    "legal_name": 1,
    "country": 1,
    "nace_codes": 1,
    "clusters": 1,
    "size_class": 1,
    "growth_class": 1,
    "stage": 1,
    "updated_at": 1,
    "erased": 1,
    "search_terms": 1,
    "share_with_network": 1,
}


def _filter(q: c.SearchSmes) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    simple = {
        "country": q.country,
        "region": q.region,
        "nace_levels": q.nace,
        "clusters": q.cluster,
        "size_class.value": q.size_class,
        "growth_class.value": q.growth_class,
        "stage": q.stage,
    }
    clauses += [{field: value} for field, value in simple.items() if value is not None]
    if q.keywords:
        clauses.append({"keywords": {"$all": q.keywords}})
    if terms := query_terms(q.text or ""):
        clauses.append({"search_terms": terms[0]})  # the longest through the index
    return clauses


def _kept(q: c.SearchSmes, own: str | None) -> Callable[[dict[str, Any]], bool]:
    """Tombstones, the search's further terms and, for a contact, the SMEs that neither are
    its own nor share, are left out in Python (see mongo.py). (The contact's rule as an
    ``$or`` with ``_id`` in the query: nx-27017 0.8 then answers the contact's own SME beside
    a range on an indexed field, as on every page after the first, whatever the filters.)"""
    more = set(query_terms(q.text or "")[1:])

    def keep(doc: dict[str, Any]) -> bool:
        if own is not None and not (doc.get("share_with_network") or doc["_id"] == own):
            return False
        return not doc.get("erased") and more <= set(doc.get("search_terms") or ())

    return keep


async def search_database(
    smes: Collection, q: c.SearchSmes, *, own: str | None = None
) -> c.SmePage:
    """The search as a keyset query of the database."""
    docs, cursor = await keyset_page(
        smes, _filter(q), q.sort, q.limit, q.cursor, keep=_kept(q, own), projection=SUMMARY
    )
    try:
        items = [
            c.SmeSummary(
                sme_id=d["_id"],
                region=d["region"],
                legal_name=d["legal_name"],
                country=d["country"],
                nace_codes=d.get("nace_codes", []),
                clusters=d.get("clusters", []),
                size_class=d["size_class"]["value"],
                growth_class=d["growth_class"]["value"],
                stage=d["stage"],
            )
            for d in docs
        ]
    except KeyError as exc:  # a record written by a newer version: say so rather than crash
        raise Refused("internal", f"stored SME lacks {exc}") from exc
    return c.SmePage(items=items, next_cursor=cursor)
