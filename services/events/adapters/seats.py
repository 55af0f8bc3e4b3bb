"""The seat book of one event: counts, not names. How many seats it has and how many are held,
how many people wait, and the waiting order as numbers handed out one after another: so that a
registration's cost does not grow with the event (the book of an event of 10,000 registrations
was one record of every registration's id, read and rewritten by each of them: 40/s).

Who holds what is kept in the registrations (``held``: a seat, or a number in the waiting
order). A number's holder is found by equality on the registration's ``wait_key``
(repository.py), so a promotion reads one registration, never the event's list. The place of
number n in the queue is n minus those ahead of it that left: every number up to ``head`` left
(promoted or cancelled), and ``left`` lists the numbers after it that left by cancellation.

Every change of the book is one conditional update of its document, so capacity holds however
many registrations arrive at once, on one service instance or several: a seat while one is free
and nobody waits (``$inc`` guarded by ``$lt``, no retry among seats taken at once), else the
next number (guarded by the last number handed out, and by the head and the cancellations
counted, so that the place answered is exact).

A change of the book and the registration's write are two writes, so each change also notes, in
``claims`` under the registration's id, what it did for it and a token of its own, until the
registration is stored with that token (then the note goes): a crash between the two, a second
settling of the same registration, or a cancellation meanwhile is squared from the note and
the registration (service_layer/handlers.py ``_square``). The notes are as many as the
registrations on their way, not as the event's. A cancelled registration's seat or place is
given back with a ``released`` note, and only if no other release came between reading the book
and writing it (``releases``, which only grows), so that a stale read never gives back twice."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from mapnet.runtime.mongo import Database

from ..domain.registration import SEAT, Held

SEATS = "seats"
PROMOTED = "promoted"  # a waiting place the book turned into a seat
RELEASED = "released"  # given back; the registration is still to hear it
# Notes of stored registrations removed with one change of the book, at most.
_STORED_PER_WRITE = 64

# Marks counts this process knows rather than a book just read (SeatBook._known).
_HINT = "known"

_EMPTY_BOOK: dict[str, Any] = {
    "confirmed": 0,
    "waiting": 0,
    "next_seq": 0,
    "head": 0,
    "left": [],
    "cancels": 0,
    "releases": 0,
    "claims": {},
}


class EntryChanged(Exception):
    """The book was stamped with another version of the event's entry than the registration
    was checked against (SeatBook.open): check it against the entry as it is now."""


@dataclass(frozen=True)
class Note:
    """What the book did for one registration, not yet stored with it."""

    value: str  # as stored: "<what>/<token>" or "released"

    @property
    def what(self) -> Held:
        """A seat (claimed or promoted to), a waiting number, or None once released."""
        kind = self.value.split("/", 1)[0]
        if kind == RELEASED:
            return None
        return SEAT if kind in (SEAT, PROMOTED) else int(kind)

    @property
    def released(self) -> bool:
        return self.value == RELEASED

    @property
    def promoted(self) -> bool:
        return self.value.startswith(f"{PROMOTED}/")

    @property
    def token(self) -> str | None:
        return self.value.split("/", 1)[1] if "/" in self.value else None


@dataclass(frozen=True)
class Claim:
    note: Note
    position: int | None = None  # a waiting number's place when it was taken

    @property
    def held(self) -> Held:
        return self.note.what


def note_of(book: dict[str, Any], rid: str) -> Note | None:
    value = (book.get("claims") or {}).get(rid)
    return Note(value) if value is not None else None


def waiting(book: dict[str, Any], number: int) -> bool:
    """The book still counts this number in the waiting order."""
    return book["head"] < number <= book["next_seq"] and number not in book["left"]


def place(book: dict[str, Any], held: Held) -> int | None:
    """1 for the head of the waiting list; None for anything not waiting."""
    if not isinstance(held, int) or not waiting(book, held):
        return None
    return held - book["head"] - sum(n < held for n in book["left"])


def head_of_queue(book: dict[str, Any]) -> int | None:
    """The earliest number still waiting."""
    if book["waiting"] <= 0:
        return None
    number = book["head"] + 1
    left = set(book["left"])
    while number in left:
        number += 1
    return number if number <= book["next_seq"] else None


def holder_noted(book: dict[str, Any], number: int) -> str | None:
    """The registration whose note says it took this number (not stored with it yet)."""
    for rid, value in (book.get("claims") or {}).items():
        if Note(value).what == number and not Note(value).promoted:
            return str(rid)
    return None


def old_holders(book: dict[str, Any]) -> dict[str, Held] | None:
    """A book kept by the version that listed every holder (``holders``: registration id to
    "confirmed" or its waiting number): what it counted for each, for the registrations to keep;
    None for a book of this version."""
    holders = book.get("holders")
    if holders is None:
        return None
    return {rid: SEAT if held == "confirmed" else int(held) for rid, held in holders.items()}


def has_free_seat(book: dict[str, Any]) -> bool:
    return book["capacity"] is None or book["confirmed"] < book["capacity"]


def _token() -> str:
    return uuid.uuid4().hex[:12]


def _capacity_guard(book: dict[str, Any]) -> dict[str, Any]:
    guard: dict[str, Any] = {"capacity": book["capacity"]}
    if book["capacity"] is not None:
        guard["confirmed"] = {"$lt": book["capacity"]}
    return guard


def _fail(asking: list[tuple[str, asyncio.Future[Claim | None]]], exc: BaseException) -> None:
    for _, asked in asking:
        if asked.done():
            continue
        if isinstance(exc, asyncio.CancelledError):
            asked.cancel()
        else:
            asked.set_exception(exc)


@dataclass
class _Queue:
    """The registrations of one process waiting for numbers of one event's waiting order:
    one of them (the first to come) claims numbers for all that came meanwhile, in one update
    of the book, instead of each reading and trying on its own and all but one losing."""

    asking: list[tuple[str, asyncio.Future[Claim | None]]] = field(default_factory=list)
    claiming: bool = False


class SeatBook:
    def __init__(self, db: Database) -> None:
        self.books = db[SEATS]
        # Per event, the notes of registrations stored with them: removed from the book by
        # this process's next change of it (one write less per registration; a note left
        # behind says what its registration says, and the next start removes it).
        self._stored: dict[str, dict[str, str]] = {}
        self._recheck: dict[str, dict[str, str]] = {}
        self._queues: dict[str, _Queue] = {}
        # Per event, the book's counts as this process last knew them (read, or changed by a
        # guarded update of its own): a registration tries its change on them at once,
        # without reading the book first. Every change is guarded on what it assumes, so
        # counts gone stale (another instance's change) cost a failed try and a read, never
        # a seat too many.
        self._known: dict[str, dict[str, Any]] = {}
        # The entry version each registration asking for a number was checked against.
        self._checked_against: dict[str, int] = {}

    async def open(
        self, event_id: str, capacity: int | None, entry_version: int | None = None
    ) -> None:
        """Create the book or set a new capacity. Seats already confirmed stay confirmed even
        if the capacity drops below them; nobody new gets one until enough cancel. With the
        entry's version: the book is stamped with it, unless with a later one already, so
        that a registration checked against an older entry (one cached) is told
        (``EntryChanged``) instead of taking a seat."""
        self._unknown(event_id)
        if entry_version is None:
            await self.books.update_one(
                {"_id": event_id},
                {"$set": {"capacity": capacity}, "$setOnInsert": _EMPTY_BOOK},
                upsert=True,
            )
            return
        stamp = {"capacity": capacity, "entry_version": entry_version}
        for older in ({"$lt": entry_version}, {"$exists": False}):
            done = await self.books.update_one(
                {"_id": event_id, "entry_version": older}, {"$set": stamp}
            )
            if done.matched_count:
                return
        await self.books.update_one(
            {"_id": event_id}, {"$setOnInsert": {**_EMPTY_BOOK, **stamp}}, upsert=True
        )

    async def stamp_if_behind(
        self, event_id: str, capacity: int | None, entry_version: int
    ) -> None:
        """``open`` unless the book is stamped with this entry version already (one read)."""
        found = await self.books.find_one({"_id": event_id}, {"entry_version": 1})
        if found is None or found.get("entry_version") != entry_version:
            await self.open(event_id, capacity, entry_version)

    async def book(self, event_id: str) -> dict[str, Any]:
        book = await self.books.find_one({"_id": event_id})
        if book is None:  # an entry published by a version that kept no book
            await self.open(event_id, None)
            book = await self.books.find_one({"_id": event_id})
        assert book is not None
        book = {**_EMPTY_BOOK, **book}
        self._knew(event_id, book)
        return book

    def _knew(self, event_id: str, book: dict[str, Any], **changed: Any) -> None:
        """The counts as read, or after a change of this process's own went through. Not the
        notes: whether the book still holds one only a read says (a change guarded on one it
        no longer holds would fail for nothing)."""
        self._known[event_id] = {**book, **changed, "claims": {}, _HINT: True}

    def _unknown(self, event_id: str) -> None:
        """A change other than a claim (a cancellation, a promotion): read before the next."""
        self._known.pop(event_id, None)

    def stored(self, event_id: str, rid: str, note: Note) -> None:
        """The registration is stored with what the note says: the note goes with this
        process's next change of the book (if it is still that note then)."""
        self._stored.setdefault(event_id, {})[rid] = note.value

    def _with_stored(
        self, event_id: str, book: dict[str, Any], guard: dict[str, Any], update: dict[str, Any]
    ) -> dict[str, str]:
        """Add the removal of the notes of stored registrations to a change of the book, each
        only if the book still holds it. Taken from the list, so that two changes at once do
        not both try; given back if the change fails (``_not_removed``), and then kept only
        if the book read next still holds it (another's since: not this process's to
        remove; a note left behind is harmless)."""
        stored = self._stored.get(event_id, {})
        if not book.get(_HINT):  # (whether the book still holds them: a read says)
            notes = book.get("claims") or {}
            for rid, value in self._recheck.pop(event_id, {}).items():
                if notes.get(rid) == value:
                    stored[rid] = value
        taken = dict(list(stored.items())[:_STORED_PER_WRITE])
        for rid, value in taken.items():
            del stored[rid]
            guard[f"claims.{rid}"] = value
            update.setdefault("$unset", {})[f"claims.{rid}"] = ""
        return taken

    def _not_removed(self, event_id: str, taken: dict[str, str]) -> None:
        if taken:
            self._recheck.setdefault(event_id, {}).update(taken)

    async def claim(self, event_id: str, rid: str, entry_version: int | None = None) -> Claim:
        """A seat if one is free and nobody waits, else the next number in the waiting order.
        A registration the book noted something for already is answered that. Tried first on
        the counts this process knows (one write, no read); the book is read when that fails.
        ``entry_version``: the entry the registration was checked against, which the book
        must be stamped with (else ``EntryChanged``)."""
        book = self._known.get(event_id)
        while True:
            if book is None:
                book = await self.book(event_id)
            noted = note_of(book, rid)
            if noted is not None:  # (released: it was cancelled meanwhile; the caller reads it)
                return Claim(noted, place(book, noted.what))
            if entry_version is not None and book.get("entry_version") != entry_version:
                if book.get(_HINT):
                    book = None  # (as known: read it to be sure)
                    continue
                raise EntryChanged(event_id)
            if not (book["waiting"] == 0 and has_free_seat(book)):
                if entry_version is not None:
                    self._checked_against[rid] = entry_version
                try:
                    claim = await self._number(event_id, rid, book)
                finally:
                    self._checked_against.pop(rid, None)
                if claim is not None:
                    return claim
                book = None
                continue  # a seat came free meanwhile
            note = Note(f"{SEAT}/{_token()}")
            guard: dict[str, Any] = {
                "_id": event_id,
                f"claims.{rid}": {"$exists": False},
                "waiting": 0,
                **_capacity_guard(book),
                **({"entry_version": entry_version} if entry_version is not None else {}),
            }
            update: dict[str, Any] = {
                "$inc": {"confirmed": 1},
                "$set": {f"claims.{rid}": note.value},
            }
            taken = self._with_stored(event_id, book, guard, update)
            if (await self.books.update_one(guard, update)).matched_count:
                # (At least one more held: others' seats since show when a guard fails.)
                known = self._known.get(event_id, book)
                self._knew(event_id, known, confirmed=known["confirmed"] + 1)
                return Claim(note)
            self._not_removed(event_id, taken)  # lost to a concurrent change: read again
            book = None

    async def _number(self, event_id: str, rid: str, book: dict[str, Any]) -> Claim | None:
        """The next number of the waiting order, claimed together with those of this
        process's other registrations asking meanwhile; None if a seat came free."""
        queue = self._queues.setdefault(event_id, _Queue())
        asked: asyncio.Future[Claim | None] = asyncio.get_running_loop().create_future()
        queue.asking.append((rid, asked))
        if not queue.claiming:
            queue.claiming = True
            try:
                while queue.asking:
                    batch, queue.asking = queue.asking, []
                    await self._numbers(event_id, batch, book)
                    book = self._known.get(event_id) or await self.book(event_id)
            except BaseException as exc:
                _fail(queue.asking, exc)  # each asks again, or its caller hears why not
                queue.asking = []
                raise
            finally:
                queue.claiming = False
                self._queues.pop(event_id, None)
        return await asked

    async def _numbers(
        self,
        event_id: str,
        batch: list[tuple[str, asyncio.Future[Claim | None]]],
        book: dict[str, Any],
    ) -> None:
        try:
            while batch:
                notes = book.get("claims") or {}
                for rid, asked in [(r, a) for r, a in batch if r in notes]:
                    asked.set_result(Claim(Note(notes[rid]), place(book, Note(notes[rid]).what)))
                batch = [(r, a) for r, a in batch if r not in notes]
                stamped = book.get("entry_version")
                for rid, asked in batch:
                    if self._checked_against.get(rid, stamped) != stamped:
                        asked.set_exception(EntryChanged(event_id))
                batch = [(r, a) for r, a in batch if not a.done()]
                if book["waiting"] == 0 and has_free_seat(book):
                    for _, asked in batch:
                        asked.set_result(None)  # a seat for each instead
                    return
                if not batch:
                    return
                # The last number handed out makes these unique; the head, the cancellations
                # and the seats held make their places exact and keep them from queueing
                # behind nobody while a seat is being freed.
                guard: dict[str, Any] = {
                    name: book[name] for name in ("next_seq", "head", "cancels", "confirmed")
                }
                guard |= {"_id": event_id, "capacity": book["capacity"]}
                if stamped is not None:
                    guard["entry_version"] = stamped
                first = book["next_seq"] + 1
                last = first + len(batch) - 1
                update: dict[str, Any] = {
                    "$inc": {"waiting": len(batch)},
                    "$set": {"next_seq": last},
                }
                claims = []
                for number, (rid, asked) in enumerate(batch, start=first):
                    note = Note(f"{number}/{_token()}")
                    guard[f"claims.{rid}"] = {"$exists": False}
                    update["$set"][f"claims.{rid}"] = note.value
                    claims.append((asked, Claim(note, place({**book, "next_seq": last}, number))))
                taken = self._with_stored(event_id, book, guard, update)
                if (await self.books.update_one(guard, update)).matched_count:
                    # Every count it changed was guarded: they are known exactly.
                    self._knew(event_id, book, next_seq=last,
                               waiting=book["waiting"] + len(batch))  # fmt: skip
                    for asked, claim in claims:
                        asked.set_result(claim)
                    return
                self._not_removed(event_id, taken)
                book = await self.book(event_id)  # lost to a concurrent change: read again
        except BaseException as exc:
            _fail(batch, exc)
            raise

    async def forget(self, event_id: str, rid: str, note: Note) -> bool:
        """The registration is stored with what the note says: the note goes (False if the
        book noted something else for it meanwhile)."""
        done = await self.books.update_one(
            {"_id": event_id, f"claims.{rid}": note.value}, {"$unset": {f"claims.{rid}": ""}}
        )
        return bool(done.matched_count)

    async def give_back(self, book: dict[str, Any], rid: str, held: Held) -> bool:
        """Give back what a cancelled registration holds, as it was stored when ``book`` was
        read (read before the registration). Noted ``released`` until the registration hears
        it; False if the book changed meanwhile (read both again)."""
        guard: dict[str, Any] = {
            "_id": book["_id"],
            f"claims.{rid}": {"$exists": False},
            "releases": book["releases"],
        }
        update: dict[str, Any] = {
            "$inc": {"releases": 1},
            "$set": {f"claims.{rid}": RELEASED},
        }
        if held == SEAT:
            update["$inc"]["confirmed"] = -1
        elif isinstance(held, int) and waiting(book, held):
            guard |= {"head": book["head"], "cancels": book["cancels"]}
            update["$inc"] |= {"waiting": -1, "cancels": 1}
            update["$set"]["left"] = sorted([*book["left"], held])
        # else: a number no longer counted (it was promoted, and the seat given back): only
        # the note, so that the registration hears there is nothing left to give back.
        self._unknown(book["_id"])
        done = await self.books.update_one(guard, update)
        return bool(done.matched_count)

    async def drop(self, book: dict[str, Any], rid: str, note: Note) -> bool:
        """Give back what a note says the book did for a registration that was never stored
        with it (a second settling's claim, a claim or promotion of one cancelled meanwhile)."""
        guard: dict[str, Any] = {"_id": book["_id"], f"claims.{rid}": note.value}
        update: dict[str, Any] = {"$unset": {f"claims.{rid}": ""}}
        what = note.what
        if what == SEAT:
            update["$inc"] = {"confirmed": -1}
        elif isinstance(what, int) and waiting(book, what):
            guard |= {"head": book["head"], "cancels": book["cancels"]}
            update["$inc"] = {"waiting": -1, "cancels": 1}
            update["$set"] = {"left": sorted([*book["left"], what])}
        self._unknown(book["_id"])
        done = await self.books.update_one(guard, update)
        return bool(done.matched_count)

    async def promote(
        self, book: dict[str, Any], rid: str, number: int, noted: Note | None
    ) -> Note | None:
        """Turn the head of the queue (``number``, held by ``rid``) into a seat, if the book is
        still as read; the note it left, or None."""
        note = Note(f"{PROMOTED}/{_token()}")
        guard: dict[str, Any] = {
            "_id": book["_id"],
            "head": book["head"],
            "cancels": book["cancels"],
            f"claims.{rid}": noted.value if noted else {"$exists": False},
            **_capacity_guard(book),
        }
        update = {
            "$inc": {"confirmed": 1, "waiting": -1},
            "$set": {
                "head": number,
                "left": [n for n in book["left"] if n > number],
                f"claims.{rid}": note.value,
            },
        }
        self._unknown(book["_id"])
        done = await self.books.update_one(guard, update)
        return note if done.matched_count else None

    async def noted(self) -> list[tuple[str, list[str]]]:
        """Each book's registrations with a note: what a crash may have left unsquared."""
        return [
            (book["_id"], list(book.get("claims") or {}))
            async for book in self.books.find({}, {"claims": 1})
        ]

    async def migrated(self, book: dict[str, Any], held: dict[str, Held]) -> None:
        """The registrations keep what the old book counted: the book keeps counts only."""
        numbers = sorted(n for n in held.values() if isinstance(n, int))
        last = int(book.get("next_seq") or 0)
        head = numbers[0] - 1 if numbers else last
        kept = set(numbers)
        left = [n for n in range(head + 1, last + 1) if n not in kept]
        fields = {
            **_EMPTY_BOOK,
            "confirmed": sum(h == SEAT for h in held.values()),
            "waiting": len(numbers),
            "next_seq": last,
            "head": head,
            "left": left,
        }
        await self.books.update_one(
            {"_id": book["_id"], "holders": {"$exists": True}},
            {"$set": fields, "$unset": {"holders": ""}},
        )
