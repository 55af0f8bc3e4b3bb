"""Matching's own copy of what it needs from the registry and the events service, built from
their event streams (never their databases): brokerage events, their participants, SMEs and
cooperation profiles. Every write is idempotent, so a redelivered event changes nothing.

Every change to the profiles also goes into a change feed that each matching instance's search
index follows (adapters/profile_index.py). nx-27017 answers only ``_id`` and plain equality from
an index (mapnet/runtime/mongo.py; a range on any field, ``_id`` included, reads every record),
so the feed's entries are numbered by ``_id`` from the counter in ``read_model_meta`` and read
by their numbers (``$in`` on ``_id``), never by a range. An entry names what changed (an SME's
profiles, or profiles by id), not how: the reader reads their current state, so entries may be
applied in any order and more than once. The counter is taken after the data was written, so
an entry read means its data is there; a number taken by a writer that died before writing its
entry leaves a gap that the event's redelivery fills with a new entry."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from contracts.common import SmeRef
from mapnet.runtime.catch_up import CATCH_UP_S, once_there
from mapnet.runtime.mongo import Database, insert_new, put_if_newer

from ..domain.meetings import Brokerage, key

BROKERAGE = "brokerage_events"
PARTICIPANTS = "participants"
SMES = "smes"
PROFILES = "profiles"
META = "read_model_meta"
GONE = "gone_smes"
SCHEDULE_COPIES = "schedule_copies"
PROFILE_CHANGES = "profile_changes"

# The feed keeps the last FEED_KEPT entries (trimmed every TRIM_EVERY); an index further behind
# reads every profile again instead.
FEED_KEPT = 50_000
TRIM_EVERY = 1_000


class ReadModel:
    def __init__(self, db: Database, catch_up_s: float = CATCH_UP_S) -> None:
        self.catch_up_s = catch_up_s
        self.brokerage = db[BROKERAGE]
        self.participants = db[PARTICIPANTS]
        self.smes = db[SMES]
        self.profiles = db[PROFILES]
        self.meta = db[META]
        # Tombstones (ids and versions only): an erased or unshared SME stays gone whatever
        # older copy of it arrives later.
        self.gone = db[GONE]
        self.schedule_copies = db[SCHEDULE_COPIES]
        self.profile_changes = db[PROFILE_CHANGES]
        # Told after each change to the profiles: this instance's index follows at once.
        self.listeners: list[Callable[[], None]] = []

    async def create_indexes(self) -> None:
        await self.participants.create_index([("event_id", ASCENDING)], name="event_id")
        await self.profiles.create_index([("sme_key", ASCENDING)], name="sme_key")

    # --- brokerage events and participants ---------------------------------------------------

    async def put_event(self, entry: dict[str, Any]) -> None:
        if entry.get("kind") != "brokerage_event" or not entry.get("brokerage"):
            return
        current = await self.brokerage.find_one({"_id": entry["event_id"]}, {"entry": 1})
        if current and current["entry"]["version"] > entry["version"]:
            return  # an older version arriving late
        await self.brokerage.update_one(
            {"_id": entry["event_id"]},
            {"$set": {"entry": entry, "cancelled": entry.get("status") == "cancelled"}},
            upsert=True,
        )

    async def cancel_event(self, event_id: str) -> None:
        await self.brokerage.update_one({"_id": event_id}, {"$set": {"cancelled": True}})

    async def event(self, event_id: str, *, wait: bool = False) -> Brokerage | None:
        """The brokerage event; with ``wait``, given a moment to arrive if not yet here."""
        if wait:
            return await once_there(lambda: self.event(event_id), self.catch_up_s)
        doc = await self.brokerage.find_one({"_id": event_id})
        if doc is None:
            return None
        entry = doc["entry"]
        return Brokerage(
            event_id=event_id,
            region=entry["region"],
            setup=entry["brokerage"],
            timezone=entry["timezone"],
            cancelled=bool(doc.get("cancelled")),
        )

    async def join(self, event_id: str, sme: SmeRef, remote: bool, registration_id: str) -> None:
        await self.participants.update_one(
            {"_id": f"{event_id}|{key(sme)}"},
            {
                "$set": {
                    "event_id": event_id,
                    "sme": sme.model_dump(),
                    "remote": remote,
                    "registration_id": registration_id,
                }
            },
            upsert=True,
        )

    async def leave(self, event_id: str, sme: SmeRef, registration_id: str) -> None:
        await self.participants.delete_one(
            {"_id": f"{event_id}|{key(sme)}", "registration_id": registration_id}
        )

    async def participant(
        self, event_id: str, sme: SmeRef, *, wait: bool = False
    ) -> dict[str, Any] | None:
        """A confirmed participant; with ``wait``, given a moment to arrive if not yet here."""
        if wait:
            return await once_there(lambda: self.participant(event_id, sme), self.catch_up_s)
        return await self.participants.find_one({"_id": f"{event_id}|{key(sme)}"})

    async def set_availability(self, event_id: str, sme: SmeRef, slots: list[int]) -> bool:
        result = await self.participants.update_one(
            {"_id": f"{event_id}|{key(sme)}"}, {"$set": {"available": sorted(set(slots))}}
        )
        return result.matched_count == 1

    async def participants_of(self, event_id: str) -> list[dict[str, Any]]:
        return await self.participants.find({"event_id": event_id}).to_list(None)

    # --- SMEs and their profiles -----------------------------------------------------------

    async def _stale(self, sme_key: str, version: int) -> bool:
        if await self._buried(sme_key, version):
            return True
        current = await self.smes.find_one({"_id": sme_key}, {"version": 1})
        return bool(current and current.get("version", 0) > version)

    async def put_sme(self, sme: dict[str, Any], *, with_profiles: bool = True) -> None:
        sme_key = _key_of(sme)
        if await self._buried(sme_key, sme["version"]) or not await self._put_newer_sme(
            sme_key, sme
        ):
            return  # an older copy arriving late, or one of an SME since erased
        if with_profiles:
            held = await self.profiles.update_many({"sme_key": sme_key}, {"$set": {"sme": sme}})
            if held.matched_count:  # an SME without profiles is nothing to the search index
                await self._changed(sme_key=sme_key)

    async def _buried(self, sme_key: str, version: int) -> bool:
        """Erased, or unshared at this version or a later one."""
        return _covers(await self.gone.find_one({"_id": sme_key}), version)

    async def _put_newer_sme(
        self, sme_key: str, sme: dict[str, Any], *, insert_first: bool = True
    ) -> bool:
        """Store this copy of the SME unless a later version is held; whether it was stored.
        An SME new here (most copies) costs one insert, a newer version one failed insert and
        a replacement conditional on the version: no read before either. ``insert_first``
        False: it is known to be held (its insert failed), only the replacement is tried."""
        # The id goes into the record too: nx-27017 does not take it from the filter.
        record = {**sme, "_id": sme_key}
        if insert_first:
            try:
                await self.smes.insert_one(record)
                return True
            except DuplicateKeyError:
                pass
        newer = await self.smes.replace_one(
            {"_id": sme_key, "version": {"$lte": sme["version"]}}, record
        )
        return newer.matched_count > 0

    async def sme(self, ref: SmeRef) -> dict[str, Any] | None:
        return await self.smes.find_one({"_id": key(ref)})

    async def put_profile(self, sme: dict[str, Any], profile: dict[str, Any]) -> None:
        await self._store_profile(sme, profile)
        await self.put_sme(sme, with_profiles=False)
        await self._changed(profile_ids=[profile["profile_id"]])

    async def _store_profile(self, sme: dict[str, Any], profile: dict[str, Any]) -> None:
        sme_key = _key_of(sme)
        await self.profiles.replace_one(
            {"_id": profile["profile_id"]},
            {"_id": profile["profile_id"], "sme_key": sme_key, "sme": sme, "profile": profile},
            upsert=True,
        )

    async def withdraw_profile(self, profile_id: str) -> None:
        await self.profiles.delete_one({"_id": profile_id})
        await self._changed(profile_ids=[profile_id])

    async def put_shared(self, sme: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
        """Another region's SME as it now shares itself: its data and exactly these profiles."""
        await self.put_shared_many([(sme, profiles)])

    async def put_shared_many(
        self, shared: list[tuple[dict[str, Any], list[dict[str, Any]]]]
    ) -> None:
        """Other regions' SMEs as they now share themselves (``put_shared`` of each, in order).
        Their tombstones are read in one query and the SMEs new here inserted in one bulk
        write: a batch of SMEs without profiles (most of them) costs two operations.

        The SME record is written before its profiles (and erased after them), so an SME new
        here has no profiles here yet: none to drop, and the search index is told only of the
        profiles shown."""
        keys = [_key_of(sme) for sme, _ in shared]
        buried = {
            doc["_id"]: doc async for doc in self.gone.find({"_id": {"$in": sorted(set(keys))}})
        }
        live = [
            (sme_key, sme, profiles)
            for sme_key, (sme, profiles) in zip(keys, shared, strict=True)
            if not _covers(buried.get(sme_key), sme["version"])
        ]
        if not live:
            return
        records = [{**sme, "_id": sme_key} for sme_key, sme, _ in live]
        new_here = await insert_new(self.smes, records)  # the others held: a newer version?
        for n, (sme_key, sme, profiles) in enumerate(live):
            held = n not in new_here
            if held and not await self._put_newer_sme(sme_key, sme, insert_first=False):
                continue  # an older copy arriving late
            await self._show_profiles(sme_key, sme, profiles, new_here=n in new_here)
        # An erasure or an unsharing handled meanwhile by its own consumer may have come
        # between the tombstones' read and these writes: what a tombstone read now covers is
        # taken out again (its own deletes, if later, take out the rest).
        written: dict[str, int] = {}
        for sme_key, sme, _ in live:
            written[sme_key] = max(written.get(sme_key, 0), sme["version"])
        async for doc in self.gone.find({"_id": {"$in": sorted(written)}}):
            if _covers(doc, written[doc["_id"]]):
                await self.profiles.delete_many({"sme_key": doc["_id"]})
                await self.smes.delete_one(
                    {"_id": doc["_id"], "version": {"$lte": written[doc["_id"]]}}
                )
                await self._changed(sme_key=doc["_id"])

    async def _show_profiles(
        self, sme_key: str, sme: dict[str, Any], profiles: list[dict[str, Any]], *, new_here: bool
    ) -> None:
        """Exactly these profiles of a shared SME whose record was just stored."""
        dropped = 0
        if not new_here:
            ids = [p["profile_id"] for p in profiles]
            gone = await self.profiles.delete_many({"sme_key": sme_key, "_id": {"$nin": ids}})
            dropped = gone.deleted_count
        for profile in profiles:
            await self._store_profile(sme, profile)
        if profiles or dropped:  # an SME without profiles is nothing to the search index
            await self._changed(sme_key=sme_key)

    async def unshare_sme(self, ref: SmeRef, version: int) -> None:
        if await self._stale(key(ref), version):
            return
        await self._bury(ref, {"version": version})

    async def erase_sme(self, ref: SmeRef) -> None:
        await self._bury(ref, {"version": 2**62, "erased": True})

    async def _bury(self, ref: SmeRef, tombstone: dict[str, Any]) -> None:
        await self.gone.replace_one({"_id": key(ref)}, {"_id": key(ref), **tombstone}, upsert=True)
        await self.profiles.delete_many({"sme_key": key(ref)})
        await self.smes.delete_one({"_id": key(ref)})
        await self._changed(sme_key=key(ref))

    # --- other regions' schedules ----------------------------------------------------------

    async def put_schedule_copy(self, schedule: dict[str, Any]) -> None:
        """Another region's published schedule, unless this copy is as new already."""
        await put_if_newer(
            self.schedule_copies,
            schedule["event_id"],
            {"schedule": schedule},
            version_field="schedule.version",
            version=schedule["version"],
            # Only the region that published it first changes a copy: another region cannot
            # overwrite (or empty) the host's schedule here.
            guard={"schedule.region": schedule["region"]},
        )

    async def schedule_copy(self, event_id: str) -> dict[str, Any] | None:
        return await self.schedule_copies.find_one({"_id": event_id})

    async def clusters_of(self, keys: list[str]) -> dict[str, list[str]]:
        """The clusters of each of these SMEs (keys ``region:sme_id``), in one query."""
        found = self.smes.find({"_id": {"$in": keys}}, {"clusters": 1})
        return {sme["_id"]: sme.get("clusters", []) async for sme in found}

    async def profiles_of(self, ref: SmeRef) -> list[dict[str, Any]]:
        """The published profiles of one SME."""
        return [p["profile"] async for p in self.profiles.find({"sme_key": key(ref)})]

    async def smes_and_profiles(
        self, keys: list[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """These SMEs (keys ``region:sme_id``) and their profiles, in two queries."""
        smes = {d["_id"]: d async for d in self.smes.find({"_id": {"$in": keys}})}
        profiles: dict[str, list[dict[str, Any]]] = {}
        async for doc in self.profiles.find({"sme_key": {"$in": keys}}):
            profiles.setdefault(doc["sme_key"], []).append(doc["profile"])
        return smes, profiles

    async def all_profiles(self) -> list[dict[str, Any]]:
        # In batches: nx-27017 answers one request at a time, and other requests (a search's
        # own reads) go between two batches instead of waiting for all 100,000 records.
        return await self.profiles.find({}).batch_size(2_000).to_list(None)

    async def profiles_by_id(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = list(ids)
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found += await self.profiles.find({"_id": {"$in": chunk}}).to_list(None)
        return found

    async def profiles_with_sme_key(self, sme_key: str) -> list[dict[str, Any]]:
        return await self.profiles.find({"sme_key": sme_key}).to_list(None)

    async def _changed(
        self, *, sme_key: str | None = None, profile_ids: Iterable[str] = ()
    ) -> None:
        """Numbers the change (the counter every instance compares with the entry its search
        index holds everything up to) and writes its entry in the feed."""
        counter = await self.meta.find_one_and_update(
            {"_id": "profiles"},
            {"$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        number = int(counter["version"])
        await self.profile_changes.insert_one(
            {"_id": number, "sme_key": sme_key, "profile_ids": list(profile_ids)}
        )
        if number % TRIM_EVERY == 0 and number > FEED_KEPT:
            old = range(number - FEED_KEPT - TRIM_EVERY, number - FEED_KEPT)
            await self.profile_changes.delete_many({"_id": {"$in": list(old)}})
        for listener in self.listeners:
            listener()

    async def version(self) -> int:
        """The number of the last change to the profiles (0: none yet)."""
        doc = await self.meta.find_one({"_id": "profiles"})
        return int(doc["version"]) if doc else 0

    async def changes(self, numbers: list[int]) -> list[dict[str, Any]]:
        """The feed's entries of these numbers that are there (a number taken by a writer
        that has not written its entry yet, or trimmed, is missing)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            found += await self.profile_changes.find({"_id": {"$in": chunk}}).to_list(None)
        return found


def _key_of(sme: dict[str, Any]) -> str:
    """``key`` of an SME as events carry it (a dict with its region and id)."""
    return f"{sme['region']}:{sme['sme_id']}"


def _covers(gone: dict[str, Any] | None, version: int) -> bool:
    """Whether a tombstone (an erasure, or an unsharing at this version or a later one) keeps
    this version of a shared SME out."""
    return bool(gone and (gone.get("erased") or gone["version"] >= version))
