"""A service's audit trail: an append-only collection of what it accepted and refused, and who
asked. Entries that arrive together are written together (group_insert): under load a command
adds a share of one insert and of one update, not writes of its own.

No change without a trace: a command's entry is written before its handler runs (outcome
``pending``), and only once it is stored does the handler run; if it cannot be written the
command is answered ``internal`` and nothing is changed. The outcome is written after the
handler (an accepted one while the answer goes out: the second write is what the trail costs a
command, and nobody need wait for it); should that write fail, or the process die before it,
the entry stays ``pending`` (the command was received and may have been carried out) and a
failure is logged. Requests refused before any handler ran
changed nothing: their entry is written once, and one that cannot be written is logged.

Each entry keeps who the request says acted (``actor``) and, apart from it, what the NATS
server vouched for about the connection it came on (``connection``: the partner user the
server stamped), so that a trail never rests on what a request says of itself alone.

Erasure keeps that an erasure happened (its own entry) and removes who acted for the erased
SME (or for one erased contact of it) from every entry: the contact persons' identities are
personal data. Only entries of contacts acting for that SME change, never staff's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bson.errors import BSONError
from pymongo import ASCENDING, DESCENDING, DeleteOne, UpdateOne
from pymongo.errors import PyMongoError

from contracts.audit import AuditEntry, AuditPage, ListAudit
from contracts.envelope import Envelope, new_id, utcnow
from contracts.registry import email_digest

from .group_insert import GroupInsert, GroupWrite
from .mongo import Collection
from .paging import keyset_page
from .unit_of_work import RecordOutcome

COLLECTION = "audit"
ERASED = "(erased)"


class AuditLog:
    def __init__(self, collection: Collection, service: str, log: Any) -> None:
        self.entries = collection
        self.service = service
        self.log = log
        self._inserts = GroupInsert(collection)
        self._settles = GroupWrite(collection)
        self._settling: set[asyncio.Task[None]] = set()

    async def create_indexes(self) -> None:
        await self.entries.create_index([("record_id", ASCENDING)], name="record_id")
        await self.entries.create_index([("actor.id", ASCENDING)], name="actor_id")
        await self.entries.create_index([("at", DESCENDING)], name="at")

    def _entry(
        self, operation: str, msg: Envelope[Any], record_id: str | None, outcome: str,
        reason: str, connection: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        return {
            "_id": new_id(),
            "at": utcnow().isoformat(),
            "service": self.service,
            "operation": operation,
            "actor": msg.actor.model_dump(mode="json") if msg.actor else None,
            "connection": connection,
            "record_id": record_id,
            "outcome": outcome,
            "reason": reason[:500],
            "correlationid": msg.correlationid,
            "command_id": msg.id,
        }

    async def record(
        self, operation: str, msg: Envelope[Any], record_id: str | None, outcome: str,
        reason: str, connection: str | None = None,
    ) -> None:  # fmt: skip
        """An entry of a request refused before anything changed: logged if not written."""
        entry = self._entry(operation, msg, record_id, outcome, reason, connection)
        try:
            await self._inserts.insert(entry)
        except (PyMongoError, BSONError) as exc:
            self.log.error("audit_not_written", operation=operation, error=str(exc))

    async def record_each(
        self, operation: str, msg: Envelope[Any], outcomes: Iterable[RecordOutcome],
        connection: str | None = None,
    ) -> None:  # fmt: skip
        """An entry for each record a batch command touched (one write for them all), with the
        batch's id as command_id: the trail of a batch names each record as its own commands'
        would. Logged if not written: the batch's own entry, written before it ran, stays."""
        entries = [
            self._entry(operation, msg, record_id, outcome, reason, connection)
            for record_id, outcome, reason in outcomes
        ]
        try:
            await self.entries.insert_many(entries, ordered=False)
        except (PyMongoError, BSONError) as exc:
            self.log.error("audit_not_written", operation=operation, error=str(exc),
                           records=len(entries))  # fmt: skip

    async def intend(
        self, operation: str, msg: Envelope[Any], record_id: str | None,
        connection: str | None = None,
    ) -> str:  # fmt: skip
        """Before a command's handler runs: its entry, outcome pending. Raises if it cannot be
        stored, and then the handler must not run."""
        entry = self._entry(operation, msg, record_id, "pending", "", connection)
        await self._inserts.insert(entry)
        return str(entry["_id"])

    async def settle(
        self, entry_id: str, outcome: str, reason: str = "", record_id: str | None = None
    ) -> None:
        """The outcome of a command whose entry ``intend`` wrote. Not written: the entry stays
        pending, which says the command came and may have been carried out."""
        fields: dict[str, Any] = {"outcome": outcome, "reason": reason[:500]}
        if record_id is not None:
            fields["record_id"] = record_id
        try:
            await self._settles.write(UpdateOne({"_id": entry_id}, {"$set": fields}))
        except (PyMongoError, BSONError) as exc:
            self.log.error("audit_outcome_not_written", entry=entry_id, error=str(exc))

    def settle_soon(
        self, entry_id: str, outcome: str, reason: str = "", record_id: str | None = None
    ) -> None:
        """``settle``, written while the answer goes out: a command that was carried out is not
        kept waiting for its outcome's write (the entry, written before, already says it
        came). ``drain`` waits for what is still being written, on a graceful stop."""
        task = asyncio.create_task(self.settle(entry_id, outcome, reason, record_id))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def drain(self) -> None:
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    async def withdraw(self, entry_id: str) -> None:
        """A command refused as bad input changed nothing and says nothing of who may do what:
        its entry goes."""
        try:
            await self._settles.write(DeleteOne({"_id": entry_id}))
        except (PyMongoError, BSONError) as exc:
            self.log.error("audit_entry_not_withdrawn", entry=entry_id, error=str(exc))

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

    async def forget_contacts_of(
        self, sme_id: str, email_sha256: str | None = None, *, region: str | None = None
    ) -> None:
        """Who acted for an erased SME is personal data: gone from every entry of a contact
        acting for it (role sme; of ``region``, if given), or, with ``email_sha256``, of the
        one erased contact whose address (their actor id) has that digest. Staff who acted on
        the SME stay named."""
        theirs = {"actor.role": "sme", "actor.sme_id": sme_id}
        if region is not None:
            theirs["actor.region"] = region
        if email_sha256 is None:
            await self.entries.update_many(theirs, {"$set": {"actor.id": ERASED}})
            return
        ids = {doc["actor"]["id"] async for doc in self.entries.find(theirs, {"actor": 1})}
        erased = [i for i in ids if i != ERASED and email_digest(i) == email_sha256]
        if erased:
            await self.entries.update_many(
                {**theirs, "actor.id": {"$in": erased}}, {"$set": {"actor.id": ERASED}}
            )
