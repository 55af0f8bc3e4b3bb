"""Leases in the delivery log, against the real database and SMTP server: a sender renews a
lease too short for an attempt, skips a delivery whose lease ran out and another sender took,
and drops mail queued before its recipient withdrew consent."""

from __future__ import annotations

import asyncio
from typing import Any

from mapnet.dev.mailbox import MailStore
from mapnet.runtime.codec import make_envelope
from mapnet.runtime.mongo import Database
from services.notify.adapters.mail import SmtpPool
from services.notify.adapters.repository import NotifyStore
from services.notify.adapters.webhooks import WebhookPoster
from services.notify.service_layer.dispatcher import Dispatcher
from tests.helpers import eventually

# nx-27017 compares ISO timestamps to the second, so a lease has surely run out only once the
# second it ran out in is over (MongoDB compares the strings exactly).
RUN_OUT_S = 1.2


def mail(n: int) -> dict[str, Any]:
    message = f"Message-ID: <lease-{n}@mapnet.eu>\r\nSubject: lease {n}\r\n\r\nHello {n}\r\n"
    return {"_id": f"d{n}", "event_id": f"e{n}", "channel": "email", "kind": "weekly_digest",
            "recipient": f"p{n}@example.ee", "message": message,
            "correlationid": f"e{n}"}  # fmt: skip


async def test_a_lease_that_ran_out_belongs_to_whoever_took_it(
    db: Database,
) -> None:
    store = NotifyStore(db)
    [doc] = await store.enqueue_many([mail(1)], "first", lease_s=0.1)
    [taken] = await eventually(
        lambda: store.claim("second", lease_s=30, most=5), until=bool, timeout_s=5 * RUN_OUT_S
    )
    assert taken["_id"] == "d1"
    assert not await store.renew(doc, lease_s=30)  # the first sender must not send it
    assert await store.renew(taken, lease_s=60)


async def test_a_sender_renews_a_short_lease_and_skips_a_taken_delivery(
    db: Database, mailbox: tuple[MailStore, int]
) -> None:
    received, port = mailbox
    store = NotifyStore(db)
    written: list[str] = []
    dispatcher = make_dispatcher(store, port, written)
    [lost] = await store.enqueue_many([mail(3)], dispatcher.owner, lease_s=0.1)
    [taken] = await eventually(
        lambda: store.claim("another instance", lease_s=60, most=5),
        until=bool,
        timeout_s=5 * RUN_OUT_S,
    )
    assert taken["_id"] == "d3"
    # Too short for an attempt (1 s and the slack for the record): renewed before sending.
    short = await store.enqueue_many([mail(1), mail(2)], dispatcher.owner, lease_s=0.5)
    short_until = {doc["_id"]: doc["lease_until"] for doc in short}
    dispatcher.start()
    try:
        for doc in [*short, lost]:
            dispatcher._hand(doc)
        await eventually(lambda: _count(received), until=lambda n: n >= 2)
        # Until the senders are done with d3 too: had they sent it, the server would have it.
        await eventually(lambda: _in_hand(dispatcher), until=lambda held: not held)
    finally:
        await dispatcher.stop()
    ids = sorted(m.decode().split("Subject: ")[1].split("\r\n")[0] for m in received.received)
    assert ids == ["lease 1", "lease 2"]
    assert sorted(written) == ["d1", "d2"]
    stored = {d["_id"]: d async for d in store.deliveries.find({})}
    assert all(stored[i]["lease_until"] > until for i, until in short_until.items())  # renewed
    states = {i: (d["status"], d["owner"]) for i, d in stored.items()}
    assert states == {"d1": ("sent", dispatcher.owner), "d2": ("sent", dispatcher.owner),
                      "d3": ("sending", "another instance")}  # fmt: skip


async def test_mail_queued_before_a_withdrawal_is_not_sent(
    db: Database, mailbox: tuple[MailStore, int]
) -> None:
    received, port = mailbox
    store = NotifyStore(db)
    dispatcher = make_dispatcher(store, port, [])
    queued = await store.enqueue_many([mail(1), mail(2)], dispatcher.owner, lease_s=60)
    for doc in queued:
        dispatcher._hand(doc)  # in the senders' queue, not yet sent
    await asyncio.sleep(0.01)  # a withdrawal comes later than the queueing
    dispatcher.withdraw("p1@example.ee")
    dispatcher.start()
    try:
        await eventually(lambda: _count(received), until=lambda n: n >= 1)
        # Until the senders are done with the mail to p1: had they sent it, the server has it.
        await eventually(lambda: _in_hand(dispatcher), until=lambda held: not held)
    finally:
        await dispatcher.stop()
    assert [m.split(b"Subject: ")[1][:7] for m in received.received] == [b"lease 2"]


def make_dispatcher(store: NotifyStore, port: int, written: list[str]) -> Dispatcher:
    return Dispatcher(
        store, SmtpPool(f"smtp://127.0.0.1:{port}", 2), WebhookPoster(1.0),
        region="leases", sender="noreply@mapnet.eu", workers=2, give_up_s=60,
        retry_base_s=0.1, attempt_timeout_s=1.0, log=_Log(),
        envelope=lambda op, data, **kw: make_envelope(op, data, region="leases",
                                                      source="mapnet/leases/notify", **kw),
        written=lambda coll, ident, events: written.append(ident),
    )  # fmt: skip


async def _count(store: MailStore) -> int:
    return len(store.received)


async def _in_hand(dispatcher: Dispatcher) -> set[str]:
    """The deliveries its senders have queued or are sending: one leaves once it was sent (the
    mail server has it), recorded, skipped or dropped."""
    return set(dispatcher._in_hand)


class _Log:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None
