"""What only MAPnet knows, for Prometheus (served at /metrics, mapnet/runtime/probes.py):

- ``mapnet_request_seconds{region,service,operation,code}``: every command and query answered,
  by its outcome (``ok`` or the typed error code), as a latency histogram (its ``_count`` is
  the number of requests);
- ``mapnet_outbox_published_total`` and ``mapnet_outbox_waiting``: events the outbox relay sent,
  and the records it still has to send (written, not yet relayed);
- read from JetStream at each scrape (the server keeps these counts; reading them costs it
  little): per durable consumer ``mapnet_consumer_pending``, ``mapnet_consumer_ack_pending``,
  ``mapnet_consumer_redelivered`` and ``mapnet_dead_letters``.

Counted only when the process serves /metrics (``MAPNET_METRICS_PORT``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mapnet.runtime.backlog import consumer_backlog

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

    def request(self, region: str, service: str, operation: str, code: str, seconds: float) -> None:
        self.requests.labels(region, service, operation, code).observe(seconds)

    def relayed(self, region: str, service: str, relay: Any) -> None:
        """The relay's own counts, as they are now."""
        seen = self._published_seen.get((region, service), 0)
        self.outbox_published.labels(region, service).inc(max(0, relay.published - seen))
        self._published_seen[(region, service)] = relay.published
        self.outbox_waiting.labels(region, service).set(relay.waiting)

    async def refresh(self, nc: Any, regions: Sequence[str]) -> None:
        """The consumers' counts as JetStream has them now (a scrape asks)."""
        for region in regions:
            for row in await consumer_backlog(nc, region):
                key = (region, row["consumer"])
                self.pending.labels(*key).set(row["pending"])
                self.ack_pending.labels(*key).set(row["ack_pending"])
                self.redelivered.labels(*key).set(row["redelivered"])
                self.dead_letters.labels(*key).set(row["dead_letters"])
