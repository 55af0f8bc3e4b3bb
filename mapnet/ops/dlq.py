"""Dead letters handled, not just kept: list them with reason and age, show one, send one or
all of a consumer back to it after a fix, or drop one with a note (`mapnet dlq …`).

A dead letter is a message in the region's ``<REGION>_DLQ`` stream, on
``mapnet.<region>.<service>.dlq.<consumer>``, with why in its ``Mapnet-Dlq-*`` headers. A replay
is a request to the consumer that gave it up (``mapnet.<region>.<service>.replay.<consumer>``,
which one instance of that service answers): the consumer handles it as a delivery, once (its
log of handled events says whether it had been), and answers what became of it. Only a
message handled (or found handled before) leaves the dead letters; one that fails again stays,
with the new reason shown. A dropped message is not deleted silently: it is kept in the same
stream on ``….dlq.<consumer>.dropped`` with the operator's note, out of the waiting list."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import NotFoundError

from contracts.subjects import dlq_stream, dropped_subject, replay_subject

REASON = "Mapnet-Dlq-Reason"
CONSUMER = "Mapnet-Dlq-Consumer"
SUBJECT = "Mapnet-Dlq-Subject"
NOTE = "Mapnet-Dlq-Note"
DROPPED_AT = "Mapnet-Dlq-Dropped-At"


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    service: str
    consumer: str
    subject: str  # the one it first came on
    reason: str
    at: datetime
    headers: dict[str, str]
    data: bytes
    dropped: bool = False  # among the dropped ones: kept with its note, never replayed

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.at).total_seconds()

    def summary(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "service": self.service,
            "consumer": self.consumer,
            "subject": self.subject,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "age_s": round(self.age_s(), 1),
        }

    def whole(self) -> dict[str, Any]:
        try:
            message: Any = json.loads(self.data)
        except ValueError:
            message = self.data.decode(errors="replace")
        return {**self.summary(), "headers": self.headers, "message": message}


@dataclass(frozen=True)
class Page:
    items: list[DeadLetter]
    next_after: int | None  # list again with --after this for the rest; None: that was all


# A service's or consumer's name as MAPnet makes them; anything else (a NATS wildcard such as
# ``>``, which would also match the dropped ones) is refused rather than put in a filter.
NAME = re.compile(r"[a-z0-9_]+")


class BadName(ValueError):
    pass


class AlreadyDropped(ValueError):
    pass


def _filter(region: str, service: str | None, consumer: str | None, dropped: bool) -> str:
    for given in (service, consumer):
        if given is not None and not NAME.fullmatch(given):
            raise BadName(f"{given!r} is not a service's or consumer's name (a-z, 0-9, _)")
    waiting = f"mapnet.{region}.{service or '*'}.dlq.{consumer or '*'}"
    return f"{waiting}.dropped" if dropped else waiting


def _letter(msg: Any) -> DeadLetter:
    headers = dict(msg.headers or {})
    service = msg.subject.split(".")[2]
    return DeadLetter(
        seq=int(msg.seq),
        service=service,
        consumer=headers.get(CONSUMER, msg.subject.split(".")[4]),
        subject=headers.get(SUBJECT, ""),
        reason=headers.get(REASON, ""),
        at=msg.time if msg.time is not None else datetime.now(UTC),
        headers=headers,
        data=msg.data or b"",
        dropped=msg.subject.endswith(".dropped"),
    )


async def page(
    nc: Client,
    region: str,
    *,
    service: str | None = None,
    consumer: str | None = None,
    after: int = 0,
    limit: int = 50,
    dropped: bool = False,
) -> Page:
    """The dead letters waiting (or, ``dropped``, those dropped) after stream sequence
    ``after``, oldest first, at most ``limit``; ``next_after`` when there are more."""
    jsm = nc.jsm()
    wanted = _filter(region, service, consumer, dropped)
    items: list[DeadLetter] = []
    seq = after + 1
    while True:
        try:
            msg = await jsm.get_msg(dlq_stream(region), seq=seq, subject=wanted, next=True)
        except NotFoundError:
            return Page(items, None)
        if len(items) == limit:
            return Page(items, items[-1].seq)
        letter = _letter(msg)
        items.append(letter)
        seq = letter.seq + 1


async def everything(nc: Client, region: str, **filters: Any) -> list[DeadLetter]:
    """Every dead letter waiting that matches, following the pages to the end."""
    letters: list[DeadLetter] = []
    after = 0
    while True:
        found = await page(nc, region, after=after, limit=500, **filters)
        letters += found.items
        if found.next_after is None:
            return letters
        after = found.next_after


async def one(nc: Client, region: str, seq: int) -> DeadLetter | None:
    try:
        msg = await nc.jsm().get_msg(dlq_stream(region), seq=seq)
    except NotFoundError:
        return None
    return _letter(msg)


async def replay(
    nc: Client, region: str, letter: DeadLetter, timeout_s: float = 30.0
) -> dict[str, str]:
    """Send the dead letter back to its consumer; it leaves the dead letters once handled. A
    dropped one is not sent (it was dropped on purpose: its record and note stay)."""
    if letter.dropped:
        return {"outcome": "failed", "reason": f"{letter.seq} was dropped; it is not replayed"}
    target = replay_subject(region, letter.service, letter.consumer)
    try:
        answer = await nc.request(
            target, letter.data, timeout=timeout_s, headers={SUBJECT: letter.subject}
        )
    except NoRespondersError:
        return {"outcome": "failed", "reason": f"no {letter.service} process answers {target}"}
    except NatsTimeout:
        return {"outcome": "failed", "reason": f"no answer from {target} in {timeout_s:g} s"}
    outcome: dict[str, str] = json.loads(answer.data)
    if outcome.get("outcome") in ("handled", "already_handled"):
        await nc.jsm().delete_msg(dlq_stream(region), letter.seq)
    return outcome


async def drop(nc: Client, region: str, letter: DeadLetter, note: str) -> None:
    """Keep the dead letter among the dropped ones with the note, then take it off the list."""
    if letter.dropped:
        raise AlreadyDropped(f"{letter.seq} was dropped already ({letter.headers.get(NOTE, '')})")
    headers = {**letter.headers, NOTE: note[:1000], DROPPED_AT: datetime.now(UTC).isoformat()}
    headers.pop("Nats-Msg-Id", None)
    subject = dropped_subject(region, letter.service, letter.consumer)
    await nc.jetstream().publish(subject, letter.data, headers=headers)
    await nc.jsm().delete_msg(dlq_stream(region), letter.seq)
