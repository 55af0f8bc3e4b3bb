"""The registry's change feed: which SMEs each write changed, numbered, so that every registry
instance's search index (search.py) follows the writes of the others.

Why a feed in the database rather than the registry's JetStream events: not every write has an
event (a draft profile, a profile sent back by its review: they move the SME in the order by
``updated_at``), an instance following the events would need NATS rights a service's user does
not have (a consumer or a subscription on its own events), and the events reach the others
only after the relay sent them, while a feed entry is written before the write's command is
answered: a search sent after that answer, whichever instance gets it, finds the change. It
is matching's profile feed (services/matching/adapters/read_model.py), for the registry's
SMEs: nx-27017 answers only ``_id`` and plain equality from an index, so the entries are
numbered by ``_id`` from a counter and read by their numbers (``$in`` on ``_id``), never by a
range. An entry names the SMEs changed, not how: the reader reads their records as they are
now, so entries may be read in any order and more than once. The number is taken after the
records were written, so an entry read means its records are there; a number whose entry is
not there yet (its writer between the two writes, or died there) is waited for a while and
then passed (search.py).

A write whose entry fails (the database away, the driver cancelling) is answered all the same
and its SMEs go into the next entry, tried again until one is written; only a process that
dies between a write and its entry leaves the others without it, until their next start or
the SME's next change.

Writes that arrive together share one entry (two database operations, the counter and the
entry, for all of them: a batch of 50 registrations costs 0.04 operations per SME)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from pymongo import ReturnDocument

from mapnet.runtime.group_insert import settle
from mapnet.runtime.mongo import Database

CHANGES = "sme_changes"
COUNTER = "sme_change_counter"
_COUNTER_ID = "smes"
# The feed keeps the last FEED_KEPT entries (trimmed every TRIM_EVERY); an index further behind
# reads every SME again instead.
FEED_KEPT = 20_000
TRIM_EVERY = 1_000
READ_CHUNK = 500
RETRY_S = 0.5
RETRY_MAX_S = 5.0


class ChangeFeed:
    def __init__(self, db: Database) -> None:
        self.entries = db[CHANGES]
        self.counter = db[COUNTER]
        # Told of each entry this process wrote (its number): its own index has it already.
        self.listeners: list[Callable[[int], None]] = []
        self._ids: set[str] = set()
        self._waiting: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, sme_ids: Iterable[str]) -> None:
        """These SMEs were just written: returns once their entry is in the feed, or raises why
        it could not be written yet (the write stands; its SMEs go into a later entry, tried
        again until one is written)."""
        ids = set(sme_ids)
        if not ids:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ids |= ids
        self._waiting.append(done)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        failures = 0
        while self._waiting or self._ids:
            ids, self._ids = self._ids, set()
            waiting, self._waiting = self._waiting, []
            error: Exception | None = None
            try:
                number = await self._next_number()
                await self.entries.insert_one({"_id": number, "ids": sorted(ids)})
                for listener in self.listeners:
                    listener(number)
                if number % TRIM_EVERY == 0 and number > FEED_KEPT:
                    old = range(number - FEED_KEPT - TRIM_EVERY, number - FEED_KEPT)
                    await self.entries.delete_many({"_id": {"$in": list(old)}})
                failures = 0
            except Exception as exc:  # each caller hears why its entry was not written
                error = exc
                # Its SMEs go into the next entry, written after a pause (the database may be
                # away: up to RETRY_MAX_S between tries while it is).
                self._ids |= ids
                failures += 1
            for done in waiting:
                settle(done, error)
            if error is not None:
                await asyncio.sleep(min(RETRY_S * 2 ** (failures - 1), RETRY_MAX_S))

    async def _next_number(self) -> int:
        counter = await self.counter.find_one_and_update(
            {"_id": _COUNTER_ID},
            {"$inc": {"last": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(counter["last"])

    async def last(self) -> int:
        """The number of the last entry taken (0: none yet)."""
        doc = await self.counter.find_one({"_id": _COUNTER_ID})
        return int(doc["last"]) if doc else 0

    async def read(self, numbers: list[int]) -> list[dict[str, Any]]:
        """The entries of these numbers that are there."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(numbers), READ_CHUNK):
            chunk = numbers[start : start + READ_CHUNK]
            found += await self.entries.find({"_id": {"$in": chunk}}).to_list(None)
        return found
