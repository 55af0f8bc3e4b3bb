"""Senders. Deliveries are queued leased to the notify instance whose handler queued them, and
go straight to its senders, which send them side by side, each recording its outcome with the
notification_sent / notification_failed event as soon as the server answers; outcomes that
arrive together share one write (group commit). The lease is what keeps two instances from
sending the same delivery: a sender sends only under a lease with time enough left for one
attempt, and renews it first if not. A delivery recorded as sent is never sent again.

The one thing plain SMTP cannot make exact: a crash after the server took a mail and before its
record is durable hands that mail over again after the restart, with the same Message-ID, which
the receiving mailbox keeps once (see test_once.py). When the senders have little to do, a
scanner takes from the log retries that fell due, leases that ran out (a crashed sender) and
other instances' leftovers.

A failed attempt is retried with exponential back-off and jitter until the give-up time; a slow
endpoint occupies one sender for at most the attempt time limit and never the others.

For /metrics the dispatcher counts what it does anyway: the deliveries in its hands, those its
last scan saw waiting for a retry, and failed attempts by channel and why."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from contracts import notify as c
from contracts import registry as rg
from contracts.envelope import Envelope

from ..adapters.mail import SmtpPool, permanent
from ..adapters.repository import DELIVERIES, NotifyStore, delivery_view, utc_key
from ..adapters.webhooks import WebhookFailed, WebhookPoster
from ..domain.rules import next_attempt_in

# Slack after an attempt for its outcome to be written while the lease still holds.
RECORD_SLACK_S = 2.0
# A sender that crashed leaves its deliveries leased: another takes them once the lease runs
# out. Short enough to resume soon, long enough that a queued delivery is rarely renewed.
MIN_LEASE_S = 10.0
# The scanner looks again no sooner than this after a look that took less than a full load.
SCAN_MIN_S = 1.0

Outcome = tuple[dict[str, Any], dict[str, Any], Envelope[Any] | None]

CHANNELS = ("email", "webhook")
# Why an attempt failed: it ran out of time, the other end refused for good (no retry), or
# anything else (a connection refused, a 4xx of SMTP, a 5xx of a webhook: retried).
FAILURE_REASONS = ("timeout", "refused", "error")


class Dispatcher:
    def __init__(
        self,
        store: NotifyStore,
        smtp: SmtpPool,
        webhooks: WebhookPoster,
        *,
        region: str,
        sender: str,
        workers: int,
        give_up_s: float,
        retry_base_s: float,
        envelope: Callable[..., Envelope[Any]],
        written: Callable[[str, str, list[Envelope[Any]]], None],
        log: Any,
        attempt_timeout_s: float = 5.0,
    ) -> None:
        self.attempt_timeout_s = attempt_timeout_s
        self.lease_s = max(MIN_LEASE_S, 2 * (attempt_timeout_s + RECORD_SLACK_S))
        self.store = store
        self.smtp = smtp
        self.webhooks = webhooks
        self.region = region
        # The envelope sender is the bare address (the From header has the name): parsing
        # "Name <address>" again for every mail was a noticeable part of sending it.
        self.sender = parseaddr(sender)[1] or sender
        self.workers = workers
        self.give_up_s = give_up_s
        self.retry_base_s = retry_base_s
        self._envelope = envelope
        self._written = written
        self.log = log
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{id(self)}"
        self._ready: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._in_hand: set[str] = set()  # ids queued or being sent here, so none goes twice
        # People who withdrew consent or were forgotten, and when: mail to them queued here
        # before that is dropped, though its lease would let it go.
        self._withdrawn: dict[str, str] = {}
        # Handlers queue more only while the backlog is short: what they queue is then sent
        # well within its lease, and events wait in their stream rather than in memory.
        self._backlog = 4 * workers
        self._room = asyncio.Event()
        self._room.set()
        # Set when a sender here schedules a retry: the scanner looks again (for its time).
        self._retry_scheduled = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._flushing = False
        self._flusher: asyncio.Task[None] | None = None
        # Failed attempts by (channel, reason), and deliveries given up by channel: /metrics.
        self.failures: Counter[tuple[str, str]] = Counter()
        self.given_up: Counter[str] = Counter()

    def queue_lengths(self) -> dict[tuple[str, ...], float]:
        """Deliveries queued or being sent here now, and those the last scan of the log saw
        waiting for a retry (it scans when the senders run out of work)."""
        return {("sending",): len(self._in_hand), ("retrying",): self.store.retries_waiting}

    def failure_counts(self) -> dict[tuple[str, ...], float]:
        return {(ch, why): self.failures[ch, why] for ch in CHANNELS for why in FAILURE_REASONS}

    def given_up_counts(self) -> dict[tuple[str, ...], float]:
        return {(channel,): self.given_up[channel] for channel in CHANNELS}

    async def started(self) -> None:
        """As a start hook of the runtime."""
        self.start()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._scan()),
            *(asyncio.create_task(self._send()) for _ in range(self.workers)),
        ]

    async def admit(self, docs: list[dict[str, Any]]) -> None:
        """Queue new deliveries in the log, leased to this instance, and hand them to its
        senders; deliveries queued before (a redelivered event) are left to their holder."""
        if not docs:
            return
        while self._ready.qsize() >= self._backlog:
            self._room.clear()
            await self._room.wait()
        for doc in await self.store.enqueue_many(docs, self.owner, self.lease_s):
            self._hand(doc)

    def withdraw(self, recipient: str) -> None:
        now = datetime.now(UTC)
        # Older entries are not needed: what was queued before them was sent or renewed by now,
        # and a renewal sees the record the withdrawal changed.
        horizon = utc_key(now - timedelta(seconds=2 * self.lease_s))
        self._withdrawn = {r: at for r, at in self._withdrawn.items() if at > horizon}
        self._withdrawn[recipient] = utc_key(now)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.smtp.close()
        await self.webhooks.close()

    # --- the pipeline ------------------------------------------------------------------------

    def _hand(self, doc: dict[str, Any]) -> None:
        if doc["_id"] not in self._in_hand:
            self._in_hand.add(doc["_id"])
            self._ready.put_nowait(doc)

    async def _scan(self) -> None:
        """Takes due deliveries from the log whenever the senders run out of work: at once
        after a full take (a backlog of retries after an outage), else when the first delivery
        the log holds falls due (a retry's time, a lease that runs out), when a sender here
        schedules a retry, and at the latest a lease after the last scan (another instance's
        deliveries queued since, whose sender crashed). It used to look every second: two reads
        of the log a second in every idle region (issue 33)."""
        while True:
            docs: list[dict[str, Any]] = []
            # Cleared before the claim, not after: a retry scheduled while the claim reads the
            # log may be too late for it, and must bring the next scan at once.
            self._retry_scheduled.clear()
            if self._ready.empty():
                try:
                    docs = await self.store.claim(self.owner, self.lease_s, most=self.workers)
                except Exception as exc:  # the database is away: wait, do not spin
                    self.log.warning("delivery_claim_failed", error=str(exc))
            for doc in docs:
                self._hand(doc)
            if len(docs) == self.workers:
                await asyncio.sleep(0.05)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retry_scheduled.wait(), self._until_next_scan())

    def _until_next_scan(self) -> float:
        """Until the first delivery the last scan left falls due, a lease at most; a second at
        least (nx-27017 compares the times to the second: one just due may not yet be taken,
        and the scanner would spin on it)."""
        wait_s = self.lease_s
        if self.store.next_due:
            due = datetime.fromisoformat(self.store.next_due) - datetime.now(UTC)
            wait_s = min(wait_s, due.total_seconds())
        return max(SCAN_MIN_S, wait_s)

    async def _send(self) -> None:
        while True:
            doc = await self._ready.get()
            if self._ready.qsize() < self._backlog:
                self._room.set()
            try:
                withdrawn = self._withdrawn.get(doc["recipient"])
                if withdrawn and doc["created_at"] <= withdrawn:
                    continue  # its record already says why it was not sent
                if await self._leased(doc):
                    await self._attempt(doc)
            except Exception as exc:  # not recorded: its lease runs out and it is tried again
                self.log.warning("delivery_record_failed", delivery=doc["_id"], error=str(exc))
            finally:
                self._in_hand.discard(doc["_id"])

    async def _leased(self, doc: dict[str, Any]) -> bool:
        """Whether this sender may make an attempt now: its lease leaves time for one, or it
        could be renewed (it cannot if it ran out and another sender took the delivery)."""
        left = datetime.fromisoformat(doc["lease_until"]) - datetime.now(UTC)
        if left > timedelta(seconds=self.attempt_timeout_s + RECORD_SLACK_S):
            return True
        return await self.store.renew(doc, self.lease_s)

    async def _store(self, outcome: Outcome) -> None:
        """Group commit: outcomes that arrive while a write is under way go together in the
        next one, so many senders cost few writes, and each returns once its own is durable."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((outcome, done))
        if not self._flushing:
            self._flushing = True
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self.store.finish_many([outcome for outcome, _ in batch])
                except Exception as exc:
                    for _, done in batch:
                        done.set_exception(exc)
                    continue
                for (doc, fields, event), done in batch:
                    if event is not None:
                        self._written(DELIVERIES, doc["_id"], [event])
                    if fields["status"] == "pending":  # a retry, now in the log with its time
                        self._retry_scheduled.set()
                    done.set_result(None)
        finally:
            self._flushing = False

    # --- one attempt ---------------------------------------------------------------------------

    async def _attempt(self, doc: dict[str, Any]) -> None:
        try:
            async with asyncio.timeout(self.attempt_timeout_s):
                await self._deliver(doc)
        except Exception as exc:
            await self._store(self._failed(doc, exc))
            return
        await self._store(self._outcome(doc, "sent", "", c.NOTIFICATION_SENT))

    async def _deliver(self, doc: dict[str, Any]) -> None:
        if doc["channel"] == "email":
            await self.smtp.send(doc["message"], self.sender, [doc["recipient"]])
            return
        subscription = await self.store.active_subscription(doc["recipient"])
        if subscription is None:
            raise WebhookFailed("the subscription was cancelled", permanent=True)
        await self.webhooks.post(
            subscription["url"], doc["body"].encode(), subscription["secret"], doc["event_id"]
        )

    def _failed(self, doc: dict[str, Any], exc: Exception) -> Outcome:
        error = f"{type(exc).__name__}: {exc}"[:500]
        age = datetime.now(UTC) - datetime.fromisoformat(doc["created_at"])
        refused = getattr(exc, "permanent", False) or permanent(exc)
        why = "timeout" if isinstance(exc, TimeoutError) else "refused" if refused else "error"
        self.failures[doc["channel"], why] += 1
        delay = next_attempt_in(
            doc.get("attempts", 0) + 1,
            age.total_seconds(),
            permanent=refused,
            base_s=self.retry_base_s,
            give_up_s=self.give_up_s,
        )
        if delay is None:
            self.given_up[doc["channel"]] += 1
            self.log.warning("delivery_failed", delivery=doc["_id"], error=error)
            return self._outcome(doc, "failed", error, c.NOTIFICATION_FAILED)
        self.log.info("delivery_retry", delivery=doc["_id"], error=error, in_s=round(delay, 2))
        doc, fields, _ = self._outcome(doc, "pending", error, None)
        fields["next_at"] = utc_key(datetime.now(UTC) + timedelta(seconds=delay))
        return doc, fields, None

    def _outcome(self, doc: dict[str, Any], status: str, error: str, op: Any) -> Outcome:
        now = datetime.now(UTC)
        fields: dict[str, Any] = {
            "status": status,
            "attempts": doc.get("attempts", 0) + 1,
            "last_error": error,
            "updated_at": utc_key(now),
        }
        if status in ("sent", "failed"):
            fields["message"] = None  # what was sent is not kept longer than needed to send it
        event = None
        if op is not None:
            view = delivery_view({**doc, **fields})
            if view.channel == "email":  # an address stays out of the streams: its digest
                view = view.model_copy(update={"recipient": rg.email_digest(view.recipient)})
            event = self._envelope(
                op,
                c.NotificationOutcome(delivery=view, region=self.region),
                correlationid=doc.get("correlationid") or doc["event_id"],
                subject=doc["_id"],
            )
        return doc, fields, event
