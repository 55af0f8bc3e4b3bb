"""The partner-search index: every visible cooperation profile held in memory with a BM25 index
(bm25s) over titles, summaries, keywords and descriptions, rebuilt whenever the read model's
change counter moves, so that every matching instance answers from the same data."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import bm25s
import numpy as np

from ..domain.ranking import WEIGHTS, Seeker, score, visible, words
from .read_model import ReadModel

ROUGH_CANDIDATES = 300


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


class ProfileIndex:
    def __init__(self, read_model: ReadModel) -> None:
        self.read_model = read_model
        self.version = -1
        self.docs: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()
        self._names: tuple[tuple[int, date, str], list[str]] | None = None

    async def refresh(self) -> None:
        version = await self.read_model.version()
        if version == self.version:
            return
        async with self._lock:
            if version == self.version:
                return
            docs = await self.read_model.all_profiles()
            await asyncio.to_thread(self._build, docs)
            self.version = version

    def _build(self, docs: list[dict[str, Any]]) -> None:
        tokens = [words(profile_text(d)) for d in docs]
        retriever = bm25s.BM25()
        if docs:
            retriever.index(tokens, show_progress=False)
        self.retriever = retriever
        self.terms = [set(t) for t in tokens]
        self.country = np.array([d["sme"]["country"] for d in docs])
        self.region = np.array([d["sme"]["region"] for d in docs])
        self.type = np.array([d["profile"]["type"] for d in docs])
        self.size = np.array([d["sme"].get("size_class", "unknown") for d in docs])
        self.nace_levels = [
            {code[:n] for code in d["profile"].get("nace_codes") or d["sme"].get("nace_codes", [])
             for n in (2, 4, 5)}
            for d in docs
        ]  # fmt: skip
        self.clusters = [set(d["sme"].get("clusters", [])) for d in docs]
        self.by_division = _inverted([{lvl[:2] for lvl in levels} for levels in self.nace_levels])
        self.by_cluster = _inverted(self.clusters)
        self.docs = docs

    def cluster_names(self, seeker: Seeker, today: date) -> list[str]:
        """The clusters of the companies with a profile a seeker of this region may see today,
        by name (case aside): what the search may be filtered by. Worked out once per index
        version, day and region (a pass over every profile), not on each search; the seeker's
        own company's are among them."""
        key = (self.version, today, seeker.region)
        if self._names is None or self._names[0] != key:
            anyone_there = replace(seeker, sme_key="")
            names = {
                name
                for doc, held in zip(self.docs, getattr(self, "clusters", []), strict=False)
                if visible(doc, anyone_there, today)
                for name in held
            }
            self._names = (key, sorted(names, key=lambda name: (name.casefold(), name)))
        return list(self._names[1])

    def _any_of(self, inverted: dict[str, np.ndarray], keys: set[str]) -> np.ndarray:
        hit = np.zeros(len(self.docs), dtype=bool)
        for k in keys:
            if k in inverted:
                hit[inverted[k]] = True
        return hit

    def _mask(self, f: Filters) -> np.ndarray:
        mask = np.ones(len(self.docs), dtype=bool)
        for values, wanted in (
            (self.country, f.country),
            (self.region, f.region),
            (self.type, f.profile_type),
            (self.size, f.size_class),
        ):
            if wanted is not None:
                mask &= values == wanted
        if f.nace is not None:
            mask &= np.array([f.nace in levels for levels in self.nace_levels], dtype=bool)
        if f.cluster is not None:
            mask &= np.array([f.cluster in cl for cl in self.clusters], dtype=bool)
        return mask

    def search(
        self, seeker: Seeker, filters: Filters, today: date, limit: int
    ) -> list[tuple[dict[str, Any], float, list[str]]]:
        if not self.docs:
            return []
        query = words(seeker.text)
        mask = self._mask(filters)
        text = np.asarray(self.retriever.get_scores(query), dtype=float) if query else None
        if text is None:
            text = np.zeros(len(self.docs))
        top = text.max() if text.size else 0.0
        normalised = text / top if top > 0 else text
        # A vectorised first pass over every profile with all criteria but the fine NACE levels
        # and target countries (worth at most 0.175 together); only the best few are scored
        # exactly and explained.
        rough = WEIGHTS["text"] * normalised + WEIGHTS["region"] * (self.region != seeker.region)
        if seeker.wanted_types:
            rough += WEIGHTS["type"] * np.isin(self.type, list(seeker.wanted_types))
        else:
            rough += WEIGHTS["type"]
        rough += (
            WEIGHTS["nace"]
            * 0.5
            * self._any_of(self.by_division, {c[:2] for c in seeker.nace_codes})
        )
        rough += WEIGHTS["cluster"] * self._any_of(self.by_cluster, set(seeker.clusters))
        rough = np.where(mask, rough, -1.0)
        count = min(ROUGH_CANDIDATES, len(self.docs))
        candidates = np.argpartition(-rough, count - 1)[:count]
        # Weighed exactly, best first; only the page's profiles are checked for visibility and
        # explained (both cost more than the weighing, and most candidates fall off the page).
        weighed = sorted(
            (-score(self.docs[i], seeker, float(normalised[i]), [], explain=False)[0],
             self.docs[i]["_id"], i)
            for i in candidates.tolist() if mask[i]
        )  # fmt: skip
        query_terms = set(query)
        ranked: list[tuple[dict[str, Any], float, list[str]]] = []
        for _, _, i in weighed:
            if len(ranked) == limit:
                break
            if visible(self.docs[i], seeker, today):
                matched = sorted(query_terms & self.terms[i])
                total, reasons = score(self.docs[i], seeker, float(normalised[i]), matched)
                ranked.append((self.docs[i], total, reasons))
        return ranked


def _inverted(sets: list[set[str]]) -> dict[str, np.ndarray]:
    index: dict[str, list[int]] = {}
    for i, keys in enumerate(sets):
        for k in keys:
            index.setdefault(k, []).append(i)
    return {k: np.array(v, dtype=np.int64) for k, v in index.items()}
