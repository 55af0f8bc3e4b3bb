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
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nats.errors
from nats.aio.client import Client as NATS
from nats.js.api import ExternalStream, StreamSource
from nats.js.errors import NotFoundError

from contracts.subjects import network_stream, shared_stream
from mapnet.runtime.bus import ensure_network_stream

from .config import deliver_prefix

PROBE_TIMEOUT_S = 1.0
# A source that has not moved for this long while its origin holds more is restarted.
STALL_S = 3.0
# ...and not more often than this, in case the counts can never agree.
RESTART_EVERY_S = 30.0
# While every source is in and every copy complete, the keeper looks twice as late each time,
# up to this: each look asks every other region across the hub, and ten idle regions looking
# every second kept their servers and the hub busy for nothing (issue 33). Anything to do (a
# source missing, an origin silent, a copy behind or moving) brings it back to every second.
STEADY_MAX_S = 8.0
# While steady, a look is the region's own server's word on each source (one local request):
# NATS hears from every source's consumer at least once a second (its heartbeat), so a source
# heard from within STALL_S, with nothing left to copy (lag 0) and no error, needs nothing
# from the keeper. Asking every origin across the hub (nine requests a look in a network of
# ten) is then done at least this often, for what the local word could miss.
ORIGINS_EVERY_S = 60.0


def source_of(origin: str, region: str) -> StreamSource:
    """Region's source of origin's shared stream, delivered under a subject of that pair only
    (the hub lets no other region deliver there), and only the origin's own subjects: whatever
    else an origin's operator puts in its shared stream does not reach this region as another
    region's event (the consumers also refuse an envelope whose region is not its subject's)."""
    return StreamSource(
        name=shared_stream(origin),
        filter_subject=f"mapnet.{origin}.>",
        external=ExternalStream(api=f"$JS.{origin}.API", deliver=deliver_prefix(origin, region)),
    )


def origin_of(source_name: str) -> str:
    return source_name.removesuffix("_SHARED").lower()


@dataclass(frozen=True)
class OriginState:
    messages: int
    created: datetime | None


async def origin_state(
    nc: NATS, origin: str, timeout_s: float = PROBE_TIMEOUT_S
) -> OriginState | None:
    """The origin region's shared stream as seen across the hub: how many messages it holds and
    when it was created (a new time: the stream was recreated); None when it does not answer."""
    try:
        js = nc.jetstream(domain=origin, timeout=timeout_s)
        info = await js.stream_info(shared_stream(origin))
    except (TimeoutError, nats.errors.Error):
        # No answer across the hub (timeout, no responders, the link or connection down) or
        # an answer that the stream is not there (yet): the origin does not answer now.
        return None
    return OriginState(info.state.messages, info.created)


async def origin_answers(nc: NATS, origin: str) -> bool:
    return await origin_state(nc, origin) is not None


async def copied_per_origin(nc: NATS, region: str) -> dict[str, int]:
    """How many messages of each origin this region's network stream holds, in one request."""
    info = await nc.jetstream().stream_info(network_stream(region), subjects_filter="mapnet.>")
    held: dict[str, int] = {}
    for subject, messages in (info.state.subjects or {}).items():
        origin = subject.split(".", 2)[1]
        held[origin] = held.get(origin, 0) + messages
    return held


@dataclass
class _Progress:
    copied: int = -1
    since: float = 0.0
    restarted: float = -RESTART_EVERY_S
    created: datetime | None = None


class LinkKeeper:
    """Adds each other region's shared stream to this region's network stream as soon as it
    answers, and restarts a source that stopped while its origin has more (after the origin's
    server restarted, NATS itself took ~38 s to resume it here). Several keepers of one region
    (one per service process) agree: each only adds, and a restart resumes where the copy is."""

    def __init__(
        self, nc: NATS, region: str, network: list[str], log: Any, interval_s: float = 1.0
    ) -> None:
        self.nc = nc
        self.region = region
        self.others = [r for r in network if r != region]
        self.log = log
        self.interval_s = interval_s
        self._progress = {r: _Progress() for r in self.others}
        self._task: asyncio.Task[None] | None = None
        # Whether the last look found every source in, every origin answering, every copy
        # complete and nothing moving: the next look may then wait longer.
        self.steady = False
        # When the keeper last asked the origins (monotonic).
        self.origins_asked = -ORIGINS_EVERY_S

    def start(self) -> None:
        if self.others:
            self._task = asyncio.create_task(self._run(), name=f"link-keeper-{self.region}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        wait_s = self.interval_s
        while True:
            try:
                if self.steady and time.monotonic() - self.origins_asked < ORIGINS_EVERY_S:
                    self.steady = await self.sources_heard_from()
                else:
                    self.steady = False
                if not self.steady:  # ask the origins across the hub
                    self.origins_asked = time.monotonic()
                    missing = await self.add_answering_sources()
                    restarted = await self.restart_stalled_sources()
                    self.steady = self.steady and not missing and not restarted
            except (TimeoutError, nats.errors.Error) as exc:
                # The local server restarting, or the hub away: try again.
                self.log.warning("link_keeper_failed", error=f"{type(exc).__name__}: {exc}")
                self.steady = False
            except Exception:
                # A fault of ours: shown with its traceback, and the keeper goes on, since a
                # task that died here would stop the copies without a word.
                self.log.exception("link_keeper_fault")
                self.steady = False
            steady_max = max(STEADY_MAX_S, self.interval_s)
            wait_s = min(wait_s * 2, steady_max) if self.steady else self.interval_s
            await asyncio.sleep(wait_s)

    async def _network(self) -> Any:
        return await ensure_network_stream(self.nc.jetstream(), self.region)

    async def sources_heard_from(self) -> bool:
        """Whether this region's server has every other region's source, each heard from
        within STALL_S, with nothing left to copy and no error: the local word, no request
        across the hub."""
        info = await self._network()
        heard = {s.name: s for s in info.sources or []}
        for origin in self.others:
            source = heard.get(shared_stream(origin))
            if source is None or source.error or source.lag or source.active is None:
                return False
            if source.active > STALL_S * 1e9:  # nanoseconds since NATS last heard from it
                return False
        return True

    async def add_answering_sources(self) -> list[str]:
        """Add the sources that answer now; answer the regions still missing."""
        info = await self._network()
        sources = list(info.config.sources or [])
        have = {s.name for s in sources}
        missing = [r for r in self.others if shared_stream(r) not in have]
        answers = await asyncio.gather(*(origin_answers(self.nc, r) for r in missing))
        answering = [r for r, answers_now in zip(missing, answers, strict=True) if answers_now]
        if answering:
            config = info.config
            config.sources = sources + [source_of(r, self.region) for r in answering]
            await self.nc.jetstream().update_stream(config)
            self.log.info("network_sources_added", regions=answering)
        return [r for r in missing if r not in answering]

    async def restart_stalled_sources(self) -> list[str]:
        """Restart each source that stands still while its origin holds more, and copy anew
        from the start each origin whose shared stream was recreated (NATS would go on asking
        it for sequence numbers after the last one of the old stream, missing the new ones)."""
        info = await self._network()
        now = time.monotonic()
        stalled, recreated = [], []
        origins = [origin_of(source.name) for source in info.config.sources or []]
        # Side by side: an origin that does not answer costs its timeout once, not once each.
        states = await asyncio.gather(*(origin_state(self.nc, origin) for origin in origins))
        held = await copied_per_origin(self.nc, self.region)
        steady = len(origins) == len(self.others)
        for origin, state in zip(origins, states, strict=True):
            progress = self._progress.get(origin)
            if progress is None or state is None:
                steady = steady and progress is None  # a silent origin: look every second
                continue
            if progress.created not in (None, state.created):
                recreated.append(origin)
            progress.created = state.created
            copied = held.get(origin, 0)
            steady = steady and copied == progress.copied and copied >= state.messages
            if copied != progress.copied:
                progress.copied, progress.since = copied, now
                continue
            if now - progress.since < STALL_S or now - progress.restarted < RESTART_EVERY_S:
                continue
            if state.messages > copied:
                stalled.append(origin)
                progress.restarted = now
        if stalled or recreated:
            await self._readd(info.config, stalled + recreated, purge=recreated)
            self.log.info("network_sources_restarted", stalled=stalled, recreated=recreated)
        self.steady = steady and not (stalled or recreated)
        return stalled + recreated

    async def _readd(self, config: Any, origins: list[str], purge: list[str]) -> None:
        """Taking a source out and back in makes NATS create its consumer on the origin again at
        once, from the last message this stream holds of it: none, for an origin purged here."""
        js = self.nc.jetstream()
        kept = [s for s in config.sources or [] if origin_of(s.name) not in origins]
        config.sources = kept
        await js.update_stream(config)
        for origin in purge:
            await js.purge_stream(network_stream(self.region), subject=f"mapnet.{origin}.>")
        config.sources = kept + [source_of(r, self.region) for r in origins]
        await js.update_stream(config)


async def replication(
    nc: NATS, region: str, others: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Per other region: how many of the messages it shares this region's copy still lacks,
    and when NATS last saw its source active. Each of ``others`` whose source the stream does
    not hold now (not yet added, or taken out for a moment by the link keeper's restart) shows
    as waiting rather than missing from the answer."""
    js = nc.jetstream()
    try:
        info = await js.stream_info(network_stream(region))
    except NotFoundError:
        return {}
    linked = {s.name: s for s in info.sources or []}
    copied = await copied_per_origin(nc, region)

    async def one(origin: str, state: Any) -> dict[str, Any]:
        if state is None:
            return {"state": "waiting", "behind": None, "active_ms": None}
        origin_now = await origin_state(nc, origin)
        held = None if origin_now is None else origin_now.messages
        behind = None if held is None else max(0, held - copied.get(origin, 0))
        return {
            "state": "unreachable" if held is None else "copying" if behind == 0 else "behind",
            "behind": behind,
            "active_ms": round(state.active / 1e6) if state.active is not None else None,
            "error": (state.error or {}).get("description"),
        }

    # Side by side: an origin that does not answer costs its timeout once, not once per origin.
    origins = [origin_of(s.name) for s in info.config.sources or []]
    states = [linked.get(s.name) for s in info.config.sources or []]
    for absent in [o for o in others or [] if o not in origins]:
        origins.append(absent)
        states.append(None)
    reports = await asyncio.gather(*(one(o, st) for o, st in zip(origins, states, strict=True)))
    return dict(zip(origins, reports, strict=True))
