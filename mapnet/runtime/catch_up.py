"""Waiting briefly for a read copy to catch up with what its owner has already confirmed.

A service's copy of another service's records is built from that service's events, a moment
(a second or so from another region) after the owner answered. A command or event that names
such a record may arrive first; it is given a short while before the record counts as absent.
Polling, since the copy may be written by another process of the service."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

Found = TypeVar("Found")

CATCH_UP_S = 3.0
_POLL_S = 0.05


async def once_there(
    look: Callable[[], Awaitable[Found | None]], within_s: float = CATCH_UP_S
) -> Found | None:
    """What ``look`` finds, asked again until it finds something or ``within_s`` has passed."""
    deadline = time.monotonic() + within_s
    found = await look()
    while not found and time.monotonic() < deadline:
        await asyncio.sleep(_POLL_S)
        found = await look()
    return found
