"""How far each of a region's consumers is behind: per durable consumer, the messages not yet
delivered (``pending``), delivered but not acknowledged (``ack_pending``), delivered more than
once (``redelivered``), and its dead letters waiting (`mapnet dlq list`). Read from the
region's JetStream with the region's admin login, as `mapnet status` shows it."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client
from nats.js.errors import NotFoundError

from contracts.subjects import dlq_stream, network_stream, stream_name
from mapnet.runtime.declaration import service_names

# The JetStream API answers a list of consumers a page at a time.
_PAGE = 256


async def _consumers(nc: Client, stream: str) -> list[Any]:
    jsm = nc.jsm()
    found: list[Any] = []
    while True:
        page = await jsm.consumers_info(stream, offset=len(found))
        found += page
        if len(page) < _PAGE:
            return found


async def dead_letters_by_consumer(nc: Client, region: str) -> dict[str, int]:
    try:
        info = await nc.jsm().stream_info(
            dlq_stream(region), subjects_filter=f"mapnet.{region}.*.dlq.*"
        )
    except NotFoundError:
        return {}
    return {subject.split(".")[4]: int(n) for subject, n in (info.state.subjects or {}).items()}


async def own_consumer_backlog(
    nc: Client, region: str, consumed: list[Any], dead_letters: bool
) -> list[dict[str, Any]]:
    """A service's own durable consumers (``subscriptions.Consumed``), read as its own user,
    which may read only those (and the dead letters only if it may read their stream: a
    request it may not send would wait for its timeout)."""
    waiting = await dead_letters_by_consumer(nc, region) if dead_letters else {}
    rows = []
    for one in consumed:
        try:
            info = await nc.jsm().consumer_info(one.stream(region), one.durable)
        except NotFoundError:
            continue  # not made yet: the service is starting
        rows.append({
            "stream": one.stream(region),
            "consumer": one.durable,
            "pending": int(info.num_pending or 0),
            "ack_pending": int(info.num_ack_pending or 0),
            "redelivered": int(info.num_redelivered or 0),
            "dead_letters": waiting.get(one.durable, 0),
        })  # fmt: skip
    return rows


async def consumer_backlog(nc: Client, region: str) -> list[dict[str, Any]]:
    """Every durable consumer on the region's streams, with its backlog and dead letters."""
    streams = [stream_name(region, s) for s in service_names()] + [network_stream(region)]
    waiting = await dead_letters_by_consumer(nc, region)
    rows = []
    for stream in streams:
        try:
            consumers = await _consumers(nc, stream)
        except NotFoundError:
            continue  # a service that publishes no events, or a region outside a network
        for consumer in consumers:
            name = consumer.name
            if not consumer.config.durable_name:
                continue  # an ephemeral reader (a status probe, a test), not a service's
            rows.append({
                "stream": stream,
                "consumer": name,
                "pending": int(consumer.num_pending or 0),
                "ack_pending": int(consumer.num_ack_pending or 0),
                "redelivered": int(consumer.num_redelivered or 0),
                "dead_letters": waiting.get(name, 0),
            })  # fmt: skip
    return rows
