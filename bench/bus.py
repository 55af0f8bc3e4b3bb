"""JetStream publish and consume of N events: raw nats-py, then MAPnet's own path (envelope,
validation, Nats-Msg-Id, durable idempotent consumer) on the same server in the same run.

Last line: raw_msgs_per_s=… pipeline_msgs_per_s=… ratio=…
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import nats
from nats.js.api import StreamConfig

from bench.common import REGION, embedded_servers, figures
from contracts.envelope import Envelope
from contracts.registry import SME_REGISTERED, SmeRegistered
from mapnet.runner import Assembly
from mapnet.runtime import logs, mongo
from mapnet.runtime.codec import encode, make_envelope
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings


def event(i: int) -> Envelope[SmeRegistered]:
    data = SmeRegistered(
        sme_id=f"sme-{i}",
        region=REGION,
        version=1,
        legal_name=f"Company {i} Oy",
        country="FI",
        nace_codes=["62.01"],
        clusters=["ict"],
        keywords=["cloud", "iot"],
        description="x" * 200,
        size_class="small",
        growth_class="neither",
        stage="identified",
        share_with_network=True,
    )
    return make_envelope(SME_REGISTERED, data, region=REGION, source="mapnet/bench/registry")


async def raw(nats_url: str, count: int, payload: bytes) -> float:
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=4000)
    await js.add_stream(StreamConfig(name="RAW", subjects=["raw.>"]))
    sub = await js.pull_subscribe("raw.x", durable="raw", stream="RAW")
    started = time.perf_counter()

    async def consume() -> None:
        got = 0
        while got < count:
            try:
                msgs = await sub.fetch(256, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for msg in msgs:
                await msg.ack()
            got += len(msgs)

    consumer = asyncio.create_task(consume())
    for _ in range(count):
        await js.publish_async("raw.x", payload)
    await js.publish_async_completed()
    await consumer
    elapsed = time.perf_counter() - started
    await nc.close()
    return count / elapsed


async def pipeline(nats_url: str, mongo_url: str, count: int) -> float:
    settings = Settings.model_validate(
        {"MAPNET_REGIONS": REGION, "NATS_URL": nats_url, "MONGO_URL": mongo_url}
    )
    seen: set[str] = set()
    done = asyncio.Event()
    rt = Runtime(REGION, "matching", settings, mongo.client(mongo_url))

    @rt.consumes(SME_REGISTERED)
    async def on_registered(env: Envelope[SmeRegistered]) -> None:
        seen.add(env.data.sme_id)
        if len(seen) >= count:
            done.set()

    async with Assembly(settings, [], [REGION], runtimes=[rt]):
        nc = await nats.connect(nats_url)
        js = nc.jetstream(publish_async_max_pending=4000)
        started = time.perf_counter()
        for i in range(count):
            env = event(i)
            await js.publish_async(
                SME_REGISTERED.subject(REGION), encode(env), headers={"Nats-Msg-Id": env.id}
            )
        await js.publish_async_completed()
        await done.wait()
        elapsed = time.perf_counter() - started
        await nc.close()
    return count / elapsed


async def main(count: int) -> None:
    logs.configure("WARNING")
    payload = encode(event(0))
    with embedded_servers() as (nats_url, mongo_url):
        raw_rate = await raw(nats_url, count, payload)
        print(f"raw nats-py: {raw_rate:,.0f} msgs/s", flush=True)
        pipe_rate = await pipeline(nats_url, mongo_url, count)
        print(f"MAPnet pipeline: {pipe_rate:,.0f} msgs/s", flush=True)
    print(
        figures(
            raw_msgs_per_s=round(raw_rate),
            pipeline_msgs_per_s=round(pipe_rate),
            ratio=round(pipe_rate / raw_rate, 3),
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    args: Any = parser.parse_args()
    asyncio.run(main(args.events))
