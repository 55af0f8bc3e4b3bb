"""Transactional outbox: a record and the events its change caused are stored in one document
write; a relay publishes pending events to JetStream with ``Nats-Msg-Id`` = event id and only
then marks them sent, so a crash in between re-publishes and JetStream drops the duplicate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from motor.motor_asyncio import AsyncIOMotorCollection
from nats.js import JetStreamContext

from contracts.envelope import Envelope

from . import logs
from .codec import encode
from .mongo import PENDING_OUTBOX


def outbox_fields(envelopes: Sequence[Envelope[Any]], first_seq: int) -> dict[str, Any]:
    """``$set`` fields that add events to a record's outbox (see mongo.py for why not $push)."""
    return {
        f"outbox.{env.id}": {
            "seq": first_seq + i,
            "subject": _subject(env),
            "payload": encode(env).decode(),
        }
        for i, env in enumerate(envelopes)
    }


def new_record(state: dict[str, Any], envelopes: Sequence[Envelope[Any]]) -> dict[str, Any]:
    """A record to insert, carrying its first events."""
    record = dict(state)
    record["outbox"] = {
        key.removeprefix("outbox."): entry for key, entry in outbox_fields(envelopes, 0).items()
    }
    record["outbox_pending"] = len(envelopes)
    return record


def change(
    set_fields: dict[str, Any], envelopes: Sequence[Envelope[Any]], seq: int
) -> dict[str, Any]:
    """An update that changes a record and queues its events in the same write."""
    update: dict[str, Any] = {"$set": {**set_fields, **outbox_fields(envelopes, seq)}}
    if envelopes:
        update["$inc"] = {"outbox_pending": len(envelopes)}
    return update


def _subject(env: Envelope[Any]) -> str:
    # type eu.mapnet.<service>.<name>.v1 -> mapnet.<region>.<service>.event.<name>
    _, _, service, name, _ = env.type.split(".")
    return f"mapnet.{env.region}.{service}.event.{name}"


class OutboxRelay:
    """Publishes what the watched collections have pending; woken after each write, and also
    polling, so events left behind by a crashed process go out after restart."""

    def __init__(
        self,
        js: JetStreamContext,
        collections: Iterable[AsyncIOMotorCollection[Any]],
        *,
        poll_s: float = 1.0,
        log: Any = None,
    ) -> None:
        self._js = js
        self._collections = list(collections)
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._log = log or logs.get(component="outbox")
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Whatever the last handlers wrote goes out before the process ends.
        try:
            await self.flush()
        except Exception as exc:  # the next start publishes it
            self._log.warning("outbox_flush_on_stop_failed", error=str(exc))

    async def _run(self) -> None:
        while True:
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or Mongo away: keep the events, try again later
                self._log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()

    async def flush(self) -> int:
        sent = 0
        for coll in self._collections:
            async for record in coll.find(PENDING_OUTBOX):
                sent += await self._publish_record(coll, record)
        return sent

    async def _publish_record(
        self, coll: AsyncIOMotorCollection[Any], record: dict[str, Any]
    ) -> int:
        entries = sorted((record.get("outbox") or {}).items(), key=lambda kv: kv[1]["seq"])
        for event_id, entry in entries:
            await self._js.publish(
                entry["subject"], entry["payload"].encode(), headers={"Nats-Msg-Id": event_id}
            )
            await self.mark_sent(coll, record["_id"], event_id)
            self.published += 1
        return len(entries)

    @staticmethod
    async def mark_sent(coll: AsyncIOMotorCollection[Any], record_id: Any, event_id: str) -> None:
        # The $exists guard keeps the counter right when two relays race on one event.
        await coll.update_one(
            {"_id": record_id, f"outbox.{event_id}": {"$exists": True}},
            {"$unset": {f"outbox.{event_id}": ""}, "$inc": {"outbox_pending": -1}},
        )
