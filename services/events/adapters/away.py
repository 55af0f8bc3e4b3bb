"""This region's SMEs' registrations at other regions' events, as their hosts last told them
(``guest_registration_changed``): copies, so that the SME's home region lists them beside its
own without asking every other region. No person is in them: the host keeps who registered.

A copy keeps the highest version it heard: a fact heard again, or late, changes nothing. An SME
erased here leaves a tombstone, so that a later fact from a host does not bring it back."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING

from contracts import events as c
from contracts.common import SmeRef
from mapnet.runtime.mongo import Database, put_if_newer, storable

from .repository import utc_order_key

AWAY_REGISTRATIONS = "away_registrations"
ERASED_SMES = "away_erased_smes"


def sme_key(sme: SmeRef) -> str:
    return f"{sme.region}:{sme.sme_id}"


class AwayRegistrations:
    def __init__(self, db: Database, region: str) -> None:
        self.copies = db[AWAY_REGISTRATIONS]
        self.erased = db[ERASED_SMES]
        self.region = region

    async def create_indexes(self) -> None:
        # One SME's copies, newest first: what list_sme_registrations reads.
        await self.copies.create_index(
            [("sme_key", ASCENDING), ("registered_at", DESCENDING)], name="sme_newest"
        )

    async def keep(self, told: c.GuestRegistration) -> None:
        """Keep a host's fact if it is about one of this region's SMEs and newer than the copy
        (hosts tell every region; the others' SMEs are none of this one's business)."""
        sme = told.registration.sme
        if sme is None or sme.region != self.region or told.region == self.region:
            return
        key = sme_key(sme)
        if await self.erased.find_one({"_id": key}) is not None:
            return
        fact = told.registration
        state = storable(
            {
                "sme_key": key,
                "event_id": fact.event_id,
                "region": told.region,
                "status": fact.status,
                "registered_at": utc_order_key(fact.registered_at),
                "version": told.version,
                "fact": fact.model_dump(mode="json"),
            }
        )
        # Only the region that first told of a registration speaks for it after: another
        # region (every region hears these facts) cannot overwrite the host's copy.
        await put_if_newer(self.copies, fact.registration_id, state, version_field="version",
                           version=told.version, guard={"region": told.region})  # fmt: skip
        # Erased while this was being written: the erasure wins.
        if await self.erased.find_one({"_id": key}) is not None:
            await self.copies.delete_many({"sme_key": key})

    async def forget_sme(self, sme: SmeRef) -> None:
        """An SME of this region was erased: its copies go, and none comes back."""
        if sme.region != self.region:
            return
        key = sme_key(sme)
        await self.erased.replace_one({"_id": key}, {"_id": key}, upsert=True)
        await self.copies.delete_many({"sme_key": key})


def listed(doc: dict[str, Any]) -> c.SmeRegistration:
    return c.SmeRegistration.model_validate({**doc["fact"], "region": doc["region"]})
