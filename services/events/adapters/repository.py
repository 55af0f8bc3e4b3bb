"""MongoDB repositories of calendar entries and registrations: one document per record holding
its state and its outbox, written with optimistic concurrency on the version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pymongo import ASCENDING, UpdateOne
from pymongo.errors import DuplicateKeyError

from contracts import events as c
from contracts import registry as rg
from contracts.common import SmeRef
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime import outbox
from mapnet.runtime.mongo import Database, insert_new, put_if_newer, storable

from ..domain.calendar import Entry, entry_id
from ..domain.registration import PENDING, Held, Registration

ENTRIES = "entries"
GONE_ENTRIES = "gone_entries"
REGISTRATIONS = "registrations"
# Each cluster of the calendar ({_id: its name, entries, ends_key}): how many entries (not
# cancelled, not unshared) have it, and the latest end of one. The clusters a page offers are
# read from these documents instead of from every entry. An end only moves later ($max): a
# cluster whose entry moved earlier stays offered until the former end; a cancelled one stops
# counting at once.
CLUSTER_COUNTS = "cluster_counts"
# What each entry counts for ({_id: event id, version, clusters, ends_key}): the clusters a
# write adds and drops are the difference with the version counted before, so that a message
# told again or late counts nothing twice.
CLUSTER_MARKS = "cluster_marks"
# What a calendar page offers to filter by: the clusters with the most entries (then by name),
# as many as fit both bounds. One partner may publish thousands of entries of 20 clusters each
# (copied into every region): every page carrying them all would outgrow the bus's messages.
CLUSTERS_OFFERED = 100
CLUSTERS_OFFERED_BYTES = 8_000


def utc_key(moment: datetime) -> str:
    """Instants as fixed-width UTC text, so that they compare and sort as they should on any
    MongoDB-compatible server."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_order_key(moment: datetime) -> str:
    """An instant that orders records made one after another (registrations, listed in the
    order they came): to the microsecond, as a second holds many sign-ups and a tie would
    fall back on the ids' random order. Fixed width, so it sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _entry_state(entry: Entry) -> dict[str, Any]:
    d = view = entry.view()
    text = " ".join(
        [d.title, d.description, d.venue, d.city, d.organiser, *d.clusters, *d.topics]
    ).lower()
    return storable(
        {
            **view.model_dump(mode="json"),
            "starts_key": utc_key(entry.starts_at_utc),
            "ends_key": utc_key(entry.ends_at_utc),
            "search_text": text,
        }
    )


_ENTRY_KEYS = {
    "_id",
    "outbox",
    "outbox_pending",
    "starts_key",
    "ends_key",
    "search_text",
    "copied_at",
}


def entry_from_doc(doc: dict[str, Any]) -> Entry:
    return Entry.from_view(
        c.CalendarEntry.model_validate({k: v for k, v in doc.items() if k not in _ENTRY_KEYS})
    )


class EntryRepository:
    """The region's own entries, and beside them (same collection, so that the joint calendar
    is one query) read copies of the other regions' network entries. Only own entries change
    here; a command about a copy is refused as not_home, naming the region that owns it."""

    def __init__(self, db: Database, region: str) -> None:
        self.entries = db[ENTRIES]
        self.gone = db[GONE_ENTRIES]
        self.cluster_counts = db[CLUSTER_COUNTS]
        self.cluster_marks = db[CLUSTER_MARKS]
        self.region = region

    async def create_indexes(self) -> None:
        await self.entries.create_index([("starts_key", ASCENDING)], name="starts_key")
        await self.entries.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
        # publish_event looks for another region's copy of the same publisher's entry.
        await self.entries.create_index([("external_id", ASCENDING)], name="external_id")
        await self.mark_clusters_of_every_entry()

    async def mark_clusters_of_every_entry(self) -> None:
        """The clusters' counts from the entries, at start: a calendar stored before they were
        kept gets them, an entry a crash left unmarked (between its write and its mark) is
        marked, and every count is counted again from the marks (a crash between a mark and
        its count's change)."""
        now = utc_key(datetime.now(UTC))
        fields = {"clusters": 1, "ends_key": 1, "version": 1, "status": 1}
        async for doc in self.entries.find({"ends_key": {"$gt": now}}, fields):
            await self._mark_clusters(doc)
        counts: dict[str, dict[str, Any]] = {}
        async for mark in self.cluster_marks.find({}):
            for name in mark.get("clusters") or []:
                count = counts.setdefault(name, {"entries": 0, "ends_key": ""})
                count["entries"] += 1
                count["ends_key"] = max(count["ends_key"], mark.get("ends_key") or "")
        recount = [
            UpdateOne({"_id": name}, {"$set": count}, upsert=True) for name, count in counts.items()
        ]
        async for stale in self.cluster_counts.find({"entries": {"$gt": 0}}, {"_id": 1}):
            if stale["_id"] not in counts:
                recount.append(UpdateOne({"_id": stale["_id"]}, {"$set": {"entries": 0}}))
        if recount:
            await self.cluster_counts.bulk_write(recount, ordered=False)

    async def _mark_clusters(self, state: dict[str, Any]) -> None:
        """Count this version of an entry under its clusters (none once it is cancelled or
        unshared), and uncount the clusters its version counted before and has no more. A
        version counted already, or older than the one counted, counts nothing."""
        event_id, version = state["_id"], int(state["version"])
        counted = [] if state.get("status") == "cancelled" else state.get("clusters") or []
        names: list[str] = sorted(set(counted))
        ends: str = state.get("ends_key") or ""
        mark = {"version": version, "clusters": names, "ends_key": ends}
        while True:
            before = await self.cluster_marks.find_one({"_id": event_id})
            if before is None:
                try:
                    await self.cluster_marks.insert_one({"_id": event_id, **mark})
                except DuplicateKeyError:
                    continue  # marked meanwhile: compare with that one
                break
            if int(before["version"]) >= version:
                return
            written = await self.cluster_marks.update_one(
                {"_id": event_id, "version": before["version"]}, {"$set": mark}
            )
            if written.modified_count:
                break
        was = set(before.get("clusters") or []) if before else set()
        now = set(names)
        changes = [
            UpdateOne(
                {"_id": name}, {"$inc": {"entries": 1}, "$max": {"ends_key": ends}}, upsert=True
            )
            for name in sorted(now - was)
        ]
        changes += [
            UpdateOne({"_id": name}, {"$max": {"ends_key": ends}}, upsert=True)
            for name in sorted(now & was)
        ]
        changes += [UpdateOne({"_id": n}, {"$inc": {"entries": -1}}) for n in sorted(was - now)]
        if changes:
            await self.cluster_counts.bulk_write(changes, ordered=False)

    async def unmark_clusters(self, event_id: str, version: int) -> None:
        """A copy withdrawn (unshared): its clusters count it no more."""
        await self._mark_clusters({"_id": event_id, "version": version, "clusters": []})

    async def clusters_on(self, now: datetime) -> list[str]:
        """What a page offers to filter by: of the clusters of entries that end after ``now``,
        those with the most entries (then by name), at most CLUSTERS_OFFERED of them and
        CLUSTERS_OFFERED_BYTES of names; by name (case aside)."""
        key = utc_key(now)
        found = self.cluster_counts.find({"entries": {"$gt": 0}})
        live = [(d["_id"], int(d["entries"])) async for d in found if d.get("ends_key", "") > key]
        live.sort(key=lambda named: (-named[1], named[0]))
        offered: list[str] = []
        size = 0
        for name, _ in live[:CLUSTERS_OFFERED]:
            size += len(name.encode()) + 3  # as JSON: quotes and a comma
            if size > CLUSTERS_OFFERED_BYTES:
                break
            offered.append(name)
        return sorted(offered, key=lambda name: (name.casefold(), name))

    async def get(self, event_id: str) -> Entry | None:
        doc = await self.entries.find_one({"_id": event_id, "region": self.region})
        return entry_from_doc(doc) if doc else None

    async def require(self, event_id: str, *, copy_will_do: bool = False) -> Entry:
        doc = await self.entries.find_one({"_id": event_id})
        if doc is None:
            raise not_found("event", event_id)
        home = doc["region"]
        if home != self.region and not copy_will_do:
            raise Refused(
                "not_home",
                f"event {event_id} belongs to region {home}: send this to mapnet.{home}.events",
                region=home,
                id=event_id,
            )
        return entry_from_doc(doc)

    async def refuse_copy_of(self, partner_id: str, external_id: str) -> None:
        """not_home when this publisher's entry of that id is another region's read copy."""
        doc = await self.entries.find_one(
            {"partner_id": partner_id, "external_id": external_id, "region": {"$ne": self.region}},
            {"_id": 1, "region": 1},
        )
        if doc is not None:
            home = doc["region"]
            raise Refused(
                "not_home",
                f"{partner_id}'s entry {external_id} is region {home}'s: only {home} publishes "
                f"it (send this to mapnet.{home}.events, as its staff or partner)",
                region=home,
                id=doc["_id"],
            )

    async def put_copy(self, entry: c.CalendarEntry) -> None:
        """Another region's network entry, unless this copy is as new or newer already.

        Refused (the consumer dead-letters it) if its id is not its region's id for its
        publisher and their id (entry_id): that is a region squatting another's id, whose copy
        would otherwise be kept first and send the portals' requests about that event to it."""
        await self.put_copies([entry])

    async def put_copies(self, entries: list[c.CalendarEntry]) -> None:
        """``put_copy`` of each of these entries, in order (refused as a whole if one is, for
        its consumer to take them one by one). Their tombstones are read in one query and the
        first versions inserted in one bulk write: a batch of new entries without clusters
        costs two operations (put_if_newer's update would find nothing first, and a cluster
        mark of no clusters, read and written, counts nothing: a later version counts from
        none, as a missing mark says)."""
        for entry in entries:
            if entry.event_id != entry_id(entry.region, entry.partner_id, entry.external_id):
                raise Refused(
                    "forbidden",
                    f"entry {entry.event_id} is not {entry.region}'s id for "
                    f"{entry.partner_id}/{entry.external_id}",
                )
        ids = sorted({entry.event_id for entry in entries})
        gone = {d["_id"]: int(d["version"]) async for d in self.gone.find({"_id": {"$in": ids}})}
        live = [entry for entry in entries if gone.get(entry.event_id, 0) < entry.version]
        # When the copy arrived: the replication lag an operator (or bench/federation.py) reads.
        copied_at = datetime.now(UTC)
        states = [_entry_state(Entry.from_view(entry)) | {"copied_at": copied_at} for entry in live]
        # A first version is new here but for a repeat (or another region's entry of that id).
        firsts = [n for n, entry in enumerate(live) if entry.version == 1]
        new_here: set[int] = set()
        if firsts:
            docs = [{"_id": live[n].event_id, **states[n]} for n in firsts]
            new_here = {firsts[i] for i in await insert_new(self.entries, docs)}
        for n, (entry, state) in enumerate(zip(live, states, strict=True)):
            if n in new_here:
                if state.get("status") != "cancelled" and state.get("clusters"):
                    await self._mark_clusters({"_id": entry.event_id, **state})
                continue
            await put_if_newer(
                self.entries,
                entry.event_id,
                state,
                version_field="version",
                version=entry.version,
                guard={"region": entry.region},
            )
            await self._mark_clusters({"_id": entry.event_id, **state})  # an older one: no-op
        # An unsharing handled meanwhile by its own consumer may have come between the
        # tombstones' read and these writes: what a tombstone read now covers goes again (one
        # read more a batch; the hostile review of issue 33).
        written = {entry.event_id: entry for entry in live}
        async for doc in self.gone.find({"_id": {"$in": sorted(written)}}):
            entry = written[doc["_id"]]
            if int(doc["version"]) >= entry.version:
                await self.entries.delete_one(
                    {"_id": entry.event_id, "region": entry.region,
                     "version": {"$lte": int(doc["version"])}}
                )  # fmt: skip
                await self.unmark_clusters(entry.event_id, int(doc["version"]))

    async def drop_copy(self, unshared: c.EntryUnshared) -> None:
        if unshared.region == self.region:
            return
        await self.gone.replace_one(
            {"_id": unshared.event_id},
            {"_id": unshared.event_id, "version": unshared.version},
            upsert=True,
        )
        await self.entries.delete_one(
            {
                "_id": unshared.event_id,
                "region": unshared.region,
                "version": {"$lte": unshared.version},
            }
        )
        await self.unmark_clusters(unshared.event_id, unshared.version)

    async def save(
        self, entry: Entry, expected_version: int | None, events: Sequence[Envelope[Any]]
    ) -> None:
        """Insert a new entry (expected_version None) or replace the version read."""
        state = _entry_state(entry)
        await outbox.save_versioned(
            self.entries, entry.event_id, state, events,
            expected=expected_version, what=f"event {entry.event_id}",
        )  # fmt: skip
        await self._mark_clusters({"_id": entry.event_id, **state})


def _registration_state(reg: Registration, version: int) -> dict[str, Any]:
    active = reg.status != "cancelled"
    number = reg.held if isinstance(reg.held, int) else None
    sme = reg.data.sme
    guest = sme is not None and sme.region != reg.region
    return storable(
        {
            "event_id": reg.event_id,
            "region": reg.region,
            "data": reg.data.model_dump(mode="json"),
            "status": reg.status,
            "position": reg.position,
            "attended_sessions": reg.attended_sessions,
            "completed": reg.completed,
            "registered_at": utc_order_key(reg.registered_at),
            "email_key": str(reg.data.email).lower(),
            # One active registration per person and event; cancelled ones leave the index.
            "seat_key": f"{reg.event_id}:{str(reg.data.email).lower()}" if active else None,
            # What the event's seat book counts for it (adapters/seats.py), and the book's
            # change that gave it that.
            "held": reg.held,
            "book_change": reg.book_change,
            # Keys looked up by equality (nx-27017 answers only that from an index): who holds
            # a number of the event's waiting order (a promotion takes the head's), the
            # waiting guests of other regions' SMEs (told their places), and the cancelled
            # registrations the book has not taken back from yet (after a crash).
            "wait_key": wait_key(reg.event_id, number) if number is not None else None,
            "guest_waiting": reg.event_id if guest and reg.status == "waitlisted" else None,
            "gives_back": True if reg.status == "cancelled" and reg.held is not None else None,
            "version": version,
        }
    )


def wait_key(event_id: str, number: int) -> str:
    return f"{event_id}:{number}"


def registration_from_doc(doc: dict[str, Any]) -> tuple[Registration, int]:
    reg = Registration(
        registration_id=doc["_id"],
        event_id=doc["event_id"],
        region=doc["region"],
        data=c.RegisterParticipant.model_validate(doc["data"]),
        registered_at=datetime.fromisoformat(doc["registered_at"]),
        status=doc["status"],
        position=doc.get("position"),
        attended_sessions=list(doc.get("attended_sessions", [])),
        completed=bool(doc.get("completed")),
        held=doc.get("held"),
        book_change=doc.get("book_change"),
    )
    return reg, int(doc["version"])


class FirstAnswer(NamedTuple):
    """The command that made a registration: its content's digest (None for a registration
    stored before digests were kept) and its answer (None until kept, or once erased)."""

    digest: str | None
    reply: bytes | None


class RegistrationRepository:
    def __init__(self, db: Database) -> None:
        self.registrations = db[REGISTRATIONS]

    async def create_indexes(self) -> None:
        await self.registrations.create_index(
            [("seat_key", ASCENDING)],
            unique=True,
            name="seat_key",
            partialFilterExpression={"seat_key": {"$type": "string"}},
        )
        await self.registrations.create_index([("event_id", ASCENDING)], name="event_id")
        await self.registrations.create_index([("email_key", ASCENDING)], name="email_key")
        await self.registrations.create_index([("status", ASCENDING)], name="status")
        for key in ("wait_key", "guest_waiting", "gives_back"):
            await self.registrations.create_index([(key, ASCENDING)], name=key)
        await self.registrations.create_index(
            [("outbox_pending", ASCENDING)], name="outbox_pending"
        )

    async def get(self, registration_id: str) -> tuple[Registration, int] | None:
        doc = await self.registrations.find_one({"_id": registration_id})
        return registration_from_doc(doc) if doc else None

    async def require(self, registration_id: str) -> tuple[Registration, int]:
        found = await self.get(registration_id)
        if found is None:
            raise not_found("registration", registration_id)
        return found

    async def add_pending(self, reg: Registration, digest: str | None = None) -> bool:
        """The registration before its seat is claimed, so that a crash in between can be
        resumed, and a second registration of the same person is refused up front. False if
        it was there already (the same command again: it resumes it). ``digest``: the
        command's content, kept to tell a repeat from an id used again for other content."""
        try:
            await self.registrations.insert_one(
                {"_id": reg.registration_id, **_registration_state(reg, 1),
                 "command_digest": digest}
            )  # fmt: skip
            return True
        except DuplicateKeyError as exc:
            if await self.registrations.find_one({"_id": reg.registration_id}, {"_id": 1}):
                return False  # the same registration again: a retried command resumes it
            existing = await self.registrations.find_one(
                {"seat_key": _registration_state(reg, 1)["seat_key"]}, {"_id": 1}
            )
            raise Refused(
                "duplicate",
                f"{reg.data.email} is already registered for this event",
                field="data.email",
                existing_registration_id=existing["_id"] if existing else None,
            ) from exc

    async def withdraw_pending(self, registration_id: str) -> None:
        """A pending registration refused before any seat was claimed for it goes."""
        await self.registrations.delete_one({"_id": registration_id, "status": PENDING})

    async def save(
        self,
        reg: Registration,
        expected_version: int,
        events: Sequence[Envelope[Any]],
        reply: bytes | None = None,
    ) -> bool:
        """False when someone else changed the registration since it was read. ``reply``:
        the answer to the command that registered it, kept for its repeats (same write)."""
        state = _registration_state(reg, expected_version + 1)
        if reply is not None:
            state["reply"] = reply.decode()
        result = await self.registrations.update_one(
            {"_id": reg.registration_id, "version": expected_version},
            outbox.change(state, events, seq=expected_version * 100),
        )
        return result.matched_count == 1

    async def first_answer(self, registration_id: str) -> FirstAnswer | None:
        """What the command that registered it sent (its digest) and was answered, if kept;
        None if there is no such registration."""
        doc = await self.registrations.find_one(
            {"_id": registration_id}, {"command_digest": 1, "reply": 1}
        )
        if doc is None:
            return None
        reply = doc.get("reply")
        return FirstAnswer(doc.get("command_digest"), reply.encode() if reply else None)

    async def keep_answer(self, registration_id: str, reply: bytes) -> bytes | None:
        """Keep this answer for repeats unless one is kept already: None if kept, else the
        one kept before (another run of the same command answered first)."""
        kept = await self.registrations.update_one(
            {"_id": registration_id, "reply": {"$exists": False}},
            {"$set": {"reply": reply.decode()}},
        )
        if kept.matched_count:
            return None
        first = await self.first_answer(registration_id)
        return first.reply if first is not None else None

    async def erase_people_of(self, sme: SmeRef, email_sha256: str | None = None) -> list[str]:
        """The people registered for an erased SME (or only the one whose address has this
        digest) lose their name and address; the registrations stay, as counts and seats (so
        the waitlist and the KPIs hold). Answers the registrations it changed."""
        found = self.registrations.find(
            {"data.sme.sme_id": sme.sme_id, "data.sme.region": sme.region},
            # Whole "data": see mapnet/runtime/mongo.py on dotted projections.
            {"_id": 1, "event_id": 1, "seat_key": 1, "data": 1},
        )
        docs = [
            doc
            async for doc in found
            if email_sha256 is None or rg.email_digest(doc["data"]["email"]) == email_sha256
        ]
        for doc in docs:
            email = f"erased-{doc['_id'][:12]}@erased.mapnet.eu"
            seat = f"{doc['event_id']}:{email}" if doc.get("seat_key") else None
            await self.registrations.update_one(
                {"_id": doc["_id"]},
                {"$set": {"data.person_name": "(erased)", "data.email": email,
                          "email_key": email, "seat_key": seat, "erased": True},
                 # The first answer, kept for repeats, quoted the person: a repeat now gets
                 # the registration as it is.
                 "$unset": {"reply": ""}},
            )  # fmt: skip
        return [doc["_id"] for doc in docs]

    async def waiting_guests(self, event_id: str) -> list[str]:
        """The registrations waitlisted at an event for SMEs of other regions than the host's:
        those whose home region is told their place (by equality: not every registration of
        the event)."""
        found = self.registrations.find({"guest_waiting": event_id}, {"_id": 1})
        return [doc["_id"] async for doc in found]

    async def holding(self, event_id: str, number: int) -> tuple[str, str] | None:
        """The registration stored with this number of the event's waiting order, and its
        status."""
        doc = await self.registrations.find_one(
            {"wait_key": wait_key(event_id, number)}, {"_id": 1, "status": 1}
        )
        return (doc["_id"], doc["status"]) if doc else None

    async def giving_back(self) -> list[tuple[str, str]]:
        """(event, registration) of the cancelled registrations the book still counts for."""
        found = self.registrations.find({"gives_back": True}, {"_id": 1, "event_id": 1})
        return [(doc["event_id"], doc["_id"]) async for doc in found]

    async def hold(self, held: dict[str, Held]) -> None:
        """Store what an old seat book (one of every registration's id) counted for each of
        its registrations, in the registrations, once: see SeatBook.migrate."""
        for rid, what in held.items():
            found = await self.get(rid)
            if found is None or found[0].held is not None:
                continue
            reg, version = found
            reg.held = what
            state = _registration_state(reg, version)
            fields = {k: state[k] for k in ("held", "wait_key", "guest_waiting", "gives_back")}
            await self.registrations.update_one({"_id": rid, "version": version}, {"$set": fields})

    async def pending(self) -> list[str]:
        return [d["_id"] async for d in self.registrations.find({"status": PENDING}, {"_id": 1})]
