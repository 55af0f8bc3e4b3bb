"""The facts staff record (one document each) and what the indicators keep of the region's
calendar (its entries' kind, day, clusters and country; which registrations were checked in),
from the events service's events."""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from contracts import registry as c
from mapnet.runtime.mongo import Database, replace_by_id, storable
from mapnet.runtime.paging import keyset_page

from ..domain.facts import CalendarEntry, Fact
from ..domain.kpis import Counted

FACTS = "facts"
# One document per fact as the domain tells two records of it apart (``same_fact``), naming
# the fact that holds it: its id is the key, so two records of one fact, even at once, never
# both get it.
FACT_KEYS = "fact_keys"
# What a withdrawn fact says of why once its SME is erased (the reason may have named people).
ERASED_REASON = "(erased with the SME)"
CALENDAR = "calendar_entries"
ATTENDED = "attended_registrations"


def _doc(fact: Fact) -> dict[str, Any]:
    return storable(
        {
            "_id": fact.fact_id,
            "kind": fact.kind,
            "region": fact.region,
            "happened_on": fact.happened_on.isoformat(),
            "recorded_by": fact.recorded_by,
            "recorded_at": fact.recorded_at.isoformat(),
            "version": fact.version,
            "sme_id": fact.sme_id,
            "clusters": fact.clusters,
            "details": fact.details,
            "withdrawn": fact.withdrawn,
        }
    )


def _fact(doc: dict[str, Any]) -> Fact:
    at = str(doc["recorded_at"])
    return Fact(
        fact_id=doc["_id"],
        kind=doc["kind"],
        region=doc["region"],
        happened_on=date.fromisoformat(doc["happened_on"]),
        recorded_by=doc["recorded_by"],
        recorded_at=datetime.fromisoformat(at),
        version=doc["version"],
        sme_id=doc.get("sme_id"),
        clusters=list(doc.get("clusters") or []),
        details=dict(doc.get("details") or {}),
        withdrawn=doc.get("withdrawn"),
    )


class FactRepository:
    name = FACTS

    def __init__(self, db: Database) -> None:
        self.facts = db[FACTS]
        self.keys = db[FACT_KEYS]

    async def create_indexes(self) -> None:
        await self.facts.create_index([("happened_on", DESCENDING)], name="happened_on")

    async def get(self, fact_id: str) -> Fact | None:
        doc = await self.facts.find_one({"_id": fact_id})
        return _fact(doc) if doc else None

    async def add(self, fact: Fact) -> None:
        """A new fact stored. Its id comes from its command: the command repeated (after a
        fault between this write and the reply) finds it as it is now, withdrawn perhaps, and
        leaves it so. Later versions go through ``replace``."""
        with contextlib.suppress(DuplicateKeyError):
            await self.facts.insert_one({**_doc(fact), "_id": fact.fact_id})

    async def replace(self, fact: Fact, version: int) -> bool:
        """Replaced by its next version only if it is still at ``version``: False if another
        command changed it meanwhile (a withdrawal and a change of its outcome at once: the
        second would otherwise undo the first without a word)."""
        found = await self.facts.replace_one(
            {"_id": fact.fact_id, "version": version}, {**_doc(fact), "_id": fact.fact_id}
        )
        return bool(found.matched_count)

    async def claim(self, key: str, fact_id: str) -> str | None:
        """Take the key for this fact; None if it is now (or was already) this fact's, else the
        id of the fact that holds it. A key whose fact was never stored (a crash between the
        two writes) or was withdrawn (a change racing its withdrawal took the key again) is
        taken over."""
        try:
            await self.keys.insert_one({"_id": key, "fact_id": fact_id})
            return None
        except DuplicateKeyError:
            pass
        held = await self.keys.find_one({"_id": key})
        holder = str(held["fact_id"]) if held else fact_id
        if holder == fact_id:
            return None
        held_by = await self.facts.find_one({"_id": holder}, {"withdrawn": 1})
        if held_by is None or held_by.get("withdrawn"):
            taken = await self.keys.update_one(
                {"_id": key, "fact_id": holder}, {"$set": {"fact_id": fact_id}}
            )
            return None if taken.matched_count else await self.claim(key, fact_id)
        return holder

    async def release(self, key: str, fact_id: str) -> None:
        """The fact no longer holds the key (an introduction changed its company or day)."""
        await self.keys.delete_one({"_id": key, "fact_id": fact_id})

    async def page(self, query: c.ListFacts) -> tuple[list[Fact], str | None]:
        """Newest first; the next page's cursor, if there is one."""
        clauses: list[dict[str, Any]] = []
        if query.kind:
            clauses.append({"kind": query.kind})
        if query.sme_id:
            clauses.append({"sme_id": query.sme_id})
        if query.period_from:
            clauses.append({"happened_on": {"$gte": query.period_from.isoformat()}})
        if query.period_to:
            clauses.append({"happened_on": {"$lte": query.period_to.isoformat()}})
        docs, cursor = await keyset_page(
            self.facts, clauses, "-happened_on", query.limit, query.cursor
        )
        return [_fact(doc) for doc in docs], cursor

    async def counted(self) -> list[Counted]:
        found = [_fact(doc) async for doc in self.facts.find({})]
        return [fact.counted() for fact in found if fact.withdrawn is None]

    async def forget_sme(self, sme_id: str) -> None:
        """An erased SME's facts still count; they no longer name it, and why one was withdrawn
        (free text, which may name its people) is erased with it."""
        async for doc in self.facts.find({"sme_id": sme_id}, {"withdrawn": 1}):
            if doc.get("withdrawn"):
                erased = {**doc["withdrawn"], "reason": ERASED_REASON}
                await self.facts.update_one({"_id": doc["_id"]}, {"$set": {"withdrawn": erased}})
        await self.facts.update_many({"sme_id": sme_id}, {"$set": {"sme_id": None}})


class CalendarRepository:
    def __init__(self, db: Database) -> None:
        self.entries = db[CALENDAR]
        self.attended = db[ATTENDED]

    async def put_entry(self, entry: CalendarEntry, version: int) -> None:
        """Kept unless a later version is kept already (events may be redelivered)."""
        doc = {
            "kind": entry.kind, "starts_on": entry.starts_on.isoformat(),
            "clusters": entry.clusters, "country": entry.country,
            "cancelled": entry.cancelled, "version": version,
        }  # fmt: skip
        kept = await self.entries.find_one({"_id": entry.event_id}, {"version": 1, "ended": 1})
        if kept is not None and kept.get("ended"):
            # Cancelled for good, whichever of the two events came first (each is its own
            # consumer: the cancellation may well be handled before the publication).
            doc |= {"cancelled": True, "ended": True}
        if kept is None or int(kept.get("version", 0)) <= version:
            await replace_by_id(self.entries, entry.event_id, doc)

    async def cancel(self, event_id: str) -> None:
        """A cancellation is final: kept even for an entry not seen yet."""
        await self.entries.update_one(
            {"_id": event_id}, {"$set": {"cancelled": True, "ended": True}}, upsert=True
        )

    async def attended_at(self, registration_id: str, event_id: str) -> None:
        await replace_by_id(self.attended, registration_id, {"event_id": event_id})

    async def entries_and_attended(self) -> tuple[dict[str, CalendarEntry], dict[str, str]]:
        entries = {
            doc["_id"]: CalendarEntry(
                event_id=doc["_id"],
                kind=doc["kind"],
                starts_on=date.fromisoformat(doc["starts_on"]),
                clusters=list(doc.get("clusters") or []),
                country=doc.get("country") or "",
                cancelled=bool(doc.get("cancelled")),
            )
            async for doc in self.entries.find({})
            if "kind" in doc  # a cancellation whose publication has not come yet
        }
        attended = {doc["_id"]: doc["event_id"] async for doc in self.attended.find({})}
        return entries, attended
