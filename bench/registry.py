"""Register N SMEs through the bus with concurrent clients, then insert the same documents with
plain motor insert_one, with as many at once, in the same run. The plain inserts go to a fresh
nx-27017 once the registry has stopped: the registry's outbox scan holds the database while it
reads every record, and its process would otherwise share the cores with the baseline.

Last line: smes=… registered_per_s=… raw_insert_per_s=… lost=…
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from stdnum.ee.registrikood import calc_check_digit

from bench.common import REGION, each, embedded_servers, figures, serving
from contracts import registry as c
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient


def sme(i: int) -> c.RegisterSme:
    return c.RegisterSme.model_validate(
        {
            "legal_name": f"Bench Company {i} OÜ",
            "registration_number": f"1{i:06d}" + calc_check_digit(f"1{i:06d}0"),
            "country": "EE",
            "nace_codes": ["62.01"],
            "clusters": ["ict"],
            "keywords": ["saas"],
            "description": "A company registered by the benchmark",
            "founded_on": "2020-01-01",
            "figures": [{"year": 2025, "staff_headcount": 12, "turnover_eur": "1500000"}],
        }
    )


async def through_bus(nats_url: str, count: int, concurrency: int) -> float:
    client = await BusClient.connect(nats_url, source="mapnet/bench", timeout_s=30)
    # Made before the clock starts, as the raw inserts' documents are.
    commands = [sme(i) for i in range(count)]
    started = time.perf_counter()
    await each(commands, lambda command: client.call(c.REGISTER_SME, command, REGION), concurrency)
    elapsed = time.perf_counter() - started
    await client.close()
    return count / elapsed


async def raw_inserts(mongo_url: str, count: int, concurrency: int) -> float:
    coll = mongo.client(mongo_url)["bench_raw"]["smes"]
    docs = [{"_id": f"raw-{i}", **sme(i).model_dump(mode="json")} for i in range(count)]
    started = time.perf_counter()
    await each(docs, coll.insert_one, concurrency)
    return count / (time.perf_counter() - started)


async def main(count: int, concurrency: int) -> None:
    with embedded_servers() as (nats_url, mongo_url), tempfile.TemporaryDirectory() as tmp:
        async with serving("registry", nats_url, mongo_url, Path(tmp)):
            registered = await through_bus(nats_url, count, concurrency)
            print(f"through the bus: {registered:,.0f} SMEs/s", flush=True)
        stored = await mongo.database(
            mongo.client(mongo_url), REGION, "registry"
        ).smes.count_documents({})
    # The registry's servers are gone with it: the baseline has the machine to itself.
    with embedded_servers() as (_, fresh_mongo_url):
        raw = await raw_inserts(fresh_mongo_url, count, concurrency)
        print(f"plain motor insert_one: {raw:,.0f} docs/s", flush=True)
    print(
        figures(
            smes=count,
            registered_per_s=round(registered),
            raw_insert_per_s=round(raw),
            lost=count - stored,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smes", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args: Any = parser.parse_args()
    asyncio.run(main(args.smes, args.concurrency))
