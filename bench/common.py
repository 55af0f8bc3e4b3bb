"""Embedded servers for a benchmark run, and the figures line every benchmark ends with."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from mapnet.ops.servers import Managed, embedded_pair
from mapnet.ops.status import wait_until_up

REGION = "bench"


@contextmanager
def embedded_servers() -> Iterator[tuple[str, str]]:
    """A fresh NATS (JetStream, sync_interval always, as in production) and nx-27017."""
    with (
        tempfile.TemporaryDirectory(prefix="mapnet-bench-") as tmp,
        embedded_pair("bench", Path(tmp)) as urls,
    ):
        yield urls


def service_process(service: str, nats_url: str, mongo_url: str, logs: Path, **env: str) -> Managed:
    """``mapnet serve <service>`` for the bench region, not started: a benchmark that kills and
    restarts it (bench/failover.py) holds it itself."""
    environment = {**os.environ, "NATS_URL": nats_url, "MONGO_URL": mongo_url,
                   "MAPNET_REGIONS": REGION, "MAPNET_LOG_LEVEL": "WARNING", **env}  # fmt: skip
    return Managed(service, [sys.executable, "-m", "mapnet", "serve", service],
                   logs / f"{service}.log", env=environment)  # fmt: skip


@asynccontextmanager
async def serving(
    service: str,
    nats_url: str,
    mongo_url: str,
    logs: Path,
    waits_for: Sequence[str] | None = None,
    **env: str,
) -> AsyncIterator[Managed]:
    """``mapnet serve <service>`` for the bench region in a process of its own, on the bench's
    servers, until its services (``waits_for``, else itself) answer; stopped on leaving."""
    process = service_process(service, nats_url, mongo_url, logs, **env)
    process.start()
    try:
        await wait_until_up(REGION, nats_url, list(waits_for or [service]))
        yield process
    finally:
        process.stop()


async def caught_up(nc: Any, timeout_s: float = 600) -> float:
    """Until every consumer of every stream has taken and acknowledged all it was sent (the
    services' read models hold what was published); the seconds it took."""
    started = time.perf_counter()
    jsm = nc.jsm()
    while time.perf_counter() - started < timeout_s:
        behind = 0
        for stream in await jsm.streams_info():
            for consumer in await jsm.consumers_info(stream.config.name):
                behind += consumer.num_pending + consumer.num_ack_pending
        if behind == 0:
            return time.perf_counter() - started
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the consumers did not catch up in {timeout_s:.0f} s")


async def each(
    items: Iterable[Any], act: Callable[[Any], Awaitable[Any]], concurrency: int
) -> None:
    """``act`` on every item, in order, with at most ``concurrency`` under way at once."""
    queue = iter(items)

    async def worker() -> None:
        for item in queue:
            await act(item)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a running process so far (Linux's VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def figures(**values: object) -> str:
    return " ".join(f"{key}={value}" for key, value in values.items())
