"""Embedded servers for a benchmark run, and the figures line every benchmark ends with."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mapnet.servers import embedded_pair
from mapnet.status import region_health


@contextmanager
def embedded_servers() -> Iterator[tuple[str, str]]:
    """A fresh NATS (JetStream, sync_interval always, as in production) and nx-27017."""
    with (
        tempfile.TemporaryDirectory(prefix="mapnet-bench-") as tmp,
        embedded_pair("bench", Path(tmp)) as urls,
    ):
        yield urls


async def wait_until_up(region: str, service: str, nats_url: str) -> None:
    """Until the service answers its health query (a minute at most)."""
    for _ in range(300):
        health = await region_health(region, nats_url)
        if health["services"][service].get("status") == "ok":
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the {service} service did not start")


def figures(**values: object) -> str:
    return " ".join(f"{key}={value}" for key, value in values.items())
