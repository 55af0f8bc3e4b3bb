"""Senders: a few workers per notify instance take due deliveries from the log (each under a
lease, so two instances never send the same one), send them, and record the outcome with its
notification_sent / notification_failed event. A failed attempt is retried with exponential
back-off and jitter until the delivery's give-up time; a slow endpoint occupies one worker for at
most its timeout and never the others."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import notify as c
from contracts.envelope import Envelope

from ..adapters.mail import SmtpPool, permanent
from ..adapters.repository import DELIVERIES, NotifyStore, delivery_view
from ..adapters.webhooks import WebhookFailed, WebhookPoster
from ..domain.rules import retry_delay

# A sender that crashed leaves its deliveries leased: another takes them once the lease runs
# out. Short enough to resume soon, long enough for the slowest attempt (a webhook timeout).
MIN_LEASE_S = 10.0


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
        self.lease_s = max(MIN_LEASE_S, 3 * attempt_timeout_s)
        self.store = store
        self.smtp = smtp
        self.webhooks = webhooks
        self.region = region
        self.sender = sender
        self.workers = workers
        self.give_up_s = give_up_s
        self.retry_base_s = retry_base_s
        self._envelope = envelope
        self._written = written
        self.log = log
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{id(self)}"
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(n)) for n in range(self.workers)]

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.smtp.close()
        await self.webhooks.close()

    async def _work(self, n: int) -> None:
        while True:
            try:
                doc = await self.store.claim(self.owner, self.lease_s)
            except Exception as exc:  # the database is away: wait, do not spin
                self.log.warning("delivery_claim_failed", error=str(exc))
                await asyncio.sleep(1)
                continue
            if doc is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                continue
            await self._attempt(doc)

    async def _attempt(self, doc: dict[str, Any]) -> None:
        try:
            if doc["channel"] == "email":
                await self.smtp.send(doc["message"], self.sender, [doc["recipient"]])
            else:
                subscription = await self.store.subscriptions.find_one(
                    {"_id": doc["recipient"], "active": True}
                )
                if subscription is None:
                    raise WebhookFailed("the subscription was cancelled", permanent=True)
                await self.webhooks.post(
                    subscription["url"], doc["body"].encode(), subscription["secret"],
                    doc["event_id"],
                )  # fmt: skip
        except Exception as exc:
            await self._failed(doc, exc)
            return
        await self._record(doc, "sent", "", c.NOTIFICATION_SENT)

    async def _failed(self, doc: dict[str, Any], exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        age = datetime.now(UTC) - datetime.fromisoformat(doc["created_at"])
        final = getattr(exc, "permanent", False) or permanent(exc)
        delay = retry_delay(doc.get("attempts", 0) + 1, self.retry_base_s)
        if final or age + timedelta(seconds=delay) > timedelta(seconds=self.give_up_s):
            self.log.warning("delivery_failed", delivery=doc["_id"], error=error)
            await self._record(doc, "failed", error, c.NOTIFICATION_FAILED)
            return
        self.log.info("delivery_retry", delivery=doc["_id"], error=error, in_s=round(delay, 2))
        next_at = datetime.now(UTC) + timedelta(seconds=delay)
        await self.store.finish(doc, "pending", error, None, next_at=next_at)

    async def _record(self, doc: dict[str, Any], status: str, error: str, op: Any) -> None:
        now = datetime.now(UTC).isoformat()
        outcome = {**doc, "status": status, "last_error": error, "updated_at": now,
                   "attempts": doc.get("attempts", 0) + 1}  # fmt: skip
        event = self._envelope(
            op,
            c.NotificationOutcome(delivery=delivery_view(outcome), region=self.region),
            correlationid=doc.get("correlationid") or doc["event_id"],
            subject=doc["_id"],
        )
        if await self.store.finish(doc, status, error, event):
            self._written(DELIVERIES, doc["_id"], [event])
