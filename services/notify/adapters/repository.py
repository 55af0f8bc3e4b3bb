"""Notify's data: the delivery log (one document per event, channel and recipient, with its
outbox), webhook subscriptions, preferences, the people and events it writes about (read models
from the other services' events), digest items, and the hashes of forgotten people."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from contracts import notify as c
from mapnet.runtime import outbox
from mapnet.runtime.catch_up import once_there
from mapnet.runtime.mongo import Database, insert_new
from mapnet.runtime.paging import keyset_page
from mapnet.runtime.requests import REPLY_CACHE

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
    def __init__(self, db: Database) -> None:
        self.deliveries = db[DELIVERIES]
        self.subscriptions = db["webhook_subscriptions"]
        self.webhook_slots = db["webhook_slots"]
        self.preferences = db["preferences"]
        self.registrations = db["registrations"]
        self.calendar = db["calendar"]
        self.profiles = db["profiles"]
        self.digest_items = db["digest_items"]
        self.forgotten = db["forgotten"]
        self.secrets = db["secrets"]
        self.reminders = db["meeting_reminders"]
        self.replies = db[REPLY_CACHE]
        # Deliveries waiting for a retry not yet due, as the last claim counted them (/metrics).
        self.retries_waiting = 0
        # When the first delivery the last claim left falls due (a retry's time, a lease that
        # runs out), as a utc_key; None when it left none.
        self.next_due: str | None = None

    async def installation_secret(self) -> str:
        """The secret that signs this region's unsubscribe links, made once on first start and
        kept in notify's database, so that every notify instance of the region (and each start)
        signs alike and no two installations share one."""
        made = secrets.token_urlsafe(32)
        with contextlib.suppress(DuplicateKeyError):
            await self.secrets.insert_one({"_id": "unsubscribe", "value": made})
        doc = await self.secrets.find_one({"_id": "unsubscribe"})
        assert doc is not None
        return str(doc["value"])

    async def create_indexes(self) -> None:
        await self.reminders.create_index(
            [("reminded", ASCENDING), ("starts_at", ASCENDING)], name="due"
        )
        await self.reminders.create_index([("event_id", ASCENDING)], name="event_id")
        await self.deliveries.create_index([("status", ASCENDING)], name="status")
        await self.deliveries.create_index([("recipient", ASCENDING)], name="recipient")
        await self.deliveries.create_index([("contact_of", ASCENDING)], name="contact_of")
        await self.deliveries.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
        await self.registrations.create_index([("event_id", ASCENDING)], name="event_id")
        await self.registrations.create_index([("email", ASCENDING)], name="email")
        await self.digest_items.create_index([("email", ASCENDING)], name="email")

    # --- the delivery log --------------------------------------------------------------------

    async def enqueue_many(
        self, docs: list[dict[str, Any]], owner: str, lease_s: float
    ) -> list[dict[str, Any]]:
        """Queue deliveries in one write, leased to the sender that queues them (it sends them
        next, with no claim of its own); answers the new ones. The rest were queued before, by
        an earlier delivery of the same events, and are left to whoever holds them."""
        if not docs:
            return []
        now = datetime.now(UTC)
        stamp, lease_until = utc_key(now), utc_key(now + timedelta(seconds=lease_s))
        fresh = [
            {**doc, "status": "sending", "owner": owner, "lease_until": lease_until,
             "attempts": 0, "next_at": stamp, "created_at": stamp, "updated_at": stamp}
            for doc in docs
        ]  # fmt: skip
        new = await insert_new(self.deliveries, fresh)
        return [doc for n, doc in enumerate(fresh) if n in new]

    async def renew(self, doc: dict[str, Any], lease_s: float) -> bool:
        """Extend a lease its owner still holds; False if it ran out and another sender took
        the delivery (or finished it)."""
        lease_until = utc_key(datetime.now(UTC) + timedelta(seconds=lease_s))
        result = await self.deliveries.update_one(
            {"_id": doc["_id"], "status": "sending", "owner": doc["owner"]},
            {"$set": {"lease_until": lease_until}},
        )
        if result.matched_count:
            doc["lease_until"] = lease_until
        return bool(result.matched_count)

    async def claim(self, owner: str, lease_s: float, most: int) -> list[dict[str, Any]]:
        """Up to ``most`` due deliveries, each leased to this owner: retries whose time came,
        and deliveries whose lease ran out (their sender crashed). The candidates are read by
        status alone, the one query nx-27017 answers from an index (mapnet/runtime/mongo.py);
        each is then taken only if it is still as it was read, so two instances never take one."""
        now = utc_key(datetime.now(UTC))
        due: list[tuple[str, dict[str, Any]]] = []
        fields = {"_id": 1, "next_at": 1, "lease_until": 1}
        later: list[str] = []  # when each delivery not due now falls due
        async for d in self.deliveries.find({"status": "pending"}, fields):
            if d.get("next_at", "") <= now:
                due.append((d["next_at"], {"_id": d["_id"], "status": "pending",
                                           "next_at": {"$lte": now}}))  # fmt: skip
            else:
                later.append(d["next_at"])
        self.retries_waiting = len(later)
        async for d in self.deliveries.find({"status": "sending"}, fields):
            if d.get("lease_until", "") < now:
                due.append((d["lease_until"], {"_id": d["_id"], "status": "sending",
                                               "lease_until": {"$lt": now}}))  # fmt: skip
            else:
                later.append(d.get("lease_until", ""))
        lease_until = utc_key(datetime.now(UTC) + timedelta(seconds=lease_s))
        taken = []
        for since, condition in sorted(due, key=lambda item: item[0])[:most]:
            doc = await self.deliveries.find_one_and_update(
                condition,
                {"$set": {"status": "sending", "owner": owner, "lease_until": lease_until}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                taken.append(doc)
            else:  # due only just now (nx-27017 compares to the second), or another took it
                later.append(since)
        self.next_due = min(later, default=None)
        return taken

    async def finish_many(self, outcomes: list[tuple[dict[str, Any], dict[str, Any], Any]]) -> None:
        """Record many attempts in one bulk write: (delivery, fields to set, event or None)."""
        if outcomes:
            await self.deliveries.bulk_write(
                [
                    UpdateOne(
                        {"_id": doc["_id"], "status": "sending", "owner": doc["owner"]},
                        outbox.change(
                            fields, [event] if event else [], seq=fields["attempts"] * 10
                        ),
                    )
                    for doc, fields, event in outcomes
                ],
                ordered=False,
            )

    async def deliveries_page(
        self, channel: str | None, status: str | None, recipient: str | None,
        limit: int, cursor: str | None, *, only_recipients: list[str] | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:  # fmt: skip
        """``only_recipients``: none but these (a partner's own subscriptions)."""
        clauses: list[dict[str, Any]] = []
        if only_recipients is not None:
            clauses.append({"channel": "webhook", "recipient": {"$in": only_recipients}})
        if channel:
            clauses.append({"channel": channel})
        if status == "pending":  # as the caller sees it: not sent yet, whether or not leased
            clauses.append({"status": {"$in": ["pending", "sending"]}})
        elif status:
            clauses.append({"status": status})
        if recipient:
            clauses.append({"recipient": recipient.lower()})
        return await keyset_page(self.deliveries, clauses, "updated_at", limit, cursor)

    # --- webhook subscriptions ---------------------------------------------------------------

    async def save_subscription(self, doc: dict[str, Any]) -> None:
        await self.subscriptions.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self.subscriptions.find_one({"_id": subscription_id})
        return doc

    async def active_subscription(self, subscription_id: str) -> dict[str, Any] | None:
        doc = await self.subscription(subscription_id)
        return doc if doc and doc.get("active") else None

    async def deactivate_subscription(self, subscription_id: str) -> None:
        await self.subscriptions.update_one({"_id": subscription_id}, {"$set": {"active": False}})
        await self.webhook_slots.delete_many({"subscription_id": subscription_id})

    async def take_webhook_slot(self, partner_id: str, subscription_id: str, most: int) -> bool:
        """One of the partner's ``most`` places for an active subscription, taken for this one
        (or already its own): False when every place is taken. Each place is a document whose
        id names it, so two instances, or two requests at once, never take the same place:
        the cap holds however many ask at once (a count then a save let 21 of 40 through)."""
        if await self.webhook_slots.find_one({"subscription_id": subscription_id}):
            return True
        for place in range(most):
            try:
                await self.webhook_slots.insert_one(
                    {"_id": f"{partner_id}#{place}", "subscription_id": subscription_id}
                )
            except DuplicateKeyError:
                continue
            return True
        return False

    async def subscriptions_of(self, partner_id: str) -> list[dict[str, Any]]:
        """Every subscription a partner made, active or stopped (its deliveries stay its own)."""
        found = self.subscriptions.find({"partner_id": partner_id}, {"_id": 1, "active": 1})
        return [doc async for doc in found]

    async def active_subscriptions(self) -> list[dict[str, Any]]:
        return [doc async for doc in self.subscriptions.find({"active": True})]

    # --- what the other services tell: events, registrations, profiles ------------------------

    async def put_calendar_entry(self, entry: dict[str, Any]) -> None:
        await self.calendar.replace_one(
            {"_id": entry["event_id"]}, {**entry, "_id": entry["event_id"]}, upsert=True
        )

    async def calendar_entry(self, event_id: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self.calendar.find_one({"_id": event_id})
        return doc

    # --- meetings to remind of: one document per scheduled meeting, its start a UTC key ----

    async def plan_reminders(self, event_id: str, meetings: list[dict[str, Any]]) -> None:
        """The event's schedule as it is now: meetings no longer in it are not reminded of; a
        meeting whose start changed is reminded of again (at its new time)."""
        ids = [m["meeting_id"] for m in meetings]
        await self.reminders.delete_many({"event_id": event_id, "_id": {"$nin": ids}})
        for m in meetings:
            await self.plan_reminder(event_id, m)

    async def plan_reminder(self, event_id: str, meeting: dict[str, Any]) -> None:
        starts = utc_key(datetime.fromisoformat(meeting["starts_at"]))
        # The same start: the meeting as it is now (moved to another table, the reminder says
        # the new one), its reminder left as it was (sent or not).
        same = await self.reminders.update_one(
            {"_id": meeting["meeting_id"], "starts_at": starts},
            {"$set": {"event_id": event_id, "meeting": meeting}},
        )
        if same.matched_count:
            return
        doc = {"event_id": event_id, "starts_at": starts, "reminded": False,
               "meeting": meeting}  # fmt: skip
        # Only a new start resets it: a schedule published again with the meeting where it was
        # leaves a reminder already sent as sent.
        with contextlib.suppress(DuplicateKeyError):
            await self.reminders.update_one(
                {"_id": meeting["meeting_id"], "starts_at": {"$ne": starts}},
                {"$set": doc},
                upsert=True,
            )

    async def drop_reminders(self, *, meeting_id: str = "", event_id: str = "") -> None:
        await self.reminders.delete_many({"_id": meeting_id} if meeting_id else
                                         {"event_id": event_id})  # fmt: skip

    async def reminders_due(self, after: str, until: str) -> list[dict[str, Any]]:
        query = {"reminded": False, "starts_at": {"$gt": after, "$lte": until}}
        return [r async for r in self.reminders.find(query).sort("starts_at", ASCENDING)]

    async def mark_reminded(self, reminder: dict[str, Any]) -> None:
        await self.reminders.update_one(
            {"_id": reminder["_id"], "starts_at": reminder["starts_at"]},
            {"$set": {"reminded": True}},
        )

    async def mark_cancelled(self, event_id: str) -> None:
        await self.calendar.update_one({"_id": event_id}, {"$set": {"status": "cancelled"}})

    async def calendar_since(self, since: str) -> list[dict[str, Any]]:
        return [e async for e in self.calendar.find({"received_at": {"$gte": since}})]

    async def put_registrations(self, rows: list[dict[str, Any]]) -> None:
        """The people registered to events, as the events service last told (one write)."""
        if rows:
            await self.registrations.bulk_write(
                [ReplaceOne({"_id": r["_id"]}, r, upsert=True) for r in rows], ordered=False
            )

    async def open_registrations(self, event_id: str) -> list[dict[str, Any]]:
        found = self.registrations.find(
            {"event_id": event_id, "status": {"$in": ["confirmed", "waitlisted"]}}
        )
        return [r async for r in found]

    async def confirmed_people(
        self, event_id: str, sme_key: str, *, wait: bool = False
    ) -> list[dict[str, Any]]:
        """The SME's confirmed people at the event; with ``wait``, given a moment to arrive
        (a meeting can be requested the moment a registration is confirmed)."""
        if wait:
            found = await once_there(lambda: self.confirmed_people(event_id, sme_key))
            return found or []
        query = {"event_id": event_id, "sme_key": sme_key, "status": "confirmed"}
        return [r async for r in self.registrations.find(query)]

    async def put_profile(self, profile: dict[str, Any]) -> None:
        await self.profiles.replace_one({"_id": profile["_id"]}, profile, upsert=True)

    async def drop_profile(self, profile_id: str) -> None:
        await self.profiles.delete_one({"_id": profile_id})

    async def drop_profiles_of(self, sme_id: str) -> None:
        await self.profiles.delete_many({"sme.sme_id": sme_id})

    async def registered_for(self, sme_key: str) -> list[str]:
        """The addresses of the people registered for an SME, as notify knows them."""
        found = self.registrations.find({"sme_key": sme_key}, {"email": 1})
        return sorted({doc["email"] async for doc in found})

    async def contacts_mailed(self, sme_key: str) -> list[str]:
        """The addresses notify mailed as the SME's contacts (a forgotten one is a digest)."""
        found = self.deliveries.find({"contact_of": sme_key}, {"recipient": 1})
        return sorted({d["recipient"] async for d in found if "@" in d["recipient"]})

    async def preferences_with_digest(self, digest: str) -> list[str]:
        """The address, among those with preferences, whose digest this is. A scan of their
        ids: an erasure is rare, and preferences are kept by address alone."""
        found = self.preferences.find({}, {"_id": 1})
        return [d["_id"] async for d in found if email_hash(d["_id"]) == digest]

    async def profiles_expiring(self, first: str, last: str) -> list[dict[str, Any]]:
        found = self.profiles.find({"expires_on": {"$lte": last, "$gte": first}})
        return [p async for p in found]

    async def profiles_since(self, since: str) -> list[dict[str, Any]]:
        return [p async for p in self.profiles.find({"received_at": {"$gte": since}})]

    # --- people ------------------------------------------------------------------------------

    async def erased_among(self, sme_keys: list[str]) -> set[str]:
        """The SMEs (region:sme_id) among these that were erased."""
        found = self.forgotten.find({"_id": {"$in": [f"sme:{k}" for k in sme_keys]}})
        return {d["_id"].removeprefix("sme:") async for d in found}

    async def forgotten_among(self, hashes: list[str]) -> set[str]:
        return {d["_id"] async for d in self.forgotten.find({"_id": {"$in": hashes}})}

    async def preferences_of(self, emails: list[str]) -> dict[str, dict[str, Any]]:
        return {d["_id"]: d async for d in self.preferences.find({"_id": {"$in": emails}})}

    async def preferences_for(self, email: str) -> dict[str, Any] | None:
        doc: dict[str, Any] | None = await self.preferences.find_one({"_id": email})
        return doc

    async def save_preferences(self, doc: dict[str, Any]) -> None:
        await self.preferences.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def everyone_with_preferences(self) -> list[dict[str, Any]]:
        return [p async for p in self.preferences.find({})]

    async def hold_for_digest(self, items: list[tuple[str, str, str, tuple[str, ...]]]) -> None:
        """Lines for people's next digest (id, email, text, SMEs it quotes): each held once."""
        if items:
            stamp = utc_key(datetime.now(UTC))
            await self.digest_items.bulk_write(
                [
                    UpdateOne(
                        {"_id": ident},
                        {"$set": {"email": email, "text": text, "at": stamp, "about": list(about)}},
                        upsert=True,
                    )
                    for ident, email, text, about in items
                ],
                ordered=False,
            )

    async def held_for(self, email: str) -> list[dict[str, Any]]:
        return [i async for i in self.digest_items.find({"email": email})]

    async def drop_held(self, ids: list[str]) -> None:
        if ids:
            await self.digest_items.delete_many({"_id": {"$in": ids}})

    async def drop_mentions(self, sme_key: str) -> None:
        """Mails that quote an erased SME's people keep no text: sent ones are logged without
        it, and those not sent yet are not sent; one still being written when the erasure came
        is not queued (see ``erased_among``)."""
        await self.forgotten.update_one(
            {"_id": f"sme:{sme_key}"}, {"$set": {"at": utc_key(datetime.now(UTC))}}, upsert=True
        )
        await self.deliveries.update_many(
            {"about": sme_key, "status": {"$in": ["pending", "sending"]}},
            {"$set": {"status": "failed", "last_error": "quoted an erased SME", "message": None}},
        )
        await self.deliveries.update_many({"about": sme_key}, {"$set": {"message": None}})
        # Lines held for a digest that quote the SME's people go as the mails do.
        await self.digest_items.delete_many({"about": sme_key})

    async def stop_queued(self, email: str, why: str) -> None:
        """Mail to the person not yet sent is not sent: recorded as failed, and why."""
        await self.deliveries.update_many(
            {"recipient": email, "status": {"$in": ["pending", "sending"]}},
            {"$set": {"status": "failed", "last_error": why, "message": None}},
        )
        await self.digest_items.delete_many({"email": email})

    async def forget_digest(self, digest: str) -> None:
        """Only the digest of an address is known (a contact's erasure): nothing mails the
        address from now on (``forgotten_among``)."""
        await self.forgotten.update_one(
            {"_id": digest}, {"$set": {"at": utc_key(datetime.now(UTC))}}, upsert=True
        )

    async def forget(self, email: str) -> None:
        """Everything about the person goes; only a hash stays, so that later events about them
        cannot mail them again."""
        key = email.lower()
        await self.forgotten.update_one(
            {"_id": email_hash(key)}, {"$set": {"at": utc_key(datetime.now(UTC))}}, upsert=True
        )
        await self.preferences.delete_one({"_id": key})
        await self.registrations.delete_many({"email": key})
        # The answers kept for repeats of the person's own commands (their preferences) quote
        # their address, and are keyed by it when they sent them: they go too. Rare, so a scan.
        await self.replies.delete_many({"reply": {"$regex": re.escape(key), "$options": "i"}})
        await self.stop_queued(key, "person forgotten")
        await self.deliveries.update_many(
            {"recipient": key}, {"$set": {"recipient": email_hash(key)}}
        )
