"""Three regions and a hub on this machine (each region its own NATS, nx-27017 and events service
process). Shared events: network calendar entries, published through each region's events
service at a steady rate, round robin across the regions.

Lag of an entry: from its commit in the origin region (the entry's updated_at) to the moment its
copy was written into the read model of the farthest other region (the copy's copied_at).
Then one region's link is cut for --cut-s seconds while every region keeps publishing, and the
time from healing until every copy in every region is complete is reported as catchup_s.

A copy still missing 120 s after the last entry was published (300 s after healing) fails the
run: the lag is never taken over the copies that happened to arrive. ``duplicated`` counts what
the read models saw more than once: the copies of an entry that reached a region's events
service after it had taken that entry (a redelivery, an entry its stream held twice, or one two
instances took at once), as counted in the service's log of the events it handled.

Last line: events=… lag_p50_ms=… lag_p99_ms=… lost=… duplicated=… catchup_s=…
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import figures
from contracts import events as ev
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs, mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.subscriptions import PROCESSED

REGIONS = ["tallinn", "helsinki", "berlin"]
STARTS = (datetime.now() + timedelta(days=60)).replace(hour=10, minute=0, second=0, microsecond=0)


def entry(origin: str, i: int) -> ev.PublishEvent:
    return ev.PublishEvent.model_validate(
        {
            "partner_id": "bench",
            "external_id": f"{origin}-{i}",
            "kind": "conference",
            "title": f"{origin} entry {i}",
            "starts_at": STARTS.isoformat(),
            "ends_at": (STARTS + timedelta(hours=2)).isoformat(),
            "timezone": "Europe/Tallinn",
            "country": "EE",
        }
    )


async def publish(
    clients: dict[str, BusClient], first: int, count: int, rate: float, concurrency: int = 16
) -> list[str]:
    """Publish ``count`` entries at ``rate`` per second in total, round robin over the regions."""
    published: list[str] = []
    started = time.perf_counter()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        origin = REGIONS[i % len(REGIONS)]
        async with gate:
            await clients[origin].call(ev.PUBLISH_EVENT, entry(origin, i), origin)
        published.append(f"{origin} entry {i}")

    tasks = []
    for n, i in enumerate(range(first, first + count)):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return published


async def copies(net: LocalNetwork, region: str) -> list[dict[str, Any]]:
    db = mongo.database(mongo.client(net.regions[region].mongo_url), region, "events")
    projection = {"title": 1, "updated_at": 1, "copied_at": 1, "region": 1}
    return await db["entries"].find({"region": {"$ne": region}}, projection).to_list(None)


async def missing(net: LocalNetwork, titles: set[str]) -> dict[str, int]:
    """Per region, how many of these entries of the other regions it holds no copy of."""
    held_not: dict[str, int] = {}
    for region in REGIONS:
        expected = {t for t in titles if not t.startswith(region)}
        held = {d["title"] for d in await copies(net, region)}
        held_not[region] = len(expected - held)
    return held_not


async def wait_complete(net: LocalNetwork, titles: set[str], timeout_s: float) -> float:
    """Until every region holds a copy of every entry of the others; the seconds it took. Still
    incomplete after ``timeout_s``, the run fails, saying what is missing where."""
    started = time.perf_counter()
    while any((absent := await missing(net, titles)).values()):
        if time.perf_counter() - started > timeout_s:
            where = ", ".join(f"{region} {n}" for region, n in absent.items() if n)
            print(f"copies still missing after {timeout_s:.0f} s: {where} "
                  f"(of {len(titles)} entries)", file=sys.stderr)  # fmt: skip
            print(figures(events=len(titles), lost=sum(absent.values())))
            raise SystemExit(1)
        await asyncio.sleep(0.25)
    return time.perf_counter() - started


async def seen_again(net: LocalNetwork) -> int:
    """The copies of other regions' entries the regions' events services met after their first
    (their network consumers' log of handled events counts them)."""
    again = 0
    for region in REGIONS:
        db = mongo.database(mongo.client(net.regions[region].mongo_url), region, "events")
        log = db[PROCESSED].find({"_id": {"$regex": "^events__net_"}}, {"seen_again": 1})
        again += sum([doc.get("seen_again", 0) async for doc in log])
    return again


async def main(events: int, rate: float, cut_s: float) -> None:
    logs.configure("WARNING")
    with tempfile.TemporaryDirectory(prefix="mapnet-federation-") as tmp:
        async with LocalNetwork(Path(tmp), REGIONS, ("events",), in_process=False) as net:
            clients = {r: await net.client(r, timeout_s=30) for r in REGIONS}
            print(f"publishing {events} network entries at {rate:.0f}/s across {REGIONS} …")
            titles = set(await publish(clients, 0, events, rate))
            await wait_complete(net, titles, timeout_s=120)

            farthest: dict[str, float] = {}
            for region in REGIONS:
                for doc in await copies(net, region):
                    origin_commit = datetime.fromisoformat(doc["updated_at"])
                    lag_ms = (doc["copied_at"] - origin_commit).total_seconds() * 1000
                    farthest[doc["title"]] = max(farthest.get(doc["title"], 0.0), lag_ms)
            lags = sorted(farthest[t] for t in titles)
            p50 = statistics.median(lags)
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            print(f"lag, origin commit to farthest read model: p50 {p50:.0f} ms, p99 {p99:.0f} ms")

            print(f"cutting {REGIONS[0]}'s link for {cut_s:.0f} s while every region publishes …")
            await net.cut(REGIONS[0])
            during = await publish(clients, events, int(cut_s * rate / 4), rate / 4)
            left = cut_s - (len(during) / (rate / 4))
            if left > 0:
                await asyncio.sleep(left)
            held = {d["title"] for d in await copies(net, REGIONS[0])}
            crossed = len(held & set(during))
            print(f"entries of other regions that reached {REGIONS[0]} while cut: {crossed}")
            await net.heal(REGIONS[0])
            healed = time.perf_counter()
            await wait_complete(net, titles | set(during), timeout_s=300)
            catchup_s = time.perf_counter() - healed
            print(f"after healing, every copy was complete in {catchup_s:.1f} s")
            # Over both phases: complete (else the run failed above), and what was doubled.
            lost = sum((await missing(net, titles | set(during))).values())
            duplicated = await seen_again(net)
    print(
        figures(
            events=len(titles),
            lag_p50_ms=round(p50),
            lag_p99_ms=round(p99),
            lost=lost,
            duplicated=duplicated,
            catchup_s=round(catchup_s, 1),
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=60.0, help="entries per second in total")
    parser.add_argument("--cut-s", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rate, args.cut_s))
