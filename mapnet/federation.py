"""A region in the network: its network stream sources the other regions' shared streams across
JetStream domains (NATS does the copying), and this module decides when to add each source and
reports how the copying goes.

Why sources are added only once the other region answers: a source whose origin is not there
yet (its leaf link not up, its stream not created) is retried by NATS with a back-off; measured
with nats-server 2.15.1, copying then starts only ~40 s later. Adding it when the origin's shared
stream answers makes copying start at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.api import ExternalStream, StreamSource
from nats.js.errors import NotFoundError

from contracts.subjects import network_stream, shared_stream

from .bus import network_stream_config

PROBE_TIMEOUT_S = 1.0


def source_of(origin: str) -> StreamSource:
    return StreamSource(
        name=shared_stream(origin), external=ExternalStream(api=f"$JS.{origin}.API")
    )


async def origin_answers(nc: NATS, origin: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the origin region's shared stream can be reached from here across the hub."""
    try:
        js = nc.jetstream(domain=origin, timeout=timeout_s)
        await js.stream_info(shared_stream(origin))
    except Exception:
        return False
    return True


class LinkKeeper:
    """Adds each other region's shared stream to this region's network stream as soon as it
    answers. Several keepers of one region (one per service process) agree: each only adds."""

    def __init__(
        self, nc: NATS, region: str, network: list[str], log: Any, interval_s: float = 1.0
    ) -> None:
        self.nc = nc
        self.region = region
        self.others = [r for r in network if r != region]
        self.log = log
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.others:
            self._task = asyncio.create_task(self._run(), name=f"link-keeper-{self.region}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                missing = await self.add_answering_sources()
            except Exception as exc:  # the local server restarting: try again
                self.log.warning("link_keeper_failed", error=f"{type(exc).__name__}: {exc}")
                missing = self.others
            # All linked: look again now and then, in case the stream was recreated.
            await asyncio.sleep(self.interval_s if missing else 10 * self.interval_s)

    async def add_answering_sources(self) -> list[str]:
        """Add the sources that answer now; answer the regions still missing."""
        js = self.nc.jetstream()
        try:
            info = await js.stream_info(network_stream(self.region))
        except NotFoundError:
            await js.add_stream(network_stream_config(self.region))
            info = await js.stream_info(network_stream(self.region))
        sources = list(info.config.sources or [])
        have = {s.name for s in sources}
        missing = [r for r in self.others if shared_stream(r) not in have]
        answering = [r for r in missing if await origin_answers(self.nc, r)]
        if answering:
            config = info.config
            config.sources = sources + [source_of(r) for r in answering]
            await js.update_stream(config)
            self.log.info("network_sources_added", regions=answering)
        return [r for r in missing if r not in answering]


async def replication(nc: NATS, region: str) -> dict[str, dict[str, Any]]:
    """Per other region: how far this region's copy is behind (messages) and when the source
    was last active; a region not yet linked shows as waiting."""
    js = nc.jetstream()
    try:
        info = await js.stream_info(network_stream(region))
    except NotFoundError:
        return {}
    linked = {s.name: s for s in info.sources or []}
    report: dict[str, dict[str, Any]] = {}
    for source in info.config.sources or []:
        origin = source.name.removesuffix("_SHARED").lower()
        state = linked.get(source.name)
        if state is None:
            report[origin] = {"state": "waiting", "lag": None, "active_ms": None}
            continue
        active_ms = round(state.active / 1e6) if state.active is not None else None
        flowing = active_ms is not None and active_ms < 5000 and state.error is None
        report[origin] = {
            "state": "copying" if flowing else "stalled",
            "lag": state.lag,
            "active_ms": active_ms,
            "error": (state.error or {}).get("description"),
        }
    return report
