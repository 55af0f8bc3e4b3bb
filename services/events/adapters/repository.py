"""MongoDB repositories of calendar entries and registrations: one document per record holding
its state and its outbox, written with optimistic concurrency on the version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.errors import DuplicateKeyError

from contracts import events as c
from contracts import registry as rg
from contracts.common import SmeRef
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime import outbox
from mapnet.runtime.mongo import Database, put_if_newer, storable

from ..domain.calendar import Entry
from ..domain.registration import PENDING, Registration

ENTRIES = "entries"
GONE_ENTRIES = "gone_entries"
REGISTRATIONS = "registrations"
# Each cluster of the calendar with the latest end of an entry in it ({_id: its name,
# ends_key}): the clusters of entries not over yet are those ending after now, read from a
# handful of documents instead of every entry. An end only moves later ($max): a cluster whose
# entry was cancelled, moved earlier or unshared stays offered until that end has passed.
CLUSTER_ENDS = "cluster_ends"


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
        self.cluster_ends = db[CLUSTER_ENDS]
        self.region = region

    async def create_indexes(self) -> None:
        await self.entries.create_index([("starts_key", ASCENDING)], name="starts_key")
        await self.entries.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
        # publish_event looks for another region's copy of the same publisher's entry.
        await self.entries.create_index([("external_id", ASCENDING)], name="external_id")
        await self.mark_clusters_of_every_entry()

    async def mark_clusters_of_every_entry(self) -> None:
        """The clusters' latest ends from the entries not over yet, at start (one read of the
        calendar): a calendar stored before they were kept gets them, and an end a crash left
        unmarked (between an entry's write and its mark) is marked."""
        now = utc_key(datetime.now(UTC))
        found = self.entries.find({"ends_key": {"$gt": now}}, {"clusters": 1, "ends_key": 1})
        async for doc in found:
            await self._mark_clusters(doc)

    async def _mark_clusters(self, state: dict[str, Any]) -> None:
        ends = state.get("ends_key")
        marks = [
            UpdateOne({"_id": name}, {"$max": {"ends_key": ends}}, upsert=True)
            for name in sorted(set(state.get("clusters") or []))
        ]
        if ends and marks:
            await self.cluster_ends.bulk_write(marks, ordered=False)

    async def clusters_on(self, now: datetime) -> list[str]:
        """The clusters of the entries that end after ``now``, by name (case aside)."""
        key = utc_key(now)
        found = [d["_id"] async for d in self.cluster_ends.find({}) if d.get("ends_key", "") > key]
        return sorted(found, key=lambda name: (name.casefold(), name))

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
        """Another region's network entry, unless this copy is as new or newer already."""
        gone = await self.gone.find_one({"_id": entry.event_id})
        if gone and gone["version"] >= entry.version:
            return
        # When the copy arrived: the replication lag an operator (or bench/federation.py) reads.
        state = _entry_state(Entry.from_view(entry)) | {"copied_at": datetime.now(UTC)}
        await put_if_newer(
            self.entries,
            entry.event_id,
            state,
            version_field="version",
            version=entry.version,
            guard={"region": entry.region},
        )
        await self._mark_clusters(state)  # an older copy's end is marked already: no harm

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

    async def save(
        self, entry: Entry, expected_version: int | None, events: Sequence[Envelope[Any]]
    ) -> None:
        """Insert a new entry (expected_version None) or replace the version read."""
        state = _entry_state(entry)
        await outbox.save_versioned(
            self.entries, entry.event_id, state, events,
            expected=expected_version, what=f"event {entry.event_id}",
        )  # fmt: skip
        await self._mark_clusters(state)


def _registration_state(reg: Registration, version: int) -> dict[str, Any]:
    active = reg.status != "cancelled"
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
            "version": version,
        }
    )


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
    )
    return reg, int(doc["version"])


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

    async def add_pending(self, reg: Registration) -> None:
        """The registration before its seat is claimed, so that a crash in between can be
        resumed, and a second registration of the same person is refused up front."""
        try:
            await self.registrations.insert_one(
                {"_id": reg.registration_id, **_registration_state(reg, 1)}
            )
        except DuplicateKeyError as exc:
            existing = await self.registrations.find_one(
                {"seat_key": _registration_state(reg, 1)["seat_key"]}
            )
            if existing and existing["_id"] != reg.registration_id:
                raise Refused(
                    "duplicate",
                    f"{reg.data.email} is already registered for this event",
                    field="data.email",
                    existing_registration_id=existing["_id"],
                ) from exc
            # The same registration again: a retried command resumes it.

    async def save(
        self, reg: Registration, expected_version: int, events: Sequence[Envelope[Any]]
    ) -> bool:
        """False when someone else changed the registration since it was read."""
        result = await self.registrations.update_one(
            {"_id": reg.registration_id, "version": expected_version},
            outbox.change(
                _registration_state(reg, expected_version + 1), events, seq=expected_version * 100
            ),
        )
        return result.matched_count == 1

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
                          "email_key": email, "seat_key": seat, "erased": True}},
            )  # fmt: skip
        return [doc["_id"] for doc in docs]

    async def waiting_guests(self, event_id: str, region: str) -> list[str]:
        """The registrations waitlisted at an event for SMEs of other regions than ``region``
        (the host): those whose home region is told their place."""
        found = self.registrations.find(
            {"event_id": event_id, "status": "waitlisted"}, {"_id": 1, "data": 1}
        )
        return [
            doc["_id"]
            async for doc in found
            if (sme := doc["data"].get("sme")) is not None and sme.get("region") != region
        ]

    async def pending(self) -> list[str]:
        return [d["_id"] async for d in self.registrations.find({"status": PENDING}, {"_id": 1})]

    async def statuses(self, ids: list[str]) -> dict[str, str]:
        cursor = self.registrations.find({"_id": {"$in": ids}}, {"status": 1})
        return {d["_id"]: d["status"] async for d in cursor}
