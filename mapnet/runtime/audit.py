"""A service's audit trail: an append-only collection of what it accepted and refused, and who
asked. Entries that arrive together are written together (group_insert): under load a command
adds a share of one insert, not one insert of its own. A command is answered once its entry is
written; an entry that cannot be written is logged as an error and the answer still goes out,
since the change it records is already stored.

Erasure keeps that an erasure happened (its own entry) and removes who acted for the erased
SME from every entry (the contact persons' identities are personal data)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson.errors import BSONError
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import PyMongoError

from contracts.audit import AuditEntry, AuditPage, ListAudit
from contracts.envelope import Envelope, new_id, utcnow

from .group_insert import GroupInsert
from .mongo import Collection
from .paging import keyset_page

COLLECTION = "audit"
ERASED = "(erased)"


class AuditLog:
    def __init__(self, collection: Collection, service: str, log: Any) -> None:
        self.entries = collection
        self.service = service
        self.log = log
        self._inserts = GroupInsert(collection)

    async def create_indexes(self) -> None:
        await self.entries.create_index([("record_id", ASCENDING)], name="record_id")
        await self.entries.create_index([("actor.id", ASCENDING)], name="actor_id")
        await self.entries.create_index([("at", DESCENDING)], name="at")

    async def record(
        self, operation: str, msg: Envelope[Any], record_id: str | None, outcome: str, reason: str
    ) -> None:
        entry = {
            "_id": new_id(),
            "at": utcnow().isoformat(),
            "service": self.service,
            "operation": operation,
            "actor": msg.actor.model_dump(mode="json") if msg.actor else None,
            "record_id": record_id,
            "outcome": outcome,
            "reason": reason[:500],
            "correlationid": msg.correlationid,
            "command_id": msg.id,
        }
        try:
            await self._inserts.insert(entry)
        except (PyMongoError, BSONError) as exc:
            self.log.error("audit_not_written", operation=operation, error=str(exc))

    async def page(self, q: ListAudit) -> AuditPage:
        clauses: list[dict[str, Any]] = []
        if q.record_id:
            clauses.append({"record_id": q.record_id})
        if q.actor_id:
            clauses.append({"actor.id": q.actor_id})
        if q.period_from:
            clauses.append({"at": {"$gte": q.period_from.isoformat()}})
        if q.period_to:
            clauses.append({"at": {"$lt": q.period_to.isoformat()}})
        docs, cursor = await keyset_page(self.entries, clauses, "-at", q.limit, q.cursor)
        items = [
            AuditEntry.model_validate(
                {k: v for k, v in doc.items() if k != "_id"}
                | {"at": datetime.fromisoformat(doc["at"])}
            )
            for doc in docs
        ]
        return AuditPage(items=items, next_cursor=cursor)

    async def forget_contacts_of(self, sme_id: str) -> None:
        """Who acted for an erased SME is personal data: gone from every entry."""
        await self.entries.update_many({"actor.sme_id": sme_id}, {"$set": {"actor.id": ERASED}})
