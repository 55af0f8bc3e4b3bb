"""uvicorn's server, waking only when it has something to do (issue 33: ten idle regions).

uvicorn's main loop wakes ten times a second to see whether it was asked to stop, and once a
second of those to renew the Date header of its answers. In a service process that serves the
portal (and the probes), that was twenty wake-ups a second per region with nothing to do.
``QuietServer`` renews the Date header once a second, as uvicorn does, and is woken at once
when asked to stop (``should_exit`` set), rather than finding out at its next tick."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

# The Date header is in whole seconds: renewing it once a second keeps it right.
TICK_S = 1.0
# uvicorn's on_tick renews the Date header on every tenth of its 0.1 s ticks.
_TICKS_PER_S = 10


class QuietServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        self._exit_asked = asyncio.Event()
        super().__init__(config)

    @property
    def should_exit(self) -> bool:
        return self._exit_asked.is_set()

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        # Set from a signal handler too (uvicorn's own): the loop may then notice it only at
        # the next tick, within TICK_S, as uvicorn itself would within its 0.1 s.
        if value:
            self._exit_asked.set()
        else:
            self._exit_asked.clear()

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + _TICKS_PER_S) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_asked.wait(), TICK_S)
            should_exit = await self.on_tick(counter)
