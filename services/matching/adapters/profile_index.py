"""The partner-search index: every visible cooperation profile held in memory, searched with BM25
(bm25s) over titles, summaries, keywords and descriptions, and following the read model's change
feed (read_model.py) so that every matching instance answers from the same data.

The index is a base bm25s index over a snapshot of the profiles plus the rows changed since (the
delta): a changed or withdrawn profile's base row is masked, its new version appended and scored
with the base's statistics (its document frequencies, count and average length). When the delta
and the masked rows together pass a share of the base, a new base is built in a thread from the
rows held in memory (not read again from the database) and swapped in at once; the changes that
came meanwhile are applied to it first. A change is visible to the next search after its entry
is in the feed: the instance that consumed the event is told at once and follows in the
background; another instance reads the feed's new entries before its next search (one read of
the counter when nothing changed)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import bm25s
import numpy as np

from ..domain.ranking import WEIGHTS, Seeker, score, visible, words
from .read_model import FEED_KEPT, TRIM_EVERY, ReadModel

ROUGH_CANDIDATES = 300
# bm25s.BM25's defaults (method "lucene"), with which the base is built and the delta scored.
K1, B = 1.5, 0.75
# A new base is built when the delta and the masked rows pass this share of the base, in a
# thread; an index of at most INLINE_REBUILD profiles is rebuilt at once after any change (a
# few milliseconds), so that a small one ranks exactly as one built from scratch.
REBUILD_SHARE = 0.2
INLINE_REBUILD = 2_000
# Feed entries read in one request, and how long a missing number (its writer has not written
# the entry yet, or died before) is waited for before the index goes past it.
FEED_BATCH = 500
GAP_WAIT_S = 5.0
# After being told of a change, a short wait gathers what comes with it into one read.
FOLLOW_DELAY_S = 0.02
# What of a profile the search, its ranking and its answer read.
SME_KEPT = ("sme_id", "region", "legal_name", "country", "nace_codes", "clusters",
            "share_with_network", "size_class")  # fmt: skip
PROFILE_KEPT = ("profile_id", "type", "title", "status", "visibility", "expires_on",
                "nace_codes", "target_countries")  # fmt: skip
COLUMNS = ("country", "region", "type", "size")

log = logging.getLogger(__name__)


@dataclass
class Filters:
    country: str | None = None
    region: str | None = None
    profile_type: str | None = None
    nace: str | None = None
    cluster: str | None = None
    size_class: str | None = None


def profile_text(doc: dict[str, Any]) -> str:
    p = doc["profile"]
    return " ".join(
        [p["title"], p["title"], p["summary"], " ".join(p.get("keywords", [])) * 2,
         p.get("description", "")]
    )  # fmt: skip


def _kept(doc: dict[str, Any]) -> dict[str, Any]:
    """What the index holds of a read-model profile (its text only as tokens)."""
    p, sme = doc["profile"], doc["sme"]
    return {
        "_id": doc["_id"],
        "sme_key": doc["sme_key"],
        "profile": {k: p[k] for k in PROFILE_KEPT if k in p},
        "sme": {k: sme[k] for k in SME_KEPT if k in sme},
    }


def _prepared(doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return _kept(doc), " ".join(words(profile_text(doc)))


def _idf(df: float, n: float) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))  # bm25s's "lucene" idf


def _open(doc: dict[str, Any], today: date) -> bool:
    """Visible today to someone of the profile's own region (the consent to share aside)."""
    anyone_there = Seeker("", doc["sme"]["region"], "", [], [], set())
    return visible(doc, anyone_there, today)


class _Rows:
    """A base bm25s index over a snapshot, the rows appended since, and a mask of the live ones.
    Row ``i`` holds ``docs[i]`` (None once masked) and its tokens, space-joined."""

    def __init__(self, docs: list[dict[str, Any]], tokens: list[str]) -> None:
        n = self.base_count = len(docs)
        self.docs: list[dict[str, Any] | None] = list(docs)
        self.tokens = list(tokens)
        self.retriever = bm25s.BM25(k1=K1, b=B)
        self.vocabulary: dict[str, int] = {}
        self.base_df = np.zeros(0, dtype=np.int64)
        self.average_length = 1.0
        if n:
            split = [t.split() for t in tokens]
            self.retriever.index(split, show_progress=False)
            self.vocabulary = self.retriever.vocab_dict
            self.base_df = np.diff(self.retriever.scores["indptr"])
            self.average_length = float(np.mean([len(t) for t in split])) or 1.0
        capacity = max(64, n + n // 4)
        self.alive = np.zeros(capacity, dtype=bool)
        self.codes: dict[str, dict[str, int]] = {c: {} for c in COLUMNS}
        self.columns = {c: np.full(capacity, -1, dtype=np.int32) for c in COLUMNS}
        self.inverted: dict[str, dict[str, list[int]]] = {"division": {}, "nace": {}, "cluster": {}}
        self._arrays: dict[tuple[str, str], np.ndarray] = {}
        self.row_of: dict[str, int] = {}
        self.rows_of_sme: dict[str, set[str]] = {}
        # The delta's postings: token -> rows and their BM25 term-frequency parts.
        self.postings: dict[str, tuple[list[int], list[float]]] = {}
        self._posting_arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.masked = 0
        # Clusters of the profiles open on names_day: of those shared with the network, and
        # of those seen in their own region only, by region.
        self.names_day: date | None = None
        self.shared_names: Counter[str] = Counter()
        self.home_names: dict[str, Counter[str]] = {}
        for row, doc in enumerate(docs):
            self._describe(row, doc)

    # --- changes -------------------------------------------------------------------------

    def held(self, profile_id: str) -> tuple[dict[str, Any], str] | None:
        row = self.row_of.get(profile_id)
        if row is None:
            return None
        doc = self.docs[row]
        assert doc is not None
        return doc, self.tokens[row]

    def live(self) -> tuple[list[dict[str, Any]], list[str]]:
        rows = np.flatnonzero(self.alive[: len(self.docs)]).tolist()
        return [self.docs[r] for r in rows], [self.tokens[r] for r in rows]  # type: ignore[misc]

    def stale_count(self) -> int:
        """Rows a new base would not hold or would hold elsewhere: the delta and the masked."""
        return len(self.docs) - self.base_count + self.masked

    def remove(self, profile_id: str) -> None:
        row = self.row_of.pop(profile_id, None)
        if row is None:
            return
        doc = self.docs[row]
        assert doc is not None
        self._count_names(doc, -1)
        held = self.rows_of_sme.get(doc["sme_key"])
        if held is not None:
            held.discard(profile_id)
            if not held:
                del self.rows_of_sme[doc["sme_key"]]
        self.alive[row] = False
        self.docs[row], self.tokens[row] = None, ""
        self.masked += row < self.base_count

    def put(self, profile_id: str, doc: dict[str, Any], tokens: str) -> None:
        self.remove(profile_id)
        row = len(self.docs)
        if row == len(self.alive):
            self._grow()
        self.docs.append(doc)
        self.tokens.append(tokens)
        self._describe(row, doc)
        split = tokens.split()
        length_part = K1 * (1 - B + B * len(split) / self.average_length)
        for token, tf in Counter(split).items():
            rows, parts = self.postings.setdefault(token, ([], []))
            rows.append(row)
            parts.append(tf / (tf + length_part))
            self._posting_arrays.pop(token, None)

    def _grow(self) -> None:
        capacity = len(self.alive) * 2
        self.alive = np.resize(self.alive, capacity)
        self.alive[len(self.docs) :] = False
        for name, values in self.columns.items():
            grown = np.full(capacity, -1, dtype=np.int32)
            grown[: len(values)] = values
            self.columns[name] = grown

    def _describe(self, row: int, doc: dict[str, Any]) -> None:
        p, sme = doc["profile"], doc["sme"]
        self.alive[row] = True
        self.row_of[doc["_id"]] = row
        self.rows_of_sme.setdefault(doc["sme_key"], set()).add(doc["_id"])
        values = {"country": sme["country"], "region": sme["region"], "type": p["type"],
                  "size": sme.get("size_class", "unknown")}  # fmt: skip
        for name, value in values.items():
            codes = self.codes[name]
            self.columns[name][row] = codes.setdefault(value, len(codes))
        codes_held = p.get("nace_codes") or sme.get("nace_codes", [])
        levels = {code[:n] for code in codes_held for n in (2, 4, 5)}
        for kind, keys in (("division", {lvl[:2] for lvl in levels}), ("nace", levels),
                           ("cluster", set(sme.get("clusters", [])))):  # fmt: skip
            for k in keys:
                self.inverted[kind].setdefault(k, []).append(row)
                self._arrays.pop((kind, k), None)
        self._count_names(doc, +1)

    # --- search --------------------------------------------------------------------------

    def _code(self, column: str, value: str) -> int:
        return self.codes[column].get(value, -2)

    def _any_of(self, kind: str, keys: set[str], n: int) -> np.ndarray:
        hit = np.zeros(n, dtype=bool)
        for k in keys:
            rows = self.inverted[kind].get(k)
            if rows:
                array = self._arrays.get((kind, k))
                if array is None:
                    array = self._arrays[(kind, k)] = np.array(rows, dtype=np.int64)
                hit[array] = True
        return hit

    def mask(self, f: Filters) -> np.ndarray:
        n = len(self.docs)
        mask = self.alive[:n].copy()
        for column, wanted in (("country", f.country), ("region", f.region),
                               ("type", f.profile_type), ("size", f.size_class)):  # fmt: skip
            if wanted is not None:
                mask &= self.columns[column][:n] == self._code(column, wanted)
        if f.nace is not None:
            mask &= self._any_of("nace", {f.nace}, n)
        if f.cluster is not None:
            mask &= self._any_of("cluster", {f.cluster}, n)
        return mask

    def text_scores(self, query: list[str]) -> np.ndarray:
        """BM25 of every row: the base's from bm25s, the delta's with the base's statistics
        (a token the base lacks counts the delta rows holding it as its frequency)."""
        n = len(self.docs)
        scores = np.zeros(n, dtype=float)
        if not query:
            return scores
        if self.base_count:
            scores[: self.base_count] = self.retriever.get_scores(query)
        if n > self.base_count:
            documents = max(self.base_count, 1)
            for token in query:
                if token not in self.postings:
                    continue
                arrays = self._posting_arrays.get(token)
                if arrays is None:
                    rows, parts = self.postings[token]
                    arrays = self._posting_arrays[token] = (np.array(rows), np.array(parts))
                known = self.vocabulary.get(token)
                df = self.base_df[known] if known is not None else len(arrays[0])
                scores[arrays[0]] += _idf(float(df), documents) * arrays[1]
        return scores

    # --- what the search may be filtered by ----------------------------------------------

    def _count_names(self, doc: dict[str, Any], sign: int) -> None:
        if self.names_day is None or not _open(doc, self.names_day):
            return
        sme = doc["sme"]
        if sme.get("share_with_network"):
            counts = self.shared_names
        else:
            counts = self.home_names.setdefault(sme["region"], Counter())
        for name in sme.get("clusters", []):
            counts[name] += sign

    def count_names(self, day: date | None) -> None:
        self.names_day, self.shared_names, self.home_names = day, Counter(), {}
        for doc in self.docs:
            if doc is not None:
                self._count_names(doc, +1)

    def cluster_names(self, region: str, today: date) -> list[str]:
        if self.names_day != today:  # counted again once a day (profiles expire)
            self.count_names(today)
        home = self.home_names.get(region, Counter())
        names = {k for k, v in self.shared_names.items() if v > 0}
        names |= {k for k, v in home.items() if v > 0}
        return sorted(names, key=lambda name: (name.casefold(), name))


class ProfileIndex:
    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model
        self.rows = _Rows([], [])
        # The feed's number up to which the index holds every change (-1: nothing read yet),
        # the entries above it already applied, and since when a missing one is missing.
        self.cursor = -1
        self._applied: set[int] = set()
        self._missing_since: dict[int, float] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None
        self._rebuild: asyncio.Task[None] | None = None
        # Profiles changed while a new base is being built: applied to it before the swap.
        self._changed_during: set[str] | None = None
        self.rebuilds = 0

    # --- following the read model ----------------------------------------------------------

    async def start(self) -> None:
        """Loads the index in the background and follows every change this instance makes."""
        self.read_model.listeners.append(self.changed)
        self._follower = asyncio.create_task(self._follow_loop(), name="profile-index")

    async def stop(self) -> None:
        for task in (self._follower, self._rebuild):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def changed(self) -> None:
        self._wake.set()

    async def _follow_loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("profile index: following the change feed failed")
            await self._wake.wait()
            await asyncio.sleep(FOLLOW_DELAY_S)
            self._wake.clear()

    async def refresh(self) -> None:
        """Up to date with the feed as it is now (a search calls this first)."""
        async with self._lock:
            if self.cursor < 0:
                await self._load()
            else:
                await self._follow()
        stale = self.rows.stale_count()
        if stale and len(self.rows.row_of) <= INLINE_REBUILD and self._rebuild is None:
            rows = self.rows
            self.rows = _rows_counted(*rows.live(), rows.names_day)
        elif self._rebuild is None and stale > REBUILD_SHARE * self.rows.base_count:
            self._rebuild = asyncio.create_task(self._build_new_base())

    async def _load(self) -> None:
        head = await self.read_model.version()
        docs = await self.read_model.all_profiles()
        self.rows = await asyncio.to_thread(_rows_of, docs)
        self.cursor, self._applied, self._missing_since = head, set(), {}

    async def _follow(self) -> None:
        head = await self.read_model.version()
        if head <= self.cursor:
            return
        if head - self.cursor > FEED_KEPT - TRIM_EVERY:
            await self._load()  # what it missed may be trimmed from the feed
            return
        now = time.monotonic()
        for low in range(self.cursor + 1, head + 1, FEED_BATCH):
            numbers = [
                n for n in range(low, min(low + FEED_BATCH, head + 1)) if n not in self._applied
            ]
            if not numbers:
                continue
            entries = await self.read_model.changes(numbers)
            await self._apply(entries)
            self._applied.update(e["_id"] for e in entries)
            for n in numbers:
                if n not in self._applied:
                    self._missing_since.setdefault(n, now)
        while True:
            following = self.cursor + 1
            if following in self._applied:
                self._applied.discard(following)
            elif now - self._missing_since.get(following, now) > GAP_WAIT_S:
                log.warning("profile index: change %d never came, going past it", following)
            else:
                break
            self._missing_since.pop(following, None)
            self.cursor = following

    async def _apply(self, entries: list[dict[str, Any]]) -> None:
        """Each profile the entries name as it is now in the read model, or gone."""
        ids = {pid for e in entries for pid in e.get("profile_ids") or ()}
        sme_keys = {e["sme_key"] for e in entries if e.get("sme_key")}
        now: dict[str, dict[str, Any] | None] = {}
        for sme_key in sme_keys:
            for pid in self.rows.rows_of_sme.get(sme_key, ()):
                now[pid] = None
            for doc in await self.read_model.profiles_with_sme_key(sme_key):
                now[doc["_id"]] = doc
        found = {d["_id"]: d for d in await self.read_model.profiles_by_id(sorted(ids))}
        for pid in ids:
            now[pid] = found.get(pid)
        for pid, current in now.items():
            if current is None:
                self.rows.remove(pid)
            else:
                self.rows.put(pid, *_prepared(current))
        if self._changed_during is not None:
            self._changed_during.update(now)

    async def _build_new_base(self) -> None:
        try:
            self._changed_during = set()
            docs, tokens = self.rows.live()
            built = await asyncio.to_thread(_rows_counted, docs, tokens, self.rows.names_day)
            # No await from here to the swap: nothing changes the rows meanwhile.
            for pid in self._changed_during:
                held = self.rows.held(pid)
                if held is None:
                    built.remove(pid)
                else:
                    built.put(pid, *held)
            self.rows = built
            self.rebuilds += 1
        except Exception:
            log.exception("profile index: building a new base failed")
        finally:
            self._changed_during = None
            self._rebuild = None

    def _build(self, docs: list[dict[str, Any]]) -> None:
        """The index of exactly these read-model profiles (tests, benchmarks)."""
        self.rows = _rows_of(docs)

    # --- searching ---------------------------------------------------------------------------

    def cluster_names(self, seeker: Seeker, today: date) -> list[str]:
        """The clusters of the companies with a profile a seeker of this region may see today,
        by name (case aside): what the search may be filtered by. Kept as counts that follow
        each change (counted again from every profile once a day); the seeker's own company's
        are among them."""
        return self.rows.cluster_names(seeker.region, today)

    def search(
        self, seeker: Seeker, filters: Filters, today: date, limit: int
    ) -> list[tuple[dict[str, Any], float, list[str]]]:
        rows = self.rows
        n = len(rows.docs)
        if not n:
            return []
        query = words(seeker.text)
        mask = rows.mask(filters)
        text = np.where(rows.alive[:n], rows.text_scores(query), 0.0)
        top = text.max()
        normalised = text / top if top > 0 else text
        # A vectorised first pass over every profile with all criteria but the fine NACE levels
        # and target countries (worth at most 0.175 together); only the best few are scored
        # exactly and explained.
        region = rows.columns["region"][:n]
        rough = WEIGHTS["text"] * normalised + WEIGHTS["region"] * (
            region != rows._code("region", seeker.region)
        )
        if seeker.wanted_types:
            wanted = [rows._code("type", t) for t in seeker.wanted_types]
            rough += WEIGHTS["type"] * np.isin(rows.columns["type"][:n], wanted)
        else:
            rough += WEIGHTS["type"]
        rough += (
            WEIGHTS["nace"] * 0.5 * rows._any_of("division", {c[:2] for c in seeker.nace_codes}, n)
        )
        rough += WEIGHTS["cluster"] * rows._any_of("cluster", set(seeker.clusters), n)
        rough = np.where(mask, rough, -1.0)
        count = min(ROUGH_CANDIDATES, n)
        candidates = np.argpartition(-rough, count - 1)[:count]
        docs = rows.docs
        # Weighed exactly, best first; only the page's profiles are checked for visibility and
        # explained (both cost more than the weighing, and most candidates fall off the page).
        weighed = sorted(
            (-score(docs[i], seeker, float(normalised[i]), [], explain=False)[0],
             docs[i]["_id"], i)
            for i in candidates.tolist() if mask[i]
        )  # fmt: skip
        query_terms = set(query)
        ranked: list[tuple[dict[str, Any], float, list[str]]] = []
        for _, _, i in weighed:
            if len(ranked) == limit:
                break
            doc = docs[i]
            assert doc is not None
            if visible(doc, seeker, today):
                matched = sorted(query_terms & set(rows.tokens[i].split()))
                total, reasons = score(doc, seeker, float(normalised[i]), matched)
                ranked.append((doc, total, reasons))
        return ranked


def _rows_counted(docs: list[dict[str, Any]], tokens: list[str], day: date | None) -> _Rows:
    rows = _Rows(docs, tokens)
    rows.count_names(day)
    return rows


def _rows_of(docs: list[dict[str, Any]]) -> _Rows:
    prepared = [_prepared(d) for d in docs]
    return _Rows([d for d, _ in prepared], [t for _, t in prepared])
