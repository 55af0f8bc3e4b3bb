"""How soon copying resumes after a fault heals. Three regions and a hub on this machine (each
region's events service in a process of its own), as in bench/federation.py; each round one
fault, the regions taking turns:

- ``cut``: a region's leaf links are cut for --down-s seconds while every region publishes
  network entries; then healed.
- ``hub``: the hub is stopped for --down-s seconds while every region publishes; then started.
- ``restart``: a region's NATS server is killed (SIGKILL) and its services stopped while the
  others publish; after --down-s seconds both are started again, and the region publishes
  entries of its own at once (NATS alone resumed copying from a restarted origin only ~38 s
  later; the link keeper puts such a source back).

The resumption time of a round: from the moment the fault is healed (the relay or hub accepts
again; for ``restart``, the region's services answer again) to the last copy, across the fault,
written into a read model (the copy's copied_at): what a user waits for before the other side's
entries are in their calendar. A copy still missing after 120 s fails the run, and so does a
copy across the fault found before it healed (the fault did not hold).

    python -m bench.resume [--rounds 3] [--down-s 5] [--entries 5]

Last line: rounds=… cut_p50_s=… cut_max_s=… hub_p50_s=… hub_max_s=… restart_p50_s=…
restart_max_s=… lost=…"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from bench.common import figures
from bench.federation import REGIONS, copies, entry
from contracts import events as ev
from mapnet.dev.localnet import LocalNetwork
from mapnet.ops.servers import start_and_wait
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient

KINDS = ("cut", "hub", "restart")
numbers = count()


async def publish(client: BusClient, origin: str, entries: int) -> set[str]:
    titles = set()
    for _ in range(entries):
        i = next(numbers)
        await client.call(ev.PUBLISH_EVENT, entry(origin, i), origin)
        titles.add(f"{origin} entry {i}")
    return titles


def origin_of(title: str) -> str:
    return title.split(" ", 1)[0]


async def last_copy(
    net: LocalNetwork, crossing: dict[str, set[str]], timeout_s: float = 120
) -> datetime:
    """When the last of the expected copies (region → titles it must hold) was written; fails
    the run if some are still missing after ``timeout_s``."""
    started = time.perf_counter()
    while True:
        latest, absent = None, {}
        for region, titles in crossing.items():
            found = {d["title"]: d["copied_at"] for d in await copies(net, region)}
            absent[region] = len(titles - set(found))
            for title in titles & set(found):
                at = found[title]
                at = at if at.tzinfo else at.replace(tzinfo=UTC)
                latest = at if latest is None else max(latest, at)
        if not any(absent.values()) and latest is not None:
            return latest
        if time.perf_counter() - started > timeout_s:
            where = ", ".join(f"{region} {n}" for region, n in absent.items() if n)
            print(f"copies still missing {timeout_s:.0f} s after healing: {where}",
                  file=sys.stderr)  # fmt: skip
            print(figures(lost=sum(absent.values())))
            raise SystemExit(1)
        await asyncio.sleep(0.2)


async def crossed_early(net: LocalNetwork, crossing: dict[str, set[str]]) -> dict[str, int]:
    """Per region, how many of the copies that must wait for the healing it holds already: any
    means the fault did not hold, and the time to resume would be measured from a head start."""
    return {
        region: len(titles & {d["title"] for d in await copies(net, region)})
        for region, titles in crossing.items()
    }


def across(titles: set[str], apart: set[str]) -> dict[str, set[str]]:
    """The copies that cross the fault: each region outside ``apart`` needs the entries of the
    regions in it, and each region in it the entries of all the others."""
    return {
        region: {
            t
            for t in titles
            if origin_of(t) != region and (region in apart or origin_of(t) in apart)
        }
        for region in REGIONS
    }


async def one_round(
    net: LocalNetwork, clients: dict[str, BusClient], kind: str, region: str, down_s: float,
    entries: int,
) -> float:  # fmt: skip
    """One fault and its healing; the seconds from healing to the last copy across it."""
    apart = set(REGIONS) if kind == "hub" else {region}
    titles: set[str] = set()
    if kind == "cut":
        await net.cut(region)
    elif kind == "hub":
        net.hub.stop()
    else:
        await clients[region].close()  # its staff's tools are gone with the server
        await net.stop_services(region)
        net.kill_nats(region)
    started = time.perf_counter()
    publishers = REGIONS if kind != "restart" else [r for r in REGIONS if r != region]
    for origin in publishers:
        titles |= await publish(clients[origin], origin, entries)
    await asyncio.sleep(max(0.0, down_s - (time.perf_counter() - started)))
    fault = "hub" if kind == "hub" else f"{kind} of {region}"
    early = await crossed_early(net, across(titles, apart))
    if any(early.values()):
        where = ", ".join(f"into {r} {n}" for r, n in early.items() if n)
        print(f"{fault}: copies crossed it before it healed: {where}", file=sys.stderr)
        print(figures(crossed=sum(early.values())))
        raise SystemExit(1)
    if kind == "cut":
        await net.heal(region)
    elif kind == "hub":
        start_and_wait(net.hub, net.leaf_port)
    else:
        net.restart_nats(region)
        await net.start_services(region)
    healed = datetime.now(UTC)
    if kind == "restart":
        clients[region] = await net.client(region, timeout_s=30)
        titles |= await publish(clients[region], region, entries)
    expected = across(titles, apart)
    resumed = (await last_copy(net, expected) - healed).total_seconds()
    inwards = (await last_copy(net, {region: expected[region]}) - healed).total_seconds()
    print(f"{fault}: copies across it complete {resumed:.2f} s after healing "
          f"(into {region} {inwards:.2f} s)", flush=True)  # fmt: skip
    # The next round starts from a network whose every link is up.
    await net.wait_linked(REGIONS)
    return resumed


async def main(rounds: int, down_s: float, entries: int) -> None:
    logs.configure("WARNING")
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="mapnet-resume-") as tmp:
        async with LocalNetwork(Path(tmp), REGIONS, ("events",), in_process=False) as net:
            clients = {r: await net.client(r, timeout_s=30) for r in REGIONS}
            # Every link copying before the first fault: an entry of each region everywhere.
            warm: set[str] = set()
            for origin in REGIONS:
                warm |= await publish(clients[origin], origin, 1)
            await last_copy(net, across(warm, set(REGIONS)))
            for n in range(rounds):
                for kind in KINDS:
                    region = REGIONS[n % len(REGIONS)]
                    times[kind].append(await one_round(net, clients, kind, region, down_s, entries))
    print(
        figures(
            rounds=rounds,
            **{
                f"{kind}_{name}_s": f"{value(times[kind]):.2f}"
                for kind in KINDS
                for name, value in (("p50", statistics.median), ("max", max))
            },
            lost=0,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind of fault")
    parser.add_argument("--down-s", type=float, default=5.0)
    parser.add_argument("--entries", type=int, default=5, help="per publishing region and round")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.down_s, args.entries))
