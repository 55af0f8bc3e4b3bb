"""What the worst requests the contracts allow cost a region: a whole region (`mapnet serve all`)
holds 2,000 SMEs and 300 calendar entries; clients send, side by side and without pause, the
most expensive query of each kind the contracts let through (searches of 12 long words, ten
keywords, every page at its largest, the whole audit trail, a year of KPIs), while another
client asks the registry's health every 50 ms.

    python -m bench.hostile [--seconds 20] [--clients 4] [--smes 2000]

Last line: hostile_queries=… health_p50_ms=… health_p99_ms=… health_max_ms=… (the bar of #16:
the health query stays under 100 ms)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import REGION, embedded_servers, figures, serving
from bench.registry import sme
from contracts import audit, health
from contracts import events as ev
from contracts import matching as mt
from contracts import notify as nt
from contracts import registry as rg
from contracts.common import MAX_SEARCH_WORDS, SmeRef
from mapnet.runtime.bus import BusClient

SERVICES = ["registry", "events", "matching", "notify"]
# Twelve words of 16 letters: 203 characters would be refused, this is the most allowed.
WORDS = " ".join(f"{chr(97 + i)}{'q' * 15}" for i in range(MAX_SEARCH_WORDS))[:200]


def entry(i: int) -> ev.PublishEvent:
    day = date.today() + timedelta(days=10 + i % 200)
    return ev.PublishEvent.model_validate(
        {
            "partner_id": "bench", "external_id": f"e-{i}", "kind": "conference",
            "title": f"Bench Conference {i}", "starts_at": f"{day}T09:00:00",
            "ends_at": f"{day}T17:00:00", "timezone": "Europe/Tallinn", "country": "EE",
            "clusters": ["ict"], "topics": ["saas"],
        }
    )  # fmt: skip


def worst_queries(seeker: str) -> list[tuple[Any, Any]]:
    """The costliest request of each query kind the contracts let through."""
    year_ago = datetime.now(UTC) - timedelta(days=365)
    return [
        (
            rg.SEARCH_SMES,
            rg.SearchSmes(text=WORDS, keywords=[f"k{i}" for i in range(10)], limit=100),
        ),
        (rg.SEARCH_SMES, rg.SearchSmes(limit=100, sort="-updated_at")),
        (ev.LIST_CALENDAR, ev.ListCalendar(text=WORDS, limit=100)),
        (ev.LIST_CALENDAR, ev.ListCalendar(limit=100)),
        (ev.GET_ICAL, ev.GetIcal(limit=100)),
        (
            mt.FIND_PARTNERS,
            mt.FindPartners(seeker=SmeRef(region=REGION, sme_id=seeker), limit=100),
        ),
        (rg.GET_KPIS, rg.GetKpis(period_from=year_ago.date(), period_to=date.today())),
        (audit.audit_query("registry"), audit.ListAudit(limit=100)),
        (nt.LIST_DELIVERIES, nt.ListDeliveries(limit=100)),
    ]


async def seed(client: BusClient, count: int) -> str:
    semaphore = asyncio.Semaphore(8)

    async def one(call: Any) -> Any:
        async with semaphore:
            return await call

    smes = await asyncio.gather(
        *(one(client.call(rg.REGISTER_SME, sme(i), REGION)) for i in range(count))
    )
    await asyncio.gather(*(one(client.call(ev.PUBLISH_EVENT, entry(i), REGION))
                           for i in range(max(1, count * 3 // 20))))  # fmt: skip
    return str(smes[0].sme_id)


async def hostile(
    client: BusClient, queries: list[tuple[Any, Any]], until: float, took: dict[str, list[float]]
) -> int:
    sent = 0
    while time.perf_counter() < until:
        for op, data in queries:
            started = time.perf_counter()
            await client.call(op, data, REGION, timeout_s=60)
            took.setdefault(op.name, []).append((time.perf_counter() - started) * 1000)
            sent += 1
    return sent


async def _health_times(nats_url: str, seconds: float) -> list[float]:
    client = await BusClient.connect(nats_url, source="mapnet/bench-health", timeout_s=30)
    times = []
    op = health.health_query("registry")
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        started = time.perf_counter()
        await client.call(op, health.HealthCheck(), REGION)
        times.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)
    await client.close()
    return times


def _probe(nats_url: str, seconds: float) -> list[float]:
    return asyncio.run(_health_times(nats_url, seconds))


async def health_times(pool: ProcessPoolExecutor, nats_url: str, seconds: float) -> list[float]:
    """Timed from a process of its own: the hostile clients' decoding must not delay it."""
    return await asyncio.get_running_loop().run_in_executor(pool, _probe, nats_url, seconds)


async def main(seconds: float, clients: int, smes: int) -> None:
    with embedded_servers() as (nats_url, mongo_url), tempfile.TemporaryDirectory() as tmp:
        async with serving("all", nats_url, mongo_url, Path(tmp), SERVICES):
            client = await BusClient.connect(
                nats_url, source="mapnet/bench", timeout_s=60, role="map_admin"
            )
            seeker = await seed(client, smes)
            queries = worst_queries(seeker)
            pool = ProcessPoolExecutor(max_workers=1)
            calm = await health_times(pool, nats_url, 12)
            until = time.perf_counter() + seconds
            measured = asyncio.create_task(health_times(pool, nats_url, seconds))
            took: dict[str, list[float]] = {}
            sent = await asyncio.gather(
                *(hostile(client, queries[k:] + queries[:k], until, took) for k in range(clients))
            )
            times = await measured
            pool.shutdown()
            await client.close()
    cuts = statistics.quantiles(times, n=100)
    print(figures(**{f"{name}_p50_ms": f"{statistics.median(t):.0f}" for name, t in took.items()}))
    print(figures(**{f"{name}_max_ms": f"{max(t):.0f}" for name, t in took.items()}))
    print(figures(calm_health_p50_ms=f"{statistics.median(calm):.1f}", health_checks=len(times)))
    print(
        figures(
            hostile_queries=sum(sent),
            health_p50_ms=f"{cuts[49]:.1f}",
            health_p99_ms=f"{cuts[98]:.1f}",
            health_max_ms=f"{max(times):.1f}",
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--smes", type=int, default=2000, help="and 3 calendar entries per 20")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.clients, args.smes))
