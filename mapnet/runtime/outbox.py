"""Transactional outbox: a record and the events its change caused are stored in one document
write; a relay publishes pending events to JetStream with ``Nats-Msg-Id`` = event id and only
then marks them sent, so a crash in between re-publishes and JetStream drops the duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Envelope
from contracts.errors import conflict
from mapnet.runtime import logs, tracing
from mapnet.runtime.codec import encode
from mapnet.runtime.mongo import PENDING_OUTBOX, Collection


def outbox_fields(envelopes: Sequence[Envelope[Any]], first_seq: int) -> dict[str, Any]:
    """``$set`` fields that add events to a record's outbox (see mongo.py for why not $push)."""
    return {
        f"outbox.{env.id}": {
            "seq": first_seq + i,
            "subject": _subject(env),
            "payload": encode(env).decode(),
            # The trace the event belongs to, for the relay's headers (tracing.py).
            **({"traceparent": tp} if (tp := getattr(env, "traceparent", None)) else {}),
        }
        for i, env in enumerate(envelopes)
    }


def take_events(
    record: Any, envelope: Callable[..., Envelope[Any]], *, subject: str, correlationid: str
) -> list[Envelope[Any]]:
    """The events a domain record recorded (``record.events``: operation, payload), as
    envelopes for its outbox; the record's list is emptied so none is queued twice."""
    events = [
        envelope(op, data, correlationid=correlationid, subject=subject)
        for op, data in record.events
    ]
    record.events.clear()
    return events


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


async def save_versioned(
    records: Collection,
    record_id: Any,
    state: dict[str, Any],
    events: Sequence[Envelope[Any]],
    *,
    expected: int | None,
    what: str,
    version_field: str = "version",
    expected_name: str = "expected_version",
    seq: int | None = None,
) -> None:
    """Store a record and its events in one write, with optimistic concurrency on its version.

    ``expected`` None inserts a new record; otherwise the record must still hold the version
    that was read (``expected``, which the command calls ``expected_name``), and ``state``
    replaces it. Either way a writer that got there first makes this a typed ``conflict``
    naming ``what`` (and, for a change, the version read), so the caller reads again; nothing
    the other writer stored is lost. The events' outbox sequence starts at ``seq`` (by
    default the new version times 100, so a record's later events sort after its earlier
    ones)."""
    if expected is None:
        try:
            await records.insert_one(new_record({"_id": record_id, **state}, events))
        except DuplicateKeyError as exc:
            raise conflict(f"{what} was written meanwhile: read it and send again") from exc
        return
    first_seq = seq if seq is not None else int(state[version_field]) * 100
    result = await records.update_one(
        {"_id": record_id, version_field: expected}, change(state, events, first_seq)
    )
    if result.matched_count == 0:
        raise conflict(
            f"{what} changed since {expected_name.removeprefix('expected_')} {expected}: "
            "read it and send again",
            **{expected_name: expected},
        )


def _subject(env: Envelope[Any]) -> str:
    # type eu.mapnet.<service>.<name>.v1 -> mapnet.<region>.<service>.event.<name>
    _, _, service, name, _ = env.type.split(".")
    return f"mapnet.{env.region}.{service}.event.{name}"


class OutboxRelay:
    """Publishes pending events. A writer names the record it just changed and the relay sends
    that record's outbox at once; a scan of the watched collections at start, half a second
    after a failed send (then twice as late while sends keep failing, up to five seconds), and
    otherwise every ``scan_every_s`` sends whatever a crashed process (or a failed send) left
    behind.

    The scan is rare while all goes well because it reads every record on nx-27017 (a range
    query is not answered from an index there): 0.7 s per 10,000 SMEs, during which the
    database serves nobody else. Everything this process writes is relayed when it is written;
    the scan is only for what another, crashed, instance of the service left, and that
    instance's own restart relays it at once."""

    def __init__(
        self,
        js: JetStreamContext,
        collections: Iterable[Collection],
        *,
        scan_every_s: float = 60.0,
        log: Any = None,
    ) -> None:
        self._js = js
        self._collections = {coll.name: coll for coll in collections}
        self._scan_every_s = scan_every_s
        # Records just written, with the events the writer queued (None: read them back).
        self._dirty: dict[tuple[str, Any], Sequence[Envelope[Any]] | None] = {}
        self._wake = asyncio.Event()
        self._log = log or logs.get(component="outbox")
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        # Records whose events are not known to be sent yet, each with the wall time of its
        # oldest unsent event's write (or when this relay heard of it): the backlog and its
        # age for /metrics, from what the relay holds anyway (nx-27017 would read every
        # record to find the oldest pending one). A failed send keeps them here until a later
        # one succeeds; what a crashed instance left counts from the scan that finds it.
        self._unsent: dict[tuple[str, Any], float] = {}

    @property
    def waiting(self) -> int:
        """Records written whose events are still to be sent (as far as this process knows)."""
        return len(self._unsent)

    def oldest_s(self, now: float | None = None) -> float:
        """How long the oldest event still to be sent has waited (0 with none waiting)."""
        if not self._unsent:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - min(self._unsent.values()))

    def wake(
        self, collection: str, record_id: Any, events: Sequence[Envelope[Any]] | None = None
    ) -> None:
        key = (collection, record_id)
        self._dirty[key] = None if key in self._dirty else events
        self._unsent.setdefault(key, time.time())
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
        loop = asyncio.get_running_loop()
        next_scan, failures = loop.time(), 0
        while True:
            try:
                # What was just written first: a scan that fails (one event that cannot go
                # out) must not keep the relay from sending what is written meanwhile.
                await self._send_dirty()
                if loop.time() >= next_scan:
                    await self.flush()
                    next_scan = loop.time() + self._scan_every_s
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or Mongo away: keep the events, try again later
                self._log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}")
                # What failed is still pending: a scan sends it half a second later, then
                # twice as late while sends keep failing, up to five seconds (not a tight
                # loop on an event that cannot go out; soon after a NATS server comes back).
                failures += 1
                next_scan = loop.time() + min(0.5 * 2 ** (failures - 1), 5.0)
            timeout = max(0.0, next_scan - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    async def _send_dirty(self) -> None:
        unmarked: dict[str, list[UpdateOne]] = defaultdict(list)
        while self._dirty:
            batch, self._dirty = self._dirty, {}
            jobs: dict[str, list[tuple[Any, list[Entry]]]] = defaultdict(list)
            for (name, record_id), events in batch.items():
                if events is None:
                    record = await self._collections[name].find_one({"_id": record_id})
                    entries = _entries(record) if record else []
                else:
                    # The writer's own events: no need to read the record back.
                    entries = [
                        (env.id, _subject(env), encode(env), getattr(env, "traceparent", None))
                        for env in events
                    ]
                jobs[name].append((record_id, entries))
            for name, records in jobs.items():
                unmarked[name] += await self._publish_all(name, records)
                if len(unmarked[name]) >= _MARKS_PER_WRITE:
                    await self._mark_sent(self._collections[name], unmarked.pop(name))
        # Marks wait for a full write while more keeps coming: every write costs the database
        # a round of its own, and a mark that waits only means a re-publish after a crash.
        for name, marks in unmarked.items():
            await self._mark_sent(self._collections[name], marks)

    async def flush(self) -> int:
        """Send everything pending in every watched collection."""
        sent = 0
        for coll in self._collections.values():
            records: list[tuple[Any, list[Entry]]] = []
            async for record in coll.find(PENDING_OUTBOX):
                entries = _entries(record)
                self._unsent.setdefault((coll.name, record["_id"]), _written_at(entries))
                records.append((record["_id"], entries))
                if len(records) >= _RECORDS_PER_WRITE:
                    marks = await self._publish_all(coll.name, records)
                    sent += await self._mark_sent(coll, marks)
                    records = []
            sent += await self._mark_sent(coll, await self._publish_all(coll.name, records))
        return sent

    async def _publish_all(
        self, name: str, records: list[tuple[Any, list[Entry]]]
    ) -> list[UpdateOne]:
        """Records side by side, each record's events in order. One at a time, every publish
        waited for its own disk write on the server (sync_interval always); side by side the
        server writes them together, at half the cost per event."""
        marks: list[UpdateOne] = []
        for start in range(0, len(records), _RECORDS_AT_ONCE):
            chunk = records[start : start + _RECORDS_AT_ONCE]
            results = await asyncio.gather(
                *(self._publish(record_id, entries) for record_id, entries in chunk),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    # Left pending: the next scan sends it again, and what already went
                    # out with it is dropped by JetStream as a duplicate.
                    raise result
                marks += result
            for record_id, _ in chunk:
                self._sent((name, record_id))
        return marks

    def _sent(self, key: tuple[str, Any]) -> None:
        if key in self._dirty:  # written again while its events went out: the new ones wait
            self._unsent[key] = time.time()
        else:
            self._unsent.pop(key, None)

    async def _publish(self, record_id: Any, entries: list[Entry]) -> list[UpdateOne]:
        """Publish in order; answer the updates that mark them sent (written in bulk later: a
        crash before that only re-publishes, and JetStream drops the duplicates)."""
        marks = []
        for event_id, subject, payload, traceparent in entries:
            headers = {"Nats-Msg-Id": event_id}
            with tracing.span_under(f"outbox publish {subject}", traceparent,
                                    **{"messaging.message.id": event_id}):  # fmt: skip
                # The consumers continue under this publish (the stored context, untraced).
                tracing.inject(headers)
                await self._js.publish(subject, payload, headers=headers)
            # The $exists guard keeps the counter right when two relays race on one event.
            marks.append(
                UpdateOne(
                    {"_id": record_id, f"outbox.{event_id}": {"$exists": True}},
                    {"$unset": {f"outbox.{event_id}": ""}, "$inc": {"outbox_pending": -1}},
                )
            )
        return marks

    async def _mark_sent(self, coll: Collection, marks: list[UpdateOne]) -> int:
        if not marks:
            return 0
        done = await coll.bulk_write(marks, ordered=False)
        # Only the events this relay marked: one sent twice (the scan and the writer's wake
        # both found it pending; JetStream kept it once) is counted once.
        marked = int(done.modified_count)
        self.published += marked
        return marked


Entry = tuple[str, str, bytes, str | None]  # event id, subject, payload, traceparent
_RECORDS_PER_WRITE = 500
_RECORDS_AT_ONCE = 256
_MARKS_PER_WRITE = 200


def _written_at(entries: list[Entry]) -> float:
    """When the first of a record's pending events was made (its envelope's time), for one
    that the scan found: the relay that wrote it may have crashed long ago."""
    try:
        return datetime.fromisoformat(json.loads(entries[0][2])["time"]).timestamp()
    except (IndexError, KeyError, TypeError, ValueError):
        return time.time()


def _entries(record: dict[str, Any]) -> list[Entry]:
    pending = sorted((record.get("outbox") or {}).items(), key=lambda kv: kv[1]["seq"])
    return [
        (eid, entry["subject"], entry["payload"].encode(), entry.get("traceparent"))
        for eid, entry in pending
    ]
