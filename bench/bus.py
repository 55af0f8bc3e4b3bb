"""JetStream publish and consume of N events: raw nats-py, then MAPnet's own path (envelope,
validation, Nats-Msg-Id, durable idempotent consumer) on the same server in the same run.

Last line: raw_msgs_per_s=… pipeline_msgs_per_s=… ratio=…

With ``--processes 2`` (issue 32 item 7) it then measures what a second process of a service
brings, as `mapnet up --scale matching=2` runs it: the real matching service (`mapnet serve
matching`, its own process) takes ``--service-events`` sme_registered events into its read
model, first in one process, then in two sharing its durable consumer; the rate is from the
first publish until matching's consumers have acknowledged every event. The last line gains
processes=… one_process_msgs_per_s=… processes_msgs_per_s=… speedup=… redelivered=…
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from nats.js.api import StreamConfig

from bench.common import REGION, embedded_servers, figures
from contracts.envelope import Envelope
from contracts.registry import SME_REGISTERED, SmeRegistered
from contracts.subjects import stream_name
from mapnet.ops.servers import Managed
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


def matching_process(nats_url: str, mongo_url: str, logs_dir: Path, n: int) -> Managed:
    """`mapnet serve matching` for the bench region, as `mapnet up --scale` starts each."""
    env = {**os.environ, "NATS_URL": nats_url, "MONGO_URL": mongo_url, "MAPNET_REGIONS": REGION,
           "MAPNET_LOG_LEVEL": "INFO"}  # fmt: skip
    process = Managed(f"matching-{n}", [sys.executable, "-m", "mapnet", "serve", "matching"],
                      logs_dir / f"matching-{n}.log", env=env)  # fmt: skip
    process.start()
    return process


async def until_ready(process: Managed, timeout_s: float = 120) -> None:
    """Until the process holds all its subscriptions (it says service_ready)."""
    deadline = time.monotonic() + timeout_s
    while "service_ready" not in process.tail(200):
        if not process.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} did not start:\n{process.tail()}")
        await asyncio.sleep(0.2)


async def taken(js: Any, first: int, count: int) -> tuple[float, int]:
    """Publish ``count`` sme_registered events (ids from ``first``) and wait until matching's
    consumers of the registry's stream have acknowledged them all: (events per second, how
    many were redelivered, by all of its consumers so far)."""
    stream = stream_name(REGION, "registry")
    started = time.perf_counter()
    for i in range(first, first + count):
        env = event(i)
        await js.publish_async(
            SME_REGISTERED.subject(REGION), encode(env), headers={"Nats-Msg-Id": env.id}
        )
    await js.publish_async_completed()
    while True:
        # Stored once published, so counted as pending by each consumer whose filter takes it.
        infos = [c for c in await js.consumers_info(stream) if "matching" in c.name]
        if infos and all(c.num_pending == c.num_ack_pending == 0 for c in infos):
            return count / (time.perf_counter() - started), sum(c.num_redelivered for c in infos)
        await asyncio.sleep(0.05)


async def scaled(count: int, processes: int) -> tuple[float, float, int]:
    """matching's rate with one process, then with ``processes`` (on fresh servers: the
    pipeline's stand-in consumer above took matching's durable name)."""
    with (
        embedded_servers() as (nats_url, mongo_url),
        tempfile.TemporaryDirectory(prefix="mapnet-bench-bus-") as tmp,
    ):
        running = [matching_process(nats_url, mongo_url, Path(tmp), 1)]
        nc = await nats.connect(nats_url)
        try:
            await until_ready(running[0])
            js = nc.jetstream(publish_async_max_pending=4000)
            await taken(js, 10_000_000, min(count, 200))  # warm: first reads, caches, JIT-free
            one, _ = await taken(js, 0, count)
            print(f"matching, 1 process: {one:,.0f} msgs/s", flush=True)
            for n in range(2, processes + 1):
                running.append(matching_process(nats_url, mongo_url, Path(tmp), n))
            await asyncio.gather(*(until_ready(p) for p in running))
            more, redelivered = await taken(js, count, count)
            print(f"matching, {processes} processes: {more:,.0f} msgs/s", flush=True)
        finally:
            await nc.close()
            for process in running:
                process.ask_to_stop()
            for process in running:
                process.wait_stopped()
    return one, more, redelivered


async def main(count: int, processes: int, service_count: int) -> None:
    logs.configure("WARNING")
    payload = encode(event(0))
    with embedded_servers() as (nats_url, mongo_url):
        raw_rate = await raw(nats_url, count, payload)
        print(f"raw nats-py: {raw_rate:,.0f} msgs/s", flush=True)
        pipe_rate = await pipeline(nats_url, mongo_url, count)
        print(f"MAPnet pipeline: {pipe_rate:,.0f} msgs/s", flush=True)
    found: dict[str, Any] = {
        "raw_msgs_per_s": round(raw_rate),
        "pipeline_msgs_per_s": round(pipe_rate),
        "ratio": round(pipe_rate / raw_rate, 3),
    }
    if processes > 1:
        one, more, redelivered = await scaled(service_count, processes)
        found |= {
            "processes": processes,
            "one_process_msgs_per_s": round(one),
            "processes_msgs_per_s": round(more),
            "speedup": round(more / one, 2),
            "redelivered": redelivered,
        }
    print(figures(**found))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument(
        "--processes", type=int, default=1, choices=range(1, 9), metavar="{1..8}",
        help="also measure the matching service in one process and in this many",
    )  # fmt: skip
    parser.add_argument("--service-events", type=int, default=5_000,
                        help="events for the matching service in each of its runs")  # fmt: skip
    args: Any = parser.parse_args()
    asyncio.run(main(args.events, args.processes, args.service_events))
