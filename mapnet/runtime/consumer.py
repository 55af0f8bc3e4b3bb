"""Durable, idempotent JetStream consumers that dead-letter what keeps failing.

Messages are pulled in batches so that the idempotency log costs two database round trips per
batch rather than per message; within a batch they are handled one by one, in stream order, or
all at once by a batch handler. A batch that fails is handled again one message at a time, so
that only a message that fails by itself is retried and, in the end, dead-lettered.

While a batch is worked through, its messages not yet acknowledged are told to the server as
in progress every third of the ack wait: a big batch under load (64 messages, each waiting on a
busy database) took longer than the 30 s ack wait, and the server delivered its last messages
again while they were still being handled (121 copies met twice in bench/network.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import BaseModel, ValidationError

from contracts.envelope import Envelope, utcnow
from contracts.operations import Operation
from contracts.subjects import dlq_subject
from mapnet.runtime import logs, tracing
from mapnet.runtime.codec import decode, explain_invalid
from mapnet.runtime.mongo import Collection, insert_new

In = TypeVar("In", bound=BaseModel)
# The subject a dead letter first came on: a replay is checked against it.
DLQ_SUBJECT_HEADER = "Mapnet-Dlq-Subject"
EventHandler = Callable[[Envelope[In]], Awaitable[None]]
BatchHandler = Callable[[list[Envelope[In]]], Awaitable[None]]


def record_region(data: Any) -> str | None:
    """The region a shared record says it belongs to: its ``region``, or its SME's."""
    if isinstance(region := getattr(data, "region", None), str):
        return region
    sme = getattr(data, "sme", None)
    return region if isinstance(region := getattr(sme, "region", None), str) else None


def foreign_claim(op: Operation[Any, Any], subject: str, env: Envelope[Any]) -> str | None:
    """Why an event speaks for a region other than the one that published it, or None.

    A region's server delivers only its own subjects to the others (the link keeper's sources
    filter ``mapnet.<origin>.>``), so the subject's region is the origin's. An envelope naming
    another region, or a shared record naming another region than its envelope, is another
    region's operator writing for someone else (a forged snapshot, an article of a market it is
    not home for): never applied, dead-lettered for the operator to see."""
    parts = subject.split(".")
    subject_region = parts[1] if len(parts) > 1 and parts[0] == "mapnet" else None
    if subject_region is not None and env.region != subject_region:
        return f"the envelope's region {env.region!r} is not the subject's {subject_region!r}"
    if op.network and (said := record_region(env.data)) is not None and said != env.region:
        return f"the record's region {said!r} is not its publisher's {env.region!r}"
    return None


class EventConsumer(Generic[In]):
    def __init__(
        self,
        *,
        op: Operation[In, Any],
        durable: str,
        handler: EventHandler[In],
        processed: Collection,
        region: str,
        service: str,
        max_deliveries: int,
        js: Callable[[], JetStreamContext | None],
        batch_handler: BatchHandler[In] | None = None,
        ack_wait_s: float = 30.0,
        idempotent: bool = False,
    ) -> None:
        self.batch_handler = batch_handler
        self.op = op
        self.durable = durable
        self.handler = handler
        self.processed = processed
        self.region = region
        self.service = service
        self.max_deliveries = max_deliveries
        self._js = js
        self.ack_wait_s = ack_wait_s
        self.idempotent = idempotent
        self.log = logs.get(region=region, service=service, consumer=durable)

    async def deliver(self, batch: list[Msg]) -> None:
        """Handle a pulled batch, its messages kept in progress on the server meanwhile."""
        working = asyncio.create_task(self._in_progress(batch))
        try:
            await self._deliver(batch)
        finally:
            working.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await working

    async def _in_progress(self, batch: list[Msg]) -> None:
        """Every third of the ack wait, each message of the batch not yet acknowledged (or
        nak'd, or dead-lettered) is told to the server as still being worked on, which restarts
        its ack wait: no redelivery while this consumer handles it."""
        while True:
            await asyncio.sleep(self.ack_wait_s / 3)
            for msg in batch:
                if not msg.is_acked:
                    with contextlib.suppress(Exception):  # a lost connection: redelivered
                        await msg.in_progress()

    async def _deliver(self, batch: list[Msg]) -> None:
        decoded: list[tuple[Msg, Envelope[In]]] = []
        for msg in batch:
            try:
                env = decode(self.op, msg.data)
            except ValidationError as exc:
                why = explain_invalid(msg.data, exc)
                await self.dead_letter(msg, f"{why.code}: {why.message}", why.details)
                continue
            if claimed := foreign_claim(self.op, msg.subject, env):
                await self.dead_letter(msg, f"forbidden: {claimed}", {"subject": msg.subject})
                continue
            decoded.append((msg, env))
        keys = [self._key(env) for _, env in decoded]
        # An idempotent handler is not kept from a second handling (which changes nothing):
        # the log's insert below still tells the events it had handled before.
        done: set[str] = set()
        if keys and not self.idempotent:
            done = {doc["_id"] async for doc in self.processed.find({"_id": {"$in": keys}})}
        handled: dict[str, Msg] = {}
        todo: list[tuple[Msg, Envelope[In]]] = []
        again: list[str] = []
        passed_over: list[Msg] = []
        for (msg, env), key in zip(decoded, keys, strict=True):
            if key in done:
                again.append(key)
                passed_over.append(msg)
            else:
                done.add(key)  # a second copy within this batch is acknowledged, not handled
                todo.append((msg, env))
        if todo and self.batch_handler is not None and await self._handle_batch(todo):
            handled = {self._key(env): msg for msg, env in todo}
            todo = []
        for msg, env in todo:
            if await self._handle(msg, env):
                handled[self._key(env)] = msg
        if handled:
            again += await self._remember(list(handled))
            for msg in handled.values():
                await msg.ack()
        if again:
            await self._count_again(again)
        for msg in passed_over:  # acknowledged once counted
            await msg.ack()

    async def replay(self, data: bytes, subject: str, network: bool) -> dict[str, str]:
        """A dead letter an operator sends back (`mapnet dlq replay`), after a fix: handled
        once, as a delivery would be. The answer says what became of it: ``handled``;
        ``already_handled`` (this consumer had handled that event: nothing is done twice);
        ``failed`` with the reason (it stays a dead letter). No retries here: the operator
        sees the reason at once. ``subject``: the one it first came on (its dead letter's
        ``Mapnet-Dlq-Subject``), which must be one this consumer reads."""
        parts = subject.split(".")
        ours = len(parts) == 5 and parts[0] == "mapnet" and parts[2:] == [
            self.op.service, self.op.kind, self.op.name
        ] and (network or parts[1] == self.region)  # fmt: skip
        if not ours:
            return {"outcome": "failed", "reason": f"{subject!r} is not read by {self.durable}"}
        try:
            env = decode(self.op, data)
        except ValidationError as exc:
            why = explain_invalid(data, exc)
            return {"outcome": "failed", "reason": f"{why.code}: {why.message}"}
        if claimed := foreign_claim(self.op, subject, env):
            return {"outcome": "failed", "reason": f"forbidden: {claimed}"}
        key = self._key(env)
        if await self.processed.find_one({"_id": key}, {"_id": 1}):
            await self._count_again([key])
            return {"outcome": "already_handled", "reason": ""}
        try:
            with logs.bound(region=self.region, service=self.service, consumer=self.durable,
                            correlation_id=env.correlationid, event_id=env.id):  # fmt: skip
                await self.handler(env)
        except Exception as exc:
            return {"outcome": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        if await self._remember([key]):
            return {"outcome": "already_handled", "reason": ""}
        self.log.info("dead_letter_replayed", event_id=env.id)
        return {"outcome": "handled", "reason": ""}

    async def _handle_batch(self, todo: list[tuple[Msg, Envelope[In]]]) -> bool:
        assert self.batch_handler is not None
        try:
            await self.batch_handler([env for _, env in todo])
        except Exception as exc:
            self.log.warning("batch_failed", size=len(todo), reason=f"{type(exc).__name__}: {exc}")
            return False
        return True

    def _key(self, env: Envelope[In]) -> str:
        return f"{self.durable}:{env.id}"

    async def _handle(self, msg: Msg, env: Envelope[In]) -> bool:
        deliveries = msg.metadata.num_delivered
        with logs.bound(
            region=self.region,
            service=self.service,
            correlation_id=env.correlationid,
            consumer=self.durable,
            event_id=env.id,
        ):
            # The trace of the command that caused the event (the relay's header, else the
            # envelope's): a pulled batch has no one parent, each of its messages does.
            traceparent = (msg.headers or {}).get(tracing.TRACEPARENT) or getattr(
                env, "traceparent", None
            )
            try:
                with tracing.span_under(f"{self.durable} handles {msg.subject}", traceparent,
                                        **{"messaging.message.id": env.id}):  # fmt: skip
                    await self.handler(env)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if deliveries >= self.max_deliveries:
                    self.log.error("event_dead_lettered", deliveries=deliveries, reason=reason)
                    await self.dead_letter(msg, reason, {"deliveries": deliveries})
                else:
                    self.log.warning("event_failed", deliveries=deliveries, reason=reason)
                    await msg.nak(delay=min(0.2 * 2**deliveries, 10.0))
                return False
        return True

    async def _remember(self, keys: list[str]) -> list[str]:
        """Log these events as handled; those another copy of this consumer had handled too."""
        now = utcnow()
        new = await insert_new(self.processed, [{"_id": k, "at": now} for k in keys])
        # The others another copy of this consumer handled too: already remembered.
        return [key for n, key in enumerate(keys) if n not in new]

    async def _count_again(self, keys: list[str]) -> None:
        """Count, on each event's entry in the log (``seen_again``), the copies of an event
        this consumer met after its first: a redelivery or an event stored twice (passed
        over), or one another instance handled at the same time (handled twice). What was
        doubled on the way shows there; bench/federation.py reads it after a partition."""
        by_times: dict[int, list[str]] = {}
        for key, times in Counter(keys).items():
            by_times.setdefault(times, []).append(key)
        for times, same in by_times.items():
            await self.processed.update_many(
                {"_id": {"$in": same}}, {"$inc": {"seen_again": times}}
            )

    async def dead_letter(self, msg: Msg, reason: str, details: dict[str, Any]) -> None:
        js = self._js()
        assert js is not None, "dead letters need the JetStream connection"
        meta = msg.metadata
        headers = {
            "Mapnet-Dlq-Reason": reason[:1000],
            "Mapnet-Dlq-Consumer": self.durable,
            DLQ_SUBJECT_HEADER: msg.subject,
            "Mapnet-Dlq-Stream-Seq": str(meta.sequence.stream),
            "Mapnet-Dlq-Deliveries": str(meta.num_delivered),
            "Mapnet-Dlq-Details": json.dumps(details, default=str)[:2000],
            "Nats-Msg-Id": f"dlq:{self.durable}:{meta.sequence.stream}",
        }
        await js.publish(
            dlq_subject(self.region, self.service, self.durable), msg.data, headers=headers
        )
        await msg.ack()
