"""Small helpers the tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
