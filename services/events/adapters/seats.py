"""The seat book of one event: how many seats it has, who holds one, and who waits in which
order. Every change is a single conditional update of one document, so capacity holds however
many registrations arrive at once, on one service instance or several.

``holders`` maps a registration id to ``"confirmed"`` or to its place in the waiting order
(an ever-growing number). A new registration takes a free seat only while nobody waits;
otherwise it queues, and freed seats go to the head of the queue first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mapnet.runtime.mongo import Database

SEATS = "seats"
CONFIRMED = "confirmed"


@dataclass
class Claim:
    status: str  # confirmed or waitlisted
    position: int | None = None


def _waiting(book: dict[str, Any]) -> list[tuple[int, str]]:
    return sorted(
        (held, rid) for rid, held in book.get("holders", {}).items() if isinstance(held, int)
    )


def position(book: dict[str, Any], rid: str) -> int | None:
    """1 for the head of the waiting list."""
    for place, (_, waiting_rid) in enumerate(_waiting(book), start=1):
        if waiting_rid == rid:
            return place
    return None


def _has_free_seat(book: dict[str, Any]) -> bool:
    return book["capacity"] is None or book["confirmed"] < book["capacity"]


class SeatBook:
    def __init__(self, db: Database) -> None:
        self.books = db[SEATS]

    async def open(self, event_id: str, capacity: int | None) -> None:
        """Create the book or set a new capacity. Seats already confirmed stay confirmed even
        if the capacity drops below them; nobody new gets one until enough cancel."""
        await self.books.update_one(
            {"_id": event_id},
            {
                "$set": {"capacity": capacity},
                "$setOnInsert": {"confirmed": 0, "waiting": 0, "next_seq": 0, "holders": {}},
            },
            upsert=True,
        )

    async def book(self, event_id: str) -> dict[str, Any]:
        book = await self.books.find_one({"_id": event_id})
        if book is None:  # an entry published by a version that kept no book
            await self.open(event_id, None)
            book = await self.books.find_one({"_id": event_id})
        assert book is not None
        return book

    async def claim(self, event_id: str, rid: str) -> Claim:
        """A seat if one is free and nobody waits, else a place in the queue. Claiming again
        for the same registration answers what it already holds."""
        while True:
            book = await self.book(event_id)
            held = book["holders"].get(rid)
            if held == CONFIRMED:
                return Claim(CONFIRMED)
            if isinstance(held, int):
                return Claim("waitlisted", position(book, rid))
            free = {"$exists": False}
            if book["waiting"] == 0 and _has_free_seat(book):
                cond: dict[str, Any] = {"capacity": book["capacity"], "waiting": 0}
                if book["capacity"] is not None:
                    cond["confirmed"] = {"$lt": book["capacity"]}
                update: dict[str, Any] = {
                    "$inc": {"confirmed": 1},
                    "$set": {f"holders.{rid}": CONFIRMED},
                }
            else:
                # The waiting order is the counter's next value; comparing it first makes the
                # place unique among registrations queueing at the same moment.
                seq = book["next_seq"] + 1
                cond = {"next_seq": book["next_seq"]}
                update = {
                    "$inc": {"waiting": 1},
                    "$set": {f"holders.{rid}": seq, "next_seq": seq},
                }
            # Won or lost to a concurrent change: the next read tells what this one holds.
            await self.books.update_one({"_id": event_id, f"holders.{rid}": free, **cond}, update)

    async def release(self, event_id: str, rid: str) -> None:
        """Give back whatever the registration holds."""
        while True:
            book = await self.book(event_id)
            held = book["holders"].get(rid)
            if held is None:
                return
            counter = "confirmed" if held == CONFIRMED else "waiting"
            result = await self.books.update_one(
                {"_id": event_id, f"holders.{rid}": held},
                {"$inc": {counter: -1}, "$unset": {f"holders.{rid}": ""}},
            )
            if result.matched_count:
                return

    async def promote(self, event_id: str, confirm: Callable[[str], Awaitable[None]]) -> None:
        """Move the head of the queue to free seats, in order, one at a time."""
        while True:
            book = await self.book(event_id)
            waiting = _waiting(book)
            if not waiting or not _has_free_seat(book):
                return
            seq, rid = waiting[0]
            cond: dict[str, Any] = {"capacity": book["capacity"], f"holders.{rid}": seq}
            if book["capacity"] is not None:
                cond["confirmed"] = {"$lt": book["capacity"]}
            result = await self.books.update_one(
                {"_id": event_id, **cond},
                {"$inc": {"confirmed": 1, "waiting": -1}, "$set": {f"holders.{rid}": CONFIRMED}},
            )
            if result.matched_count:
                await confirm(rid)

    async def holders(self) -> list[tuple[str, list[str]]]:
        return [
            (book["_id"], list(book.get("holders", {})))
            async for book in self.books.find({"holders": {"$exists": True}})
        ]
