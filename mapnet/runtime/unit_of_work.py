"""The unit of work every service's handlers share: a command changes records, each record is
saved together with the events its change caused (the outbox inside the record, one document
write), and once that write is done the relay is woken to publish them.

A handler gets one ``UnitOfWork`` and its repositories; it never builds envelopes or wakes the
relay by hand. With ``wake`` left out (the default) nothing is relayed: the fast tests of the
service layer run on in-memory repositories without a bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from contracts.envelope import Envelope
from contracts.operations import Operation

from .codec import reply_envelope
from .outbox import take_events

T = TypeVar("T")


class Cause(Protocol):
    """What a change answers to: a command or event envelope, or a stand-in for a date."""

    @property
    def correlationid(self) -> str: ...


class EnvelopeFactory(Protocol):
    def __call__(
        self,
        op: Operation[Any, Any],
        data: Any,
        *,
        correlationid: str,
        subject: str | None = None,
    ) -> Envelope[Any]: ...


Wake = Callable[[str, Any, Sequence[Envelope[Any]] | None], None]


def _id(cause: Cause | str) -> str:
    return cause if isinstance(cause, str) else cause.correlationid


def _no_relay(collection: str, record_id: Any, events: Sequence[Envelope[Any]] | None) -> None:
    """Nothing to wake: events stay in the outbox of the record (tests of the service layer)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RecordOutcome(NamedTuple):
    """What one item of a batch command did to one record (``accepted``, or the code of its
    refusal), for an audit entry of its own."""

    record_id: str | None
    outcome: str
    reason: str = ""


@dataclass(frozen=True)
class Replied:
    """A command's answer given in full by its handler: the envelope of the first answer,
    kept inside the record the command created (same write, no reply cache), so that a repeat
    gets these very bytes. ``records``: a batch command's outcome for each record it touched,
    each audited with an entry of its own besides the command's."""

    envelope: bytes
    refers_to: str | None = None
    records: tuple[RecordOutcome, ...] = ()


@dataclass
class UnitOfWork:
    region: str
    envelope: EnvelopeFactory
    wake: Wake = _no_relay
    clock: Callable[[], datetime] = field(default=_utc_now)
    source: str = "mapnet/test/service"

    def now(self) -> datetime:
        return self.clock()

    def answer(
        self, op: Operation[Any, Any], command: Envelope[Any], result: Any, refers_to: str
    ) -> Replied:
        """The reply envelope to ``command``, made now so it can be stored with the record."""
        reply = reply_envelope(
            op, result, region=self.region, source=self.source, correlationid=command.correlationid
        )
        return Replied(reply, refers_to)

    def events_of(self, record: Any, cause: Cause | str, *, subject: str) -> list[Envelope[Any]]:
        """The events a domain record recorded, as envelopes of this region carrying the
        cause's correlation id (or this one); the record's list is emptied so none is queued
        twice."""
        return take_events(record, self.envelope, subject=subject, correlationid=_id(cause))

    def event(
        self, op: Operation[Any, Any], data: Any, cause: Cause | str, *, subject: str
    ) -> Envelope[Any]:
        """One event a handler states itself (no domain record recorded it)."""
        return self.envelope(op, data, correlationid=_id(cause), subject=subject)

    def written(self, collection: str, key: Any, events: Sequence[Envelope[Any]]) -> None:
        """After a write that stored these events in a record's outbox: relay them now."""
        self.wake(collection, key, events)

    async def commit(
        self,
        collection: str,
        key: Any,
        events: Sequence[Envelope[Any]],
        write: Awaitable[T],
    ) -> T:
        """Run the write that stores a record with these events in its outbox, then wake the
        relay for that record. If the write fails nothing is woken: the events were not
        stored, and the caller's refusal says why."""
        result = await write
        self.written(collection, key, events)
        return result

    async def save(
        self,
        record: Any,
        cause: Cause | str,
        *,
        collection: str,
        key: str,
        write: Callable[[list[Envelope[Any]]], Awaitable[T]],
    ) -> T:
        """The common case: take the record's events and commit them with its write."""
        events = self.events_of(record, cause, subject=key)
        return await self.commit(collection, key, events, write(events))
