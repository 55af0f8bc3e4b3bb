"""Notify's data: the delivery log (one document per event, channel and recipient, with its
outbox), webhook subscriptions, preferences, the people and events it writes about (read models
from the other services' events), digest items, and the hashes of forgotten people."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from contracts import notify as c
from contracts.envelope import Envelope
from mapnet import outbox

DELIVERIES = "deliveries"


def utc_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def email_hash(email: str) -> str:
    return hashlib.sha256(email.lower().encode()).hexdigest()


def delivery_view(doc: dict[str, Any]) -> c.Delivery:
    return c.Delivery(
        delivery_id=doc["_id"],
        event_id=doc["event_id"],
        channel=doc["channel"],
        kind=doc["kind"],
        recipient=doc["recipient"],
        status="pending" if doc["status"] == "sending" else doc["status"],
        attempts=doc.get("attempts", 0),
        last_error=doc.get("last_error", ""),
        at=datetime.fromisoformat(doc["updated_at"]),
    )


class NotifyStore:
    def __init__(self, db: AsyncIOMotorDatabase[Any]) -> None:
        self.deliveries = db[DELIVERIES]
        self.subscriptions = db["webhook_subscriptions"]
        self.preferences = db["preferences"]
        self.registrations = db["registrations"]
        self.calendar = db["calendar"]
        self.profiles = db["profiles"]
        self.digest_items = db["digest_items"]
        self.forgotten = db["forgotten"]

    async def create_indexes(self) -> None:
        await self.deliveries.create_index([("status", ASCENDING)], name="status")
        await self.deliveries.create_index([("recipient", ASCENDING)], name="recipient")
        await self.deliveries.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
        await self.registrations.create_index([("event_id", ASCENDING)], name="event_id")
        await self.registrations.create_index([("email", ASCENDING)], name="email")
        await self.digest_items.create_index([("email", ASCENDING)], name="email")

    # --- the delivery log --------------------------------------------------------------------

    async def enqueue(self, doc: dict[str, Any]) -> bool:
        """False if this delivery was queued before (a redelivered event)."""
        now = utc_key(datetime.now(UTC))
        try:
            await self.deliveries.insert_one(
                {**doc, "status": "pending", "attempts": 0, "next_at": now, "created_at": now,
                 "updated_at": now}
            )  # fmt: skip
        except DuplicateKeyError:
            return False
        return True

    async def claim(self, owner: str, lease_s: float) -> dict[str, Any] | None:
        """The next due delivery, leased to one sender; a lease left by a crashed sender expires
        and the delivery is taken again."""
        now = datetime.now(UTC)
        return await self.deliveries.find_one_and_update(
            {
                "$or": [
                    {"status": "pending", "next_at": {"$lte": utc_key(now)}},
                    {"status": "sending", "lease_until": {"$lt": utc_key(now)}},
                ]
            },
            {
                "$set": {
                    "status": "sending",
                    "owner": owner,
                    "lease_until": utc_key(now + timedelta(seconds=lease_s)),
                }
            },
            sort=[("next_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def finish(
        self,
        doc: dict[str, Any],
        status: str,
        error: str,
        event: Envelope[Any] | None,
        next_at: datetime | None = None,
    ) -> bool:
        """Record the outcome of an attempt (and its event, in the same write) if this sender
        still holds the lease."""
        now = utc_key(datetime.now(UTC))
        attempts = doc.get("attempts", 0) + 1
        fields: dict[str, Any] = {
            "status": status,
            "attempts": attempts,
            "last_error": error,
            "updated_at": now,
        }
        if next_at is not None:
            fields["next_at"] = utc_key(next_at)
        if status in ("sent", "failed"):
            # What was sent is not kept longer than needed to send it.
            fields["message"] = None
        result = await self.deliveries.update_one(
            {"_id": doc["_id"], "status": "sending", "owner": doc["owner"]},
            outbox.change(fields, [event] if event else [], seq=attempts * 10),
        )
        return result.matched_count == 1

    async def pending_count(self) -> int:
        return await self.deliveries.count_documents({"status": {"$in": ["pending", "sending"]}})

    # --- people ------------------------------------------------------------------------------

    async def is_forgotten(self, email: str) -> bool:
        return await self.forgotten.find_one({"_id": email_hash(email)}) is not None

    async def forget(self, email: str) -> None:
        """Everything about the person goes; only a hash stays, so that later events about them
        cannot mail them again."""
        key = email.lower()
        await self.forgotten.update_one(
            {"_id": email_hash(key)}, {"$set": {"at": utc_key(datetime.now(UTC))}}, upsert=True
        )
        await self.preferences.delete_one({"_id": key})
        await self.registrations.delete_many({"email": key})
        await self.digest_items.delete_many({"email": key})
        await self.deliveries.update_many(
            {"recipient": key, "status": {"$in": ["pending", "sending"]}},
            {"$set": {"status": "failed", "last_error": "person forgotten", "message": None}},
        )
        await self.deliveries.update_many(
            {"recipient": key}, {"$set": {"recipient": email_hash(key)}}
        )
