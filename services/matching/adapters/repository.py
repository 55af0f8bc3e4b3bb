"""MongoDB repositories of meetings and schedules: state and outbox in one document each."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from contracts import matching as c
from contracts.common import SmeRef
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime import outbox
from mapnet.runtime.mongo import Database

from ..domain.meetings import ACTIVE, Meeting, key, pair_key

MEETINGS = "meetings"
SCHEDULES = "schedules"


def _state(m: Meeting) -> dict[str, Any]:
    return {
        "event_id": m.event_id,
        "region": m.region,
        "requester": m.requester.model_dump(),
        "receiver": m.receiver.model_dump(),
        "requester_key": key(m.requester),
        "priority": m.priority,
        "remote": m.remote,
        "message": m.message,
        "status": m.status,
        "mutual": m.mutual,
        "locked": m.locked,
        "lock_slot": m.lock_slot,
        "lock_table": m.lock_table,
        "outcome": m.outcome,
        "reports": [r.model_dump(mode="json") for r in m.reports],
        "version": m.version,
        # One active meeting per pair and event; declined and cancelled ones leave the index.
        "pair_key": pair_key(m.event_id, m.requester, m.receiver) if m.status in ACTIVE else None,
    }


def meeting_from_doc(doc: dict[str, Any]) -> Meeting:
    return Meeting(
        meeting_id=doc["_id"],
        event_id=doc["event_id"],
        region=doc["region"],
        requester=SmeRef.model_validate(doc["requester"]),
        receiver=SmeRef.model_validate(doc["receiver"]),
        priority=doc["priority"],
        remote=doc["remote"],
        message=doc.get("message", ""),
        status=doc["status"],
        mutual=doc.get("mutual", False),
        locked=doc.get("locked", False),
        lock_slot=doc.get("lock_slot"),
        lock_table=doc.get("lock_table"),
        outcome=doc.get("outcome"),
        reports=[c.OutcomeReport.model_validate(r) for r in doc.get("reports", [])],
        version=doc["version"],
    )


class MeetingRepository:
    def __init__(self, db: Database) -> None:
        self.meetings = db[MEETINGS]
        self.schedules = db[SCHEDULES]
        self.secrets = db["secrets"]

    async def room_secret(self) -> str:
        """The key of this region's meeting rooms, made once on first start and kept in
        matching's database: every matching instance (and each start) names a room alike."""
        with contextlib.suppress(DuplicateKeyError):
            await self.secrets.insert_one({"_id": "rooms", "value": secrets.token_urlsafe(32)})
        doc = await self.secrets.find_one({"_id": "rooms"})
        assert doc is not None
        return str(doc["value"])

    async def create_indexes(self) -> None:
        await self.meetings.create_index(
            [("pair_key", ASCENDING)],
            unique=True,
            name="pair_key",
            partialFilterExpression={"pair_key": {"$type": "string"}},
        )
        await self.meetings.create_index([("event_id", ASCENDING)], name="event_id")
        await self.meetings.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
        await self.schedules.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")

    async def get(self, meeting_id: str) -> Meeting | None:
        doc = await self.meetings.find_one({"_id": meeting_id})
        return meeting_from_doc(doc) if doc else None

    async def require(self, meeting_id: str) -> Meeting:
        meeting = await self.get(meeting_id)
        if meeting is None:
            raise not_found("meeting", meeting_id)
        return meeting

    async def between(self, event_id: str, a: SmeRef, b: SmeRef) -> Meeting | None:
        doc = await self.meetings.find_one({"pair_key": pair_key(event_id, a, b)})
        return meeting_from_doc(doc) if doc else None

    async def forget_messages_of(self, sme: SmeRef) -> list[str]:
        """An erased SME's requests keep their place, not what its people wrote in them."""
        found = self.meetings.find({"requester_key": key(sme)}, {"_id": 1, "message": 1})
        ids = [doc["_id"] async for doc in found if doc.get("message")]
        for meeting_id in ids:
            await self.meetings.update_one({"_id": meeting_id}, {"$set": {"message": ""}})
        return ids

    async def sent_by(self, event_id: str, requester: SmeRef) -> int:
        return await self.meetings.count_documents(
            {
                "event_id": event_id,
                "requester_key": key(requester),
                "status": {"$in": list(ACTIVE)},
            }
        )

    async def of_event(self, event_id: str, status: str | None = None) -> list[Meeting]:
        query: dict[str, Any] = {"event_id": event_id}
        if status:
            query["status"] = status
        return [meeting_from_doc(d) async for d in self.meetings.find(query)]

    async def listed(
        self, event_id: str, participant: SmeRef | None, status: str | None, skip: int, limit: int
    ) -> list[Meeting]:
        """A page of an event's meetings (of one participant, in one status), oldest id first."""
        query: dict[str, Any] = {"event_id": event_id}
        if participant is not None:
            receiver = {"receiver.sme_id": participant.sme_id,
                        "receiver.region": participant.region}  # fmt: skip
            query["$or"] = [{"requester_key": key(participant)}, receiver]
        if status:
            query["status"] = status
        found = self.meetings.find(query).sort("_id", ASCENDING).skip(skip).limit(limit)
        return [meeting_from_doc(d) async for d in found]

    async def all(self) -> list[Meeting]:
        return [meeting_from_doc(d) async for d in self.meetings.find({})]

    async def add(self, m: Meeting, events: Sequence[Envelope[Any]]) -> None:
        try:
            await self.meetings.insert_one(
                outbox.new_record({"_id": m.meeting_id, **_state(m)}, events)
            )
        except DuplicateKeyError as exc:
            existing = await self.between(m.event_id, m.requester, m.receiver)
            if existing and existing.meeting_id == m.meeting_id:
                return  # the same command again
            raise Refused(
                "duplicate",
                "a meeting between these participants already exists",
                existing_meeting_id=existing.meeting_id if existing else None,
            ) from exc

    async def save(self, m: Meeting, expected: int, events: Sequence[Envelope[Any]]) -> None:
        await outbox.save_versioned(
            self.meetings, m.meeting_id, _state(m), events,
            expected=expected, what=f"meeting {m.meeting_id}",
        )  # fmt: skip

    # --- schedules ---------------------------------------------------------------------------

    async def schedule(self, event_id: str) -> dict[str, Any] | None:
        return await self.schedules.find_one({"_id": event_id})

    async def save_schedule(
        self, event_id: str, state: dict[str, Any], expected: int, events: Sequence[Envelope[Any]]
    ) -> None:
        await outbox.save_versioned(
            self.schedules, event_id, state, events,
            expected=expected or None, what=f"the schedule of event {event_id}",
        )  # fmt: skip
