"""Events on the bus: durable, idempotent consumers of this region's events and of what the
other regions share (dead letters for what cannot be read or keeps failing), and the events a
service publishes (sent by its outbox relay, documented in AsyncAPI)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, PullSub
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.operations import Operation
from contracts.subjects import network_stream, replay_subject, stream_name

from .codec import make_envelope
from .compat import LONG_POLL_S, message_context
from .consumer import DLQ_SUBJECT_HEADER, BatchHandler, EventConsumer, EventHandler
from .routing import Routes, address, described, service_inbox

In = TypeVar("In", bound=BaseModel)

PROCESSED = "processed_events"
# How long the server waits for a delivered message's acknowledgement before delivering it
# again; a consumer keeps the messages it is still working on in progress meanwhile.
ACK_WAIT_S = 30.0


@dataclass(frozen=True)
class Consumed:
    """A durable consumer a service keeps: of an event of its region (on the stream of the
    service that publishes it) or, ``network``, of the other regions' (on the region's network
    stream). Its service's NATS user may create, read and acknowledge this consumer only."""

    service: str
    op: Operation[Any, Any]
    network: bool

    @property
    def durable(self) -> str:
        prefix = "net_" if self.network else ""
        return f"{self.service}__{prefix}{self.op.service}_{self.op.name}"

    def stream(self, region: str) -> str:
        return network_stream(region) if self.network else stream_name(region, self.op.service)

    def subject(self, region: str) -> str:
        """Its filter: the event of this region, or of any region in the network stream."""
        if self.network:
            return f"mapnet.*.{self.op.service}.{self.op.kind}.{self.op.name}"
        return address(self.op, region)


class EventRoutes(Routes):
    def consumes(
        self, op: Operation[In, Any], *, idempotent: bool = False
    ) -> Callable[[EventHandler[In]], EventHandler[In]]:
        """Register an idempotent, durable consumer of an event of this region. A message that
        cannot be decoded, or whose handler keeps failing, goes to the region's dead letters.
        ``idempotent``: as for ``consumes_network``."""
        return self._consumer(op, None, idempotent=idempotent)

    def consumes_network(
        self, op: Operation[In, Any], *, idempotent: bool = False
    ) -> Callable[[EventHandler[In]], EventHandler[In]]:
        """As ``consumes``, for a shared event of the other regions, read from this region's copy
        of what they share (its network stream), so it works while the hub is out of reach.

        ``idempotent``: the handler's own write makes a second handling change nothing (a read
        copy kept at its newest version). Its consumer does not look the batch up in the log of
        handled events first (a database read per batch, a quarter of a copy's operations);
        the log is still written, and tells the copies met again as before."""
        self.reads_network = True
        return self._consumer(op, None, network=True, idempotent=idempotent)

    def consumes_batches(
        self, op: Operation[In, Any]
    ) -> Callable[[BatchHandler[In]], BatchHandler[In]]:
        """As ``consumes``, for a handler that takes a whole pulled batch at once (to write its
        outcome in a few bulk operations instead of a few per message)."""
        return self._batch_consumer(op, network=False, idempotent=False)

    def consumes_network_batches(
        self, op: Operation[In, Any], *, idempotent: bool = False
    ) -> Callable[[BatchHandler[In]], BatchHandler[In]]:
        """As ``consumes_batches``, for a shared event of the other regions (as
        ``consumes_network``). Copies that pile up under load are then written a batch in a few
        bulk operations, not a few round trips each, one after the other."""
        self.reads_network = True
        return self._batch_consumer(op, network=True, idempotent=idempotent)

    def _batch_consumer(
        self, op: Operation[In, Any], *, network: bool, idempotent: bool
    ) -> Callable[[BatchHandler[In]], BatchHandler[In]]:
        def register(batch_handler: BatchHandler[In]) -> BatchHandler[In]:
            # One message alone (a batch handled again message by message) as a batch of one.
            async def one(event: Envelope[In]) -> None:
                await batch_handler([event])

            self._consumer(op, batch_handler, network=network, idempotent=idempotent)(one)
            return batch_handler

        return register

    def _consumer(
        self,
        op: Operation[In, Any],
        batch_handler: BatchHandler[In] | None,
        *,
        network: bool = False,
        idempotent: bool = False,
    ) -> Callable[[EventHandler[In]], EventHandler[In]]:
        consumed = Consumed(self.service, op, network)
        self.consumed.append(consumed)
        durable = consumed.durable
        subject, stream = consumed.subject(self.region), consumed.stream(self.region)

        def register(handler: EventHandler[In]) -> EventHandler[In]:
            consumer = EventConsumer(
                batch_handler=batch_handler,
                op=op,
                durable=durable,
                handler=handler,
                processed=self.db[PROCESSED],
                region=self.region,
                service=self.service,
                max_deliveries=self.settings.max_deliveries,
                js=lambda: self.js,
                ack_wait_s=ACK_WAIT_S,
                idempotent=idempotent,
            )

            async def subscriber(body: Any, message: Any = message_context()) -> None:
                await consumer.deliver(message.raw_message)

            # The consumer decodes and validates each message itself, sending what it cannot
            # read to the dead letters; FastStream's own JSON decoding would raise first.
            async def undecoded(message: Any) -> None:
                return None

            subscriber.__name__ = f"on_{'network_' if network else ''}{op.name}"
            self.router.subscriber(
                subject,
                stream=JStream(stream, declare=False),
                durable=durable,
                decoder=undecoded,
                # A batch handler writes a whole batch in a few bulk operations: the bigger
                # the batch, the fewer round trips per event. An idle consumer waits on the
                # server (compat.py, which sets the wait per server: this one is not used),
                # answered by the first message that comes.
                pull_sub=PullSub(
                    batch_size=64 if batch_handler is None else 256,
                    timeout=LONG_POLL_S,
                    batch=True,
                ),
                config=ConsumerConfig(
                    ack_wait=ACK_WAIT_S, max_deliver=-1, deliver_policy=DeliverPolicy.ALL
                ),
                ack_policy=AckPolicy.MANUAL,
                # Deliveries on the service's own inbox: its NATS user may hear no other.
                inbox_prefix=f"{service_inbox(self.region, self.service)}.".encode(),
                title=f"{self.service} consumes {op.name}",
                include_in_schema=False,
            )(subscriber)

            # A dead letter an operator sends back to this consumer (`mapnet dlq replay`): one
            # instance of the service handles it, and answers what became of it.
            async def replayed(body: Any, message: Any = message_context()) -> dict[str, str]:
                raw = message.raw_message
                came_on = (raw.headers or {}).get(DLQ_SUBJECT_HEADER, subject)
                return await consumer.replay(raw.data, came_on, network)

            replayed.__name__ = f"replay_{'network_' if network else ''}{op.name}"
            self.router.subscriber(
                replay_subject(self.region, self.service, durable),
                queue=f"{durable}_replay",
                decoder=undecoded,
                title=f"{self.service} replays dead letters of {durable}",
                include_in_schema=False,
            )(replayed)
            return handler

        return register

    # --- events this service publishes (documented in AsyncAPI; sent by the outbox relay) -----

    def publishes(self, *ops: Operation[Any, Any]) -> None:
        for op in ops:
            self.router.publisher(
                address(op, self.region),
                schema=op.envelope,
                title=f"{op.service}.{op.kind}.{op.name}",
                description=described(op),
            )

    def envelope(
        self, op: Operation[In, Any], data: In, *, correlationid: str, subject: str | None = None
    ) -> Envelope[In]:
        return make_envelope(
            op,
            data,
            region=self.region,
            source=self.source,
            correlationid=correlationid,
            subject=subject,
        )
