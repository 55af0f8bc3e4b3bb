"""Small helpers the tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import monitoring

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], *, until: Callable[[T], bool], timeout_s: float = 15.0
) -> T:
    """Poll until the probe's value satisfies the condition; fail with the last value seen."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s; last value: {value!r}")
        await asyncio.sleep(0.1)


def sme_registered(region: str, sme_id: str = "s1") -> Any:
    """An sme_registered event as the registry would publish it."""
    from contracts.registry import SME_REGISTERED, SmeRegistered
    from mapnet.runtime.codec import make_envelope

    data = SmeRegistered(
        sme_id=sme_id,
        region=region,
        version=1,
        legal_name="Baltic Bio AB",
        country="SE",
        nace_codes=["72.11"],
        clusters=["life-sciences"],
        keywords=[],
        description="",
        size_class="small",
        growth_class="neither",
        stage="identified",
        share_with_network=True,
    )
    return make_envelope(SME_REGISTERED, data, region=region, source=f"mapnet/{region}/registry")


async def published(nats_url: str, op: Any, region: str, at_least: int = 1) -> list[Any]:
    """The data of every event of one kind in the region's stream, oldest first, waiting (up to
    15 s) until there are at least ``at_least`` of them."""
    import json

    import nats
    from nats.errors import TimeoutError as NatsTimeout

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + 15
        while True:
            sub = await js.subscribe(op.subject(region), ordered_consumer=True)
            found = []
            try:
                while True:
                    msg = await sub.next_msg(timeout=0.3)
                    found.append(json.loads(msg.data)["data"])
            except NatsTimeout:
                pass
            await sub.unsubscribe()
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def connect_when_let_in(url: str, **options: Any) -> Any:
    """A partner's first connection: the server reads its configuration again on SIGHUP a
    moment after the signal, and may drop a connection that arrives meanwhile."""
    import nats
    import nats.errors

    for _ in range(100):
        try:
            nc = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, **options)
        except (nats.errors.Error, OSError):
            await asyncio.sleep(0.1)
            continue
        # Let in while the reload was still under way, it may yet be dropped: keep a connection
        # that is still up a moment later.
        await asyncio.sleep(0.5)
        if nc.is_connected:
            try:
                await nc.flush(timeout=2)
                return nc
            except (nats.errors.Error, OSError, TimeoutError):
                pass
        await nc.close()
    raise AssertionError("the server never let the new partner in")


class CommandsSent(monitoring.CommandListener):
    """The commands a database client sends, as (name, collection): for counting what an
    operation costs the one-request-at-a-time database."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command.get(event.command_name))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
