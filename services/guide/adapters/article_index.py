"""The guide's search index: every article of the region's collection (its own and the copies of
the other regions') in memory with a BM25 index (bm25s) over title, summary, body and tags,
rebuilt when the articles' change counter moves, so that every instance of the guide answers
from the same data."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np

from ..domain.text import words
from .articles_repository import ArticleRepository


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


class ArticleIndex:
    def __init__(self, articles: ArticleRepository) -> None:
        self.articles = articles
        self.changes = -1
        self.docs: list[dict[str, Any]] = []
        self.terms: list[set[str]] = []
        self._lock = asyncio.Lock()
        self.retriever: bm25s.BM25 | None = None

    async def refresh(self) -> None:
        changes = await self.articles.changes()
        if changes == self.changes:
            return
        async with self._lock:
            if changes == self.changes:
                return
            docs = await self.articles.all_docs()
            # Tokenising and indexing thousands of bodies takes a while: beside the event loop.
            await asyncio.to_thread(self._build, docs)
            self.changes = changes

    def _build(self, docs: list[dict[str, Any]]) -> None:
        tokens = [words(article_text(d)) for d in docs]
        retriever = bm25s.BM25()
        if docs and any(tokens):
            retriever.index(tokens, show_progress=False)
        columns = {
            name: np.array([d.get(name) or "" for d in docs], dtype=object)
            for name in ("market", "topic", "language", "status", "region")
        }
        self.retriever, self.columns = (retriever if any(tokens) else None), columns
        self.terms = [set(t) for t in tokens]
        self.docs = docs

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
