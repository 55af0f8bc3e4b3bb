"""The whole network on this machine: a hub and ten regions (each its own NATS, nx-27017 and
every service in one process, `mapnet serve all`, as `mapnet up --regions all` runs them).

First the regions idle (--settle-s after they all answer, for the start's own work to end): the
CPU time their processes (the hub's and every region's servers and services) use over --idle-s
seconds, as a percentage of one core, and their resident memory, read from /proc (robust to
other load on a shared machine). Then network calendar entries and
SMEs that share with the network are published round robin over the regions at --rate per
second in total for --load-s seconds; in the middle the first region's link to the hub is cut
for --cut-s seconds.

Lag of an entry: from its commit in the origin region (updated_at) to the moment its copy was
written into the read model of the farthest other region (copied_at), over the entries
published before the cut (after it, they queue behind the catch-up); for those of its last
CUT_MARGIN_S, to the farthest of the regions not cut (and none of the cut region's own): one
still on its way to or from the region about to be cut waits out the cut, which is what
catchup_s measures (ten regions with a steady lag of 2.8 s: p99 73 s, the cut's 60 s and its
catch-up, measured on the entries of the last seconds before it). A copy (an entry in the
events service's calendar, an SME in matching's read model) still missing 300 s after healing
fails the run. catchup_s: from healing until every region holds a copy of everything the
others had published until then (the load goes on after healing: what is published after it is
the network at work again, not the catch-up). ``duplicated``: copies the
regions' network consumers met again after taking them (their log of handled events counts
them).

    python -m bench.network [--regions 10] [--load-s 120] [--rate 20] [--cut-s 60] [--idle-s 60]
        [--settle-s 30] [--services a,b] [--idle-only]

Last line: regions=… events=… lag_p50_ms=… lag_p99_ms=… lost=… duplicated=… catchup_s=…
idle_cpu_pct=… rss_mb=…
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any

from stdnum.ee import registrikood

from bench.common import figures
from bench.federation import entry  # the same calendar entries as the three-region bench
from contracts import events as ev
from contracts import registry as reg
from mapnet.dev.localnet import LocalNetwork
from mapnet.federation.config import load_regions
from mapnet.ops.scale import process_load
from mapnet.runtime import logs, mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.subscriptions import PROCESSED

# Entries published this long before the cut: their lag is to the regions not cut (docstring).
CUT_MARGIN_S = 5.0
NUMBERS = iter(range(16000000, 16999999, 7))


def registration_number() -> str:
    """The next Estonian registry code (it has a check digit)."""
    while not registrikood.is_valid(number := str(next(NUMBERS))):
        pass
    return number


def sme(origin: str, i: int) -> reg.RegisterSme:
    return reg.RegisterSme.model_validate(
        {
            "legal_name": f"{origin} sme {i}",
            "registration_number": registration_number(),
            "country": "EE",
            "share_with_network": True,
        }
    )


class Load:
    """Entries and SMEs published round robin over the regions, what was published when."""

    def __init__(self, clients: dict[str, BusClient], regions: list[str]) -> None:
        self.clients = clients
        self.regions = regions
        self.numbers = count()
        # Title or legal name -> (origin, published at, when: before, during or after the cut)
        self.entries: dict[str, tuple[str, float, str]] = {}
        self.smes: dict[str, tuple[str, float, str]] = {}
        self.phase = "before"
        self.failed = 0

    async def run(self, seconds: float, rate: float, concurrency: int = 32) -> None:
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()
        tasks = []
        for n in range(int(seconds * rate)):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(next(self.numbers), gate)))
        await asyncio.gather(*tasks)

    async def one(self, i: int, gate: asyncio.Semaphore) -> None:
        origin = self.regions[(i // 2) % len(self.regions)]
        phase = self.phase
        async with gate:
            try:
                if i % 2 == 0:
                    await self.clients[origin].call(ev.PUBLISH_EVENT, entry(origin, i), origin)
                    self.entries[f"{origin} entry {i}"] = (origin, time.time(), phase)
                else:
                    await self.clients[origin].call(reg.REGISTER_SME, sme(origin, i), origin)
                    self.smes[f"{origin} sme {i}"] = (origin, time.time(), phase)
            except Exception as exc:  # counted: an unanswered publish is not a lost copy
                self.failed += 1
                print(f"publish {i} at {origin} failed: {exc}", file=sys.stderr)


_clients: dict[str, mongo.Client] = {}


def database(net: LocalNetwork, region: str, service: str) -> mongo.Database:
    """One database client per region for the whole run."""
    url = net.regions[region].mongo_url
    return mongo.database(_clients.setdefault(url, mongo.client(url)), region, service)


async def entry_copies(net: LocalNetwork, region: str) -> list[dict[str, Any]]:
    projection = {"title": 1, "updated_at": 1, "copied_at": 1}
    found = database(net, region, "events")["entries"].find({"region": {"$ne": region}}, projection)
    return await found.to_list(None)


async def sme_copies(net: LocalNetwork, region: str) -> set[str]:
    found = database(net, region, "matching")["smes"].find(
        {"region": {"$ne": region}}, {"legal_name": 1}
    )
    return {d["legal_name"] async for d in found}


async def missing(net: LocalNetwork, load: Load, phases: set[str] | None = None) -> dict[str, int]:
    """Per region, how many of the others' entries and SMEs (published in ``phases``, by
    default all) it holds no copy of."""
    absent = await missing_by_kind(net, load, phases)
    return {region: sum(kinds) for region, kinds in absent.items()}


async def missing_by_kind(
    net: LocalNetwork, load: Load, phases: set[str] | None = None
) -> dict[str, tuple[int, int]]:
    """Per region, how many of the others' entries, and of their SMEs, it holds no copy of."""
    absent = {}
    for region in net.ids:
        entries = {d["title"] for d in await entry_copies(net, region)}
        smes = await sme_copies(net, region)
        absent[region] = (
            _lacks(region, load.entries, entries, phases),
            _lacks(region, load.smes, smes, phases),
        )
    return absent


def _lacks(
    region: str, published: dict[str, tuple[str, float, str]], held: set[str],
    phases: set[str] | None,
) -> int:  # fmt: skip
    return sum(
        1
        for name, (origin, _, phase) in list(published.items())
        if origin != region and (phases is None or phase in phases) and name not in held
    )


async def caught_up(net: LocalNetwork, load: Load, healed: float) -> float:
    """Seconds from healing until every region holds a copy of what was published before."""
    before_healing = {"before", "just before", "during"}
    while True:
        if not any((await missing(net, load, before_healing)).values()):
            return time.perf_counter() - healed
        await asyncio.sleep(1.0)


async def wait_complete(net: LocalNetwork, load: Load, timeout_s: float) -> None:
    started = time.perf_counter()
    while any((absent := await missing(net, load)).values()):
        if time.perf_counter() - started > timeout_s:
            kinds = await missing_by_kind(net, load)
            where = ", ".join(f"{r} {e} entries {s} SMEs" for r, (e, s) in kinds.items() if e + s)
            print(f"copies still missing after {timeout_s:.0f} s: {where}", file=sys.stderr)
            print(figures(regions=len(net.ids), lost=sum(absent.values())))
            raise SystemExit(1)
        await asyncio.sleep(0.5)


async def seen_again(net: LocalNetwork) -> int:
    again = 0
    for region in net.ids:
        for service in ("events", "matching"):
            log = database(net, region, service)[PROCESSED].find(
                {"_id": {"$regex": "__net_"}}, {"seen_again": 1}
            )
            again += sum([doc.get("seen_again", 0) async for doc in log])
    return again


def network_processes(net: LocalNetwork) -> dict[int, str]:
    """The hub's process and every region's servers and services process: pid -> kind."""
    kinds = {"nats[hub]": "hub"}
    managed = [net.hub] + [
        m for r in net.regions.values() for m in (r.nats, r.mongo, r.process) if m is not None
    ]
    return {m.pid: kinds.get(m.name, m.name.split("[")[0]) for m in managed if m.pid is not None}


def idle_figures(net: LocalNetwork, idle_s: float) -> tuple[float, float]:
    """CPU (% of one core) and resident MB of the network's processes over ``idle_s``, printed
    per kind of process."""
    processes = network_processes(net)
    loads = process_load(processes, idle_s)
    by_kind: dict[str, list[float]] = {}
    for pid, load in loads.items():
        cpu, rss = by_kind.setdefault(processes[pid], [0.0, 0.0])
        by_kind[processes[pid]] = [cpu + load.cpu_percent, rss + load.rss_mb]
    for kind, (cpu, rss) in sorted(by_kind.items()):
        print(f"  {kind}: {cpu:.1f} % of one core, {rss:.0f} MB")
    cpu = sum(load.cpu_percent for load in loads.values())
    rss_mb = sum(load.rss_mb for load in loads.values())
    print(f"idle: {cpu:.1f} % of one core, {rss_mb:.0f} MB resident ({len(loads)} processes)")
    # The machine's load as the figures were read: other work on it does not change the CPU
    # time a process used, but says how much the figures may be off.
    print("load average (1, 5, 15 min): " + " ".join(f"{n:.2f}" for n in os.getloadavg()))
    return cpu, rss_mb


async def main(
    regions: list[str],
    services: list[str] | None,
    load_s: float,
    rate: float,
    cut_s: float,
    idle_s: float,
    settle_s: float,
    idle_only: bool = False,
) -> None:
    logs.configure("WARNING")
    # A NATS store may still be written while the directory goes: not worth the run's figures.
    with tempfile.TemporaryDirectory(prefix="mapnet-network-", ignore_cleanup_errors=True) as tmp:
        started = time.perf_counter()
        async with LocalNetwork(Path(tmp), regions, services, in_process=False) as net:
            print(f"{len(regions)} regions up in {time.perf_counter() - started:.0f} s; "
                  f"idle for {settle_s:.0f} s, then measured for {idle_s:.0f} s …")  # fmt: skip
            # The start's own work settles first: the link keepers add the sources, NATS
            # starts copying, the keepers find nothing more to do and look less often.
            await asyncio.sleep(settle_s)
            idle_cpu, rss_mb = await asyncio.to_thread(idle_figures, net, idle_s)
            if idle_only:
                print(figures(regions=len(regions), idle_cpu_pct=round(idle_cpu, 1),
                              rss_mb=round(rss_mb)))  # fmt: skip
                return

            clients = {r: await net.client(r, timeout_s=30) for r in regions}
            load = Load(clients, regions)
            cut_after = max(0.0, (load_s - cut_s) / 2)
            print(
                f"publishing entries and SMEs at {rate:g}/s for {load_s:.0f} s, {regions[0]} "
                f"cut from the hub for {cut_s:.0f} s after {cut_after:.0f} s …"
            )

            async def fault() -> float:
                await asyncio.sleep(max(0.0, cut_after - CUT_MARGIN_S))
                load.phase = "just before"
                await asyncio.sleep(min(cut_after, CUT_MARGIN_S))
                await net.cut(regions[0])
                load.phase = "during"
                await asyncio.sleep(cut_s)
                await net.heal(regions[0])
                load.phase = "after"
                return await caught_up(net, load, time.perf_counter())

            healing = asyncio.create_task(fault())
            await load.run(load_s, rate)
            await wait_complete(net, load, timeout_s=300)
            catchup_s = await healing
            unanswered = f" ({load.failed} publications unanswered)" if load.failed else ""
            print(f"after healing, every copy of what came before was complete in {catchup_s:.1f}"
                  f" s; every copy of the whole run too, by now{unanswered}")  # fmt: skip

            farthest: dict[str, float] = {}
            just_before = {t for t, (_, _, phase) in load.entries.items() if phase == "just before"}
            for region in regions:
                for doc in await entry_copies(net, region):
                    if region == regions[0] and doc["title"] in just_before:
                        continue  # caught by the cut: catchup_s
                    origin_commit = datetime.fromisoformat(doc["updated_at"])
                    lag_ms = (doc["copied_at"] - origin_commit).total_seconds() * 1000
                    farthest[doc["title"]] = max(farthest.get(doc["title"], 0.0), lag_ms)
            # The network at work, before the cut: after it, entries queue behind the catch-up.
            # (The cut region's own entries of its last seconds wait out the cut everywhere.)
            before = [
                t for t, (origin, _, phase) in load.entries.items()
                if phase == "before" or (phase == "just before" and origin != regions[0])
            ]  # fmt: skip
            lags = sorted(farthest[title] for title in before)
            p50 = statistics.median(lags)
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            lost = sum((await missing(net, load)).values())
            duplicated = await seen_again(net)
    print(
        figures(
            regions=len(regions),
            events=len(load.entries) + len(load.smes),
            lag_p50_ms=round(p50),
            lag_p99_ms=round(p99),
            lost=lost,
            duplicated=duplicated,
            catchup_s=round(catchup_s, 1),
            idle_cpu_pct=round(idle_cpu, 1),
            rss_mb=round(rss_mb),
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regions", type=int, default=10, help="the first n of regions.toml")
    parser.add_argument("--load-s", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=20.0, help="publications per second")
    parser.add_argument("--cut-s", type=float, default=60.0)
    parser.add_argument("--idle-s", type=float, default=60.0)
    parser.add_argument("--settle-s", type=float, default=30.0, help="idle before measuring")
    parser.add_argument(
        "--services", help="comma-separated: each region runs only these (default: all)"
    )
    parser.add_argument(
        "--idle-only", action="store_true", help="the idle figures only, no load (last line: "
        "regions=… idle_cpu_pct=… rss_mb=…)"
    )  # fmt: skip
    args = parser.parse_args()
    ids = [r.id for r in load_regions()][: args.regions]
    services = args.services.split(",") if args.services else None
    asyncio.run(
        main(
            ids, services, args.load_s, args.rate, args.cut_s, args.idle_s, args.settle_s,
            args.idle_only,
        )
    )  # fmt: skip
