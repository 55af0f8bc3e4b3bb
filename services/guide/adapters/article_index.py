"""The guide's search index: every article of the region's collection (its own and the copies of
the other regions') in memory with a BM25 index (bm25s) over title, summary, body and tags.

The articles' change counter says when the index is behind (every instance of the guide
answers from the same data). The index is rebuilt in the background, never by the search that
finds it behind: bm25s has no cheap way to add or replace one document in an index, and a whole
rebuild took seconds at 5,000 articles under load, which the first reader after a publish
would otherwise pay. Searches meanwhile answer from the previous index; they wait for the
rebuild a moment (``FRESH_WAIT_S``) only where the last rebuild took no longer, as it does for a
guide of hundreds of articles (milliseconds), which so reads its own writes. The words of
unchanged articles are kept between rebuilds, so a rebuild is mostly the BM25 matrix. A burst
of changes is one rebuild: a rebuild starts ``SETTLE_S`` after the change that asks for it, and
changes during a rebuild ask for one more right after it; in a longer stream of changes each
further one starts as long after the last as it took (the process rebuilds half the time at
most). So a change shows in search within one rebuild when the guide is quiet, two if it came
during one, and about three in a long stream of changes."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np

from ..domain.text import words
from .articles_repository import ArticleRepository

SETTLE_S = 0.05
FRESH_WAIT_S = 0.2
log = logging.getLogger(__name__)


def article_text(doc: dict[str, Any]) -> str:
    # The title and tags count twice: a word there says more about the article than one in
    # its body.
    tags = " ".join(doc.get("tags", []))
    return " ".join([doc["title"], doc["title"], doc["summary"], tags, tags, doc["plain_text"]])


@dataclass
class Filters:
    market: str | None = None
    topic: str | None = None
    language: str | None = None
    status: str = "published"
    region: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The index as built from the articles at one value of their change counter; a search
    reads one snapshot from start to end, whatever is rebuilt meanwhile."""

    changes: int
    docs: list[dict[str, Any]] = field(default_factory=list)
    terms: list[set[str]] = field(default_factory=list)
    retriever: bm25s.BM25 | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def mask(self, f: Filters) -> np.ndarray:
        mask = np.ones(len(self.docs), dtype=bool)
        wanted = {
            "market": f.market,
            "topic": f.topic,
            "language": f.language,
            "status": f.status,
            "region": f.region,
        }
        for name, value in wanted.items():
            if value is not None:
                mask &= self.columns[name] == value
        return mask

    def scores(self, query: list[str]) -> np.ndarray:
        if not self.docs or self.retriever is None or not query:
            return np.zeros(len(self.docs))
        return np.asarray(self.retriever.get_scores(query), dtype=float)


class ArticleIndex:
    def __init__(
        self,
        articles: ArticleRepository,
        settle_s: float = SETTLE_S,
        fresh_wait_s: float = FRESH_WAIT_S,
    ) -> None:
        self.articles = articles
        self.settle_s = settle_s
        self.fresh_wait_s = fresh_wait_s
        self.snapshot: Snapshot | None = None
        # How long the last rebuild took: a search waits for one only if it is that quick.
        self.rebuild_s = 0.0
        self._rebuild: asyncio.Task[None] | None = None
        # An article's words, by id, with the text they were taken from: only changed
        # articles are split into words again.
        self._words: dict[str, tuple[str, list[str]]] = {}
        articles.on_change.append(self.changed)

    def changed(self) -> None:
        """The articles changed (here, or seen by the counter): a rebuild starts unless one is
        under way, which looks at the counter again when done."""
        if self._rebuild is None or self._rebuild.done():
            self._rebuild = asyncio.get_running_loop().create_task(self._rebuild_until_current())

    async def current(self) -> Snapshot:
        """The index to answer from: the newest built. Behind the articles, it is rebuilt and
        waited for a moment (``fresh_wait_s``) only, except the very first."""
        changes = await self.articles.changes()
        if self.snapshot is not None and self.snapshot.changes == changes:
            return self.snapshot
        self.changed()
        assert self._rebuild is not None
        if self.snapshot is None:
            await asyncio.shield(self._rebuild)
        elif self.rebuild_s <= self.fresh_wait_s:  # likely done in time: read your writes
            await asyncio.wait({self._rebuild}, timeout=self.fresh_wait_s)
        if self.snapshot is None:  # the first build failed (logged): this search fails too
            raise RuntimeError("the guide's search index could not be built")
        return self.snapshot

    async def stop(self) -> None:
        if self._rebuild is not None and not self._rebuild.done():
            self._rebuild.cancel()
            await asyncio.gather(self._rebuild, return_exceptions=True)

    async def _rebuild_until_current(self) -> None:
        try:
            pause, rebuilt = self.settle_s, 0
            while True:
                await asyncio.sleep(pause)
                # The counter is read before the articles: they are at least as new as it says.
                changes = await self.articles.changes()
                if self.snapshot is not None and self.snapshot.changes == changes:
                    return
                started = time.monotonic()
                docs = await self.articles.all_docs()
                # Splitting and indexing thousands of bodies takes a while: beside the loop.
                self.snapshot = await asyncio.to_thread(self._build, docs, changes)
                self.rebuild_s = time.monotonic() - started
                # Changes during the rebuild: one more at once (a publish is three commands in
                # a row); in a longer stream (a bulk load) each waits as long as the last took,
                # so that the process rebuilds half the time at most.
                rebuilt += 1
                pause = self.settle_s if rebuilt < 2 else max(self.settle_s, self.rebuild_s)
        except Exception:  # the next change or search tries again
            log.exception("rebuilding the guide's search index failed")

    def _build(self, docs: list[dict[str, Any]], changes: int) -> Snapshot:
        known, tokens = self._words, []
        for doc in docs:
            text = article_text(doc)
            kept = known.get(doc["_id"])
            if kept is None or kept[0] != text:
                kept = known[doc["_id"]] = (text, words(text))
            tokens.append(kept[1])
        if len(known) > len(docs):  # articles gone from the collection
            ids = {doc["_id"] for doc in docs}
            self._words = {i: kept for i, kept in known.items() if i in ids}
        retriever = None
        if any(tokens):
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
        columns = {
            name: np.array([d.get(name) or "" for d in docs], dtype=object)
            for name in ("market", "topic", "language", "status", "region")
        }
        return Snapshot(changes, docs, [set(t) for t in tokens], retriever, columns)
