"""Every region's monthly figures as this region holds them: its own (each with its outbox, so
the shared event leaves with the write that stores it) and the other regions' copies, one
document per region and month at its latest version."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING

from contracts import reports as c
from contracts.envelope import Envelope
from mapnet.runtime import outbox
from mapnet.runtime.mongo import Database, replace_by_id
from mapnet.runtime.paging import keyset_page

FIGURES = "figures"


def record_id(region: str, month: str) -> str:
    return f"{region}:{month}"


def _state(snapshot: c.FiguresSnapshot) -> dict[str, Any]:
    return {
        # Month first: the network's figures page by month, then region.
        "key": f"{snapshot.month}|{snapshot.region}",
        "region": snapshot.region,
        "month": snapshot.month,
        "version": snapshot.version,
        "snapshot": snapshot.model_dump(mode="json"),
    }


class FiguresRepository:
    name = FIGURES

    def __init__(self, db: Database) -> None:
        self.figures = db[FIGURES]

    async def create_indexes(self) -> None:
        await self.figures.create_index([("key", ASCENDING)], name="key")
        await self.figures.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")

    async def version(self, region: str, month: str) -> int:
        """The version held of a region's month; 0: none."""
        doc = await self.figures.find_one({"_id": record_id(region, month)}, {"version": 1})
        return int(doc["version"]) if doc else 0

    async def put_own(self, snapshot: c.FiguresSnapshot, events: Sequence[Envelope[Any]]) -> None:
        """This region's snapshot with its event, replacing the version before it; refused
        ``conflict`` if another publication of the month got there first."""
        await outbox.save_versioned(
            self.figures, record_id(snapshot.region, snapshot.month), _state(snapshot), events,
            expected=(snapshot.version - 1) or None, what=f"the figures of {snapshot.month}",
        )  # fmt: skip

    async def put_copy(self, snapshot: c.FiguresSnapshot) -> None:
        """Another region's snapshot, unless a later version of it is held already (a copy may
        arrive again, or late)."""
        key = record_id(snapshot.region, snapshot.month)
        if await self.version(snapshot.region, snapshot.month) < snapshot.version:
            await replace_by_id(self.figures, key, _state(snapshot))

    async def page(self, query: c.ListFigures) -> tuple[list[c.FiguresSnapshot], str | None]:
        clauses: list[dict[str, Any]] = []
        if query.region:
            clauses.append({"region": query.region})
        if query.month_from:
            clauses.append({"key": {"$gte": f"{query.month_from}|"}})
        if query.month_to:
            # "~" sorts after every region id: the whole last month is in.
            clauses.append({"key": {"$lte": f"{query.month_to}|~"}})
        docs, cursor = await keyset_page(
            self.figures, clauses, "key", query.limit, query.cursor,
            projection={"key": 1, "snapshot": 1},
        )  # fmt: skip
        return [c.FiguresSnapshot.model_validate(d["snapshot"]) for d in docs], cursor
