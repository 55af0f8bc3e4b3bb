"""What only MAPnet knows, for Prometheus (served at /metrics, mapnet/runtime/probes.py):

- ``mapnet_request_seconds{region,service,operation,code}``: every command and query answered,
  by its outcome (``ok`` or the typed error code), as a latency histogram (its ``_count`` is
  the number of requests);
- ``mapnet_outbox_published_total``, ``mapnet_outbox_waiting`` and
  ``mapnet_outbox_oldest_seconds``: events the outbox relay sent, the records it still has to
  send (written, not yet relayed), and how long the oldest of those has waited;
- read from JetStream at each scrape (the server keeps these counts; reading them costs it
  little; a service logged in as its own user reads only its own consumers): per durable
  consumer ``mapnet_consumer_pending``, ``mapnet_consumer_ack_pending``,
  ``mapnet_consumer_redelivered`` and ``mapnet_dead_letters``; per other region of the network
  (``origin``) the copy of what it shares, from the network stream's sources:
  ``mapnet_federation_lag_messages`` (how many of its messages the copy lacks, as NATS last
  heard) and ``mapnet_federation_source_active_seconds`` (since NATS last heard from it);
- what a service counts itself (``Runtime.measure``, e.g. notify's queue and failed sends),
  read at each scrape.

Counted only when the process serves /metrics (``MAPNET_METRICS_PORT``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from contracts.subjects import network_stream
from mapnet.runtime import logs
from mapnet.runtime.backlog import consumer_backlog, own_consumer_backlog

# From a cached answer (a millisecond) to a report drawn over a whole region (seconds).
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._published_seen: dict[tuple[str, str], int] = {}
        self.requests = Histogram(
            "mapnet_request_seconds", "Commands and queries answered, by outcome (ok or code)",
            ["region", "service", "operation", "code"], buckets=_BUCKETS, registry=registry,
        )  # fmt: skip
        self.outbox_published = Counter(
            "mapnet_outbox_published", "Events the outbox relay published",
            ["region", "service"], registry=registry,
        )  # fmt: skip
        self.outbox_waiting = Gauge(
            "mapnet_outbox_waiting", "Records written whose events the relay has yet to send",
            ["region", "service"], registry=registry,
        )  # fmt: skip
        labels = ["region", "consumer"]
        self.pending = Gauge("mapnet_consumer_pending", "Messages not yet delivered", labels,
                             registry=registry)  # fmt: skip
        self.ack_pending = Gauge("mapnet_consumer_ack_pending", "Delivered, not yet acknowledged",
                                 labels, registry=registry)  # fmt: skip
        self.redelivered = Gauge("mapnet_consumer_redelivered", "Delivered more than once",
                                 labels, registry=registry)  # fmt: skip
        self.dead_letters = Gauge("mapnet_dead_letters", "Dead letters waiting (mapnet dlq list)",
                                  labels, registry=registry)  # fmt: skip
        self.outbox_oldest = Gauge(
            "mapnet_outbox_oldest_seconds", "How long the oldest event still to be sent has waited",
            ["region", "service"], registry=registry,
        )  # fmt: skip
        copied = ["region", "origin"]
        self.federation_lag = Gauge(
            "mapnet_federation_lag_messages",
            "Messages the origin region shares that this region's copy lacks (as NATS last heard)",
            copied, registry=registry,
        )  # fmt: skip
        self.federation_active = Gauge(
            "mapnet_federation_source_active_seconds",
            "Since NATS last heard from the origin region's source of this region's copy",
            copied, registry=registry,
        )  # fmt: skip

    def request(self, region: str, service: str, operation: str, code: str, seconds: float) -> None:
        self.requests.labels(region, service, operation, code).observe(seconds)

    def relayed(self, region: str, service: str, relay: Any) -> None:
        """The relay's own counts, as they are now."""
        seen = self._published_seen.get((region, service), 0)
        self.outbox_published.labels(region, service).inc(max(0, relay.published - seen))
        self._published_seen[(region, service)] = relay.published
        self.outbox_waiting.labels(region, service).set(relay.waiting)
        self.outbox_oldest.labels(region, service).set(relay.oldest_s())

    def read_services(self, runtimes: Sequence[Any]) -> None:
        """Serve what the services count themselves (each runtime's ``readings``)."""
        self.registry.register(_ServiceReadings(runtimes))

    async def federation(self, nc: Any, region: str) -> None:
        """The copy of each other region's shared events, from the region's network stream's
        sources as JetStream reports them (one stream info: no question across the hub)."""
        try:
            info = await nc.jetstream().stream_info(network_stream(region))
        except NotFoundError:
            return  # a region outside a network
        for source in info.sources or []:
            origin = source.name.removesuffix("_SHARED").lower()
            self.federation_lag.labels(region, origin).set(source.lag or 0)
            if source.active is not None and source.active >= 0:  # -1: never heard from
                self.federation_active.labels(region, origin).set(source.active / 1e9)

    async def refresh(self, nc: Any, regions: Sequence[str]) -> None:
        """The consumers' counts as JetStream has them now (a scrape asks)."""
        for region in regions:
            self._consumers(region, await consumer_backlog(nc, region))

    async def refresh_own(
        self, nc: Any, region: str, consumed: list[Any], dead_letters: bool
    ) -> None:
        """One service's own consumers, read as its own user (`mapnet serve <service>`)."""
        self._consumers(region, await own_consumer_backlog(nc, region, consumed, dead_letters))

    def _consumers(self, region: str, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            key = (region, row["consumer"])
            self.pending.labels(*key).set(row["pending"])
            self.ack_pending.labels(*key).set(row["ack_pending"])
            self.redelivered.labels(*key).set(row["redelivered"])
            self.dead_letters.labels(*key).set(row["dead_letters"])


@dataclass(frozen=True)
class Reading:
    """A series a service counts itself (``Runtime.measure``): ``read`` answers its values now,
    keyed by the values of ``labels`` (after ``region`` and ``service``, which are added)."""

    name: str
    doc: str
    read: Callable[[], Mapping[tuple[str, ...], float]]
    labels: tuple[str, ...] = ()
    kind: Literal["gauge", "counter"] = "gauge"


class _ServiceReadings:
    """A prometheus_client collector of the services' readings: one family per name, however
    many runtimes (regions) of a service the process runs."""

    def __init__(self, runtimes: Sequence[Any]) -> None:
        self.runtimes = runtimes

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for rt in self.runtimes:
            for reading in rt.readings:
                family = families.get(reading.name)
                if family is None:
                    labels = ["region", "service", *reading.labels]
                    family = families[reading.name] = (
                        CounterMetricFamily(reading.name, reading.doc, labels=labels)
                        if reading.kind == "counter"
                        else GaugeMetricFamily(reading.name, reading.doc, labels=labels)
                    )
                try:
                    values = reading.read()
                except Exception as exc:  # one bad reading must not cost the scrape the rest
                    logs.get(component="probes").warning(
                        "reading_failed", reading=reading.name, error=str(exc)
                    )
                    continue
                for label_values, value in values.items():
                    family.add_metric([rt.region, rt.service, *label_values], value)
        yield from families.values()
