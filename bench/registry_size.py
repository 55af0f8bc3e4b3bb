"""A registry of --smes SMEs (issue 33 item 4): `mapnet registry import` of a CSV of that many
rows, as a user runs it (its progress bar on its stderr), against a registry whose every
database command is counted; the file's first --reimport-rows rows imported again (each
answered with its SME, nothing doubled); then
`search_smes` with filters and text over the whole registry (answered from the registry's
in-memory index, whose size is ``index_mb``; the index is also read once more from the
database, as a registry starting on this registry does, and that time printed); then, for the
ratio, plain motor
``insert_one`` of the same SMEs on a fresh nx-27017 with as many in flight as the import keeps.

The registry runs in this process (the routes, relay and audit of ``mapnet serve registry``)
on a motor client with a ``pymongo.monitoring.CommandListener``: ``db_ops_per_sme`` is the
database commands (round trips; nx-27017 serves one at a time) the registry sent from the
first row to the last event marked sent and audit entry settled, per SME imported;
``db_writes_per_sme`` the documents those commands inserted, updated or deleted (what
MongoDB's opcounters would count), per SME. One row in fifty repeats an earlier row's name
with another registration number: each of those must come back with its near duplicate.

    python -m bench.registry_size [--smes 100000] [--queries 400] [--reimport-rows 10000]

Last line: smes=… import_s=… search_p95_ms=… db_ops_per_sme=… db_writes_per_sme=…
imported_per_s=… raw_insert_per_s=… ratio=… reimported_per_s=… search_p50_ms=…
near_duplicates_missed=… lost=… doubled=… index_mb=…"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from pymongo import monitoring
from pymongo.errors import AutoReconnect
from stdnum.ee.registrikood import calc_check_digit

from bench.common import REGION, each, embedded_servers, figures
from contracts import registry as c
from mapnet.runner import Assembly
from mapnet.runtime import importer, logs, mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.declaration import declaration
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings
from services.registry.adapters.repository import COLLECTION as SMES
from services.registry.adapters.search import SmeSearch

Found = TypeVar("Found")
COLUMNS = ["legal_name", "registration_number", "country", "nace_codes", "clusters",
           "keywords", "description", "founded_on", "figure_year", "staff_headcount",
           "turnover_eur", "share_with_network"]  # fmt: skip
CLUSTERS = ["ict", "photonics", "life-sciences", "cleantech", "maritime", "food", "design",
            "logistics", "fintech", "tourism"]  # fmt: skip
NACE = ["62.01", "63.11", "26.70", "72.11", "21.20", "35.11", "50.20", "10.89", "74.10",
        "52.29", "64.19", "79.11"]  # fmt: skip
WORDS = ["laser", "optics", "cloud", "saas", "vaccine", "biotech", "wind", "solar", "shipping",
         "bakery", "furniture", "freight", "payments", "hostel", "sensor", "robotics", "textile",
         "dairy", "nordic", "baltic", "export", "software", "analytics", "coating"]  # fmt: skip
NEAR_EVERY = 50  # every fiftieth row takes the name of the row 25 before it


def name(i: int) -> str:
    j = i - 25 if i % NEAR_EVERY == NEAR_EVERY - 1 else i
    rng = random.Random(j)
    return f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {j} OÜ"


def row(i: int) -> list[str]:
    rng = random.Random(i)
    number = f"1{i:06d}"
    words = rng.sample(WORDS, 3)
    return [name(i), number + calc_check_digit(number + "0"), "EE",
            ";".join(rng.sample(NACE, rng.randint(1, 2))),
            ";".join(rng.sample(CLUSTERS, rng.randint(1, 2))), ";".join(words[:2]),
            f"We make {words[0]} and {words[2]} for small firms around the Baltic",
            f"{rng.randint(1995, 2024)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}", "2025",
            str(rng.randint(1, 240)), str(rng.randint(50_000, 40_000_000)),
            "yes" if rng.random() < 0.5 else "no"]  # fmt: skip


def write_file(path: Path, rows: int) -> None:
    """The first ``rows`` rows: a shorter file is the start of a longer one, row for row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(row(i) for i in range(rows))


class Counted(monitoring.CommandListener):
    """Every command the driver sends: how many, and how many documents they write."""

    IGNORED = frozenset({"ping", "hello", "ismaster", "isMaster", "endSessions"})

    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in self.IGNORED:
            return
        collection = event.command.get(event.command_name)
        what = (
            f"{event.command_name} {collection}"
            if isinstance(collection, str)
            else (event.command_name)
        )
        self.commands[what] += 1
        for field in ("documents", "updates", "deletes"):
            if isinstance(statements := event.command.get(field), list):
                self.writes[what] += len(statements)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def since(self, before: tuple[Counter[str], Counter[str]]) -> tuple[Counter[str], Counter[str]]:
        return self.commands - before[0], self.writes - before[1]

    def now(self) -> tuple[Counter[str], Counter[str]]:
        return Counter(self.commands), Counter(self.writes)


def registry_runtime(settings: Settings, mongo_url: str, listener: Counted) -> Runtime:
    """The registry as ``mapnet serve registry`` builds it, on a client that counts."""
    counting: mongo.Client = mongo.AsyncIOMotorClient(
        mongo_url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=3000,
        event_listeners=[listener],
    )  # fmt: skip
    declared = declaration("registry")
    config = declared.settings() if declared.settings is not None else None
    rt = Runtime(REGION, "registry", settings, counting, config=config,
                 record_fields=declared.record_fields)  # fmt: skip
    declared.build_routes(rt)
    return rt


def import_command(path: Path, env: dict[str, str], log: Path) -> tuple[int, int, float]:
    """`mapnet registry import` in a process of its own: (loaded, rejected, seconds)."""
    started = time.perf_counter()
    with log.open("w") as output:
        done = subprocess.run(
            [sys.executable, "-m", "mapnet", "registry", "import", str(path), "--region", REGION],
            stdout=output, stderr=subprocess.STDOUT, env=env, check=False,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    said = log.read_text(errors="replace")
    summary = re.search(r"(\d+) SMEs loaded, (\d+) rows rejected", said)
    if summary is None or done.returncode != 0:
        raise RuntimeError(f"the import failed ({done.returncode}):\n{said[-3000:]}")
    return int(summary[1]), int(summary[2]), seconds


async def settled(rt: Runtime, smes: int, timeout_s: float = 600) -> None:
    """Until the relay has sent (and marked) every SME's event and the audit is written."""
    assert rt.relay is not None
    deadline = time.monotonic() + timeout_s
    while rt.relay.waiting or rt.relay.published < smes:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{rt.relay.published} of {smes} events relayed")
        await asyncio.sleep(0.2)
    await rt.audit.drain()


def queries(count: int) -> list[c.SearchSmes]:
    """Filters and text as the portal's registry table sends them, one page of 20 each."""
    rng = random.Random(7)
    made: list[c.SearchSmes] = []
    for i in range(count):
        kind = i % 6
        given: dict[str, Any] = {"limit": 20}
        if kind == 0:
            given["text"] = rng.choice(WORDS)
        elif kind == 1:
            given |= {"text": f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
                      "cluster": rng.choice(CLUSTERS)}  # fmt: skip
        elif kind == 2:
            given |= {"cluster": rng.choice(CLUSTERS), "size_class": "small"}
        elif kind == 3:
            given |= {"nace": rng.choice(NACE), "country": "EE", "sort": "-updated_at"}
        elif kind == 4:
            given["text"] = f"{rng.choice(WORDS)[:4]} {rng.randint(0, 99_999)}"
        else:
            given |= {"stage": "identified", "growth_class": "unknown"}
        made.append(c.SearchSmes.model_validate(given))
    return made


def sme_search(rt: Runtime) -> SmeSearch:
    """The registry's search index, as its routes built it (its stop is a shutdown hook)."""
    owners = [getattr(hook, "__self__", None) for hook in rt.shutdown]
    return next(owner for owner in owners if isinstance(owner, SmeSearch))


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def index_read_again(rt: Runtime) -> None:
    """The index read from the database as a registry starting on it reads it."""
    before = rss_mb()
    started = time.perf_counter()
    fresh = SmeSearch(rt.db, SMES)
    await fresh.start()
    await fresh.loaded()
    print(f"the search index read again in {time.perf_counter() - started:.1f} s: "
          f"{len(fresh.index)} SMEs, {fresh.index.memory_bytes() / 2**20:.1f} MB by its "
          f"count, the process grew {rss_mb() - before:.0f} MB", flush=True)  # fmt: skip


async def search_times(nats_url: str, count: int) -> list[float]:
    client = await BusClient.connect(nats_url, source="mapnet/bench-size", role="map_staff",
                                     timeout_s=60)  # fmt: skip
    took: list[float] = []
    try:
        await client.call(c.SEARCH_SMES, c.SearchSmes(limit=20), REGION)  # a first, not counted
        for query in queries(count):
            started = time.perf_counter()
            await client.call(c.SEARCH_SMES, query, REGION)
            took.append((time.perf_counter() - started) * 1000)
    finally:
        await client.close()
    return took


async def raw_inserts(mongo_url: str, count: int) -> float:
    """Plain motor insert_one of the same rows, as many in flight as the import keeps."""
    coll = mongo.client(mongo_url)["bench_raw"]["smes"]
    docs = [dict(zip(COLUMNS, row(i), strict=True)) | {"_id": f"raw-{i}"} for i in range(count)]
    started = time.perf_counter()
    await each(docs, coll.insert_one, importer.IN_FLIGHT)
    return count / (time.perf_counter() - started)


async def stored_and_flagged(rt: Runtime) -> tuple[int, int]:
    """The SMEs stored, and those stored with a near duplicate."""
    stored = await rt.db.smes.count_documents({})
    found = rt.db.smes.find({}, {"near_duplicates": 1})
    return stored, len([d async for d in found if d.get("near_duplicates")])


async def again_if_cancelled(read: Callable[[], Awaitable[Found]]) -> Found:
    """A read of the whole registry, again if the driver cancelled it: on a loaded machine its
    check of nx-27017 (busy with one request at a time) times out now and then, and it then
    cancels what is in flight."""
    for attempt in range(3):
        try:
            return await read()
        except AutoReconnect:
            if attempt == 2:
                raise
            await asyncio.sleep(5)
    raise AssertionError("unreachable")


def per_sme(counts: Counter[str], smes: int) -> float:
    return round(sum(counts.values()) / max(smes, 1), 2)


async def main(smes: int, query_count: int, reimport_rows: int) -> None:
    logs.configure("WARNING")
    listener = Counted()
    with tempfile.TemporaryDirectory(prefix="mapnet-size-") as tmp:
        home = Path(tmp)
        path = home / "smes.csv"
        write_file(path, smes)
        again_path = home / "again.csv"
        write_file(again_path, min(reimport_rows, smes))
        print(f"{smes} rows, {path.stat().st_size / 2**20:.1f} MB", flush=True)
        with embedded_servers() as (nats_url, mongo_url):
            given = {"MAPNET_REGIONS": REGION, "NATS_URL": nats_url, "MONGO_URL": mongo_url}
            settings = Settings.model_validate(given)
            rt = registry_runtime(settings, mongo_url, listener)
            async with Assembly(settings, [], [REGION], runtimes=[rt]):
                env = {**os.environ, "NATS_URL": nats_url, "MAPNET_REGIONS": REGION,
                       "MAPNET_HOME": str(home / "mapnet-home")}  # fmt: skip
                before = listener.now()
                loaded, rejected, import_s = await asyncio.to_thread(
                    import_command, path, env, home / "import.log"
                )
                await settled(rt, loaded)
                commands, writes = listener.since(before)
                print(f"imported {loaded} in {import_s:.1f} s, {rejected} rejected", flush=True)
                for what, n in commands.most_common():
                    print(f"  {what}: {n} commands, {writes[what]} documents written")
                before = listener.now()
                again, _, reimport_s = await asyncio.to_thread(
                    import_command, again_path, env, home / "again.log"
                )
                await rt.audit.drain()
                again_commands, _ = listener.since(before)
                print(f"the first {again} imported again in {reimport_s:.1f} s, "
                      f"{per_sme(again_commands, again)} commands each", flush=True)  # fmt: skip
                search = sme_search(rt)
                await search.loaded()
                took = await search_times(nats_url, query_count)
                index_mb = search.index.memory_bytes() / 2**20
                print(f"{len(took)} searches: p50 {statistics.median(took):.1f} ms, p95 "
                      f"{sorted(took)[int(len(took) * 0.95) - 1]:.1f} ms", flush=True)  # fmt: skip
                await index_read_again(rt)
                stored, flagged = await again_if_cancelled(lambda: stored_and_flagged(rt))
        with embedded_servers() as (_, fresh_mongo_url):
            raw = await raw_inserts(fresh_mongo_url, smes)
    imported_per_s = loaded / import_s
    took.sort()
    print(
        figures(
            smes=smes,
            import_s=round(import_s, 1),
            search_p95_ms=round(took[int(len(took) * 0.95) - 1], 1),
            db_ops_per_sme=per_sme(commands, loaded),
            db_writes_per_sme=per_sme(writes, loaded),
            imported_per_s=round(imported_per_s),
            raw_insert_per_s=round(raw),
            ratio=round(imported_per_s / raw, 3),
            reimported_per_s=round(again / reimport_s),
            search_p50_ms=round(statistics.median(took), 1),
            near_duplicates_missed=smes // NEAR_EVERY - flagged,
            lost=max(0, smes - rejected - stored) + abs(again - min(reimport_rows, smes)),
            doubled=max(0, stored - (smes - rejected)),
            index_mb=round(index_mb, 1),
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smes", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--reimport-rows", type=int, default=10_000,
                        help="the file's first rows imported again")  # fmt: skip
    args: Any = parser.parse_args()
    asyncio.run(main(args.smes, args.queries, args.reimport_rows))
