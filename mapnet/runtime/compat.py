"""Work-arounds for the libraries' versions we run on, in one place.

faststream 0.7's batch pull loop keeps fetching until its batch is full or its timeout (0.2 s
here) has run out. At the rates a region sees, a batch is never full, so every event waited for
the rest of the 0.2 s at every consumer it passed: the federation benchmark's copies were
0.1 s late at the median for that alone. ``_take_what_is_there`` hands a batch on as soon as
nats-py's ``fetch`` returns it (nats-py waits for the first message, then takes whatever else
the server already holds, up to the batch size). Under load, events pile up while a batch is
handled, so the next fetch still takes many.

The loop also caught only ``nats.errors.TimeoutError``, and nats-py 2.16 ``fetch`` raises the
built-in ``TimeoutError`` when the deadline has run out before its second pull request: the task
died with the messages it had fetched, which then waited for redelivery after the ack wait
(30 s). Here every timeout is caught, and no fetched message is held across fetches.

fast-depends 3.0 runs a custom field's ``use`` in a worker thread when it is not a coroutine
function, and FastStream's ``Context`` has a plain ``use``: every message a handler takes
``Context("message")`` for made a round trip through anyio's thread pool (a registration spent
about a tenth of its time on it, the GIL handed back and forth). ``message_context`` is the same
field with a coroutine ``use``, resolved on the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream import Context
from faststream.nats.subscriber.usecases.stream_pull_subscriber import BatchPullStreamSubscriber
from nats.errors import ConnectionClosedError
from nats.js.errors import ServiceUnavailableError

_consume_pull = BatchPullStreamSubscriber._consume_pull


async def _take_what_is_there(self: Any) -> None:
    assert self.subscription, "the subscription is made before its loop starts"
    while self.running:
        try:
            messages = await self.subscription.fetch(
                batch=self.pull_sub.batch_size, timeout=self.pull_sub.timeout
            )
        except TimeoutError:  # nats-py's and the built-in one: nothing came
            continue
        except (ConnectionClosedError, ServiceUnavailableError):
            # Unacknowledged, they come again from the server.
            await asyncio.sleep(self.pull_sub.timeout or 0.2)
            continue
        if messages and self.running:
            await self.consume(messages)


def apply() -> None:
    if BatchPullStreamSubscriber._consume_pull is _consume_pull:
        BatchPullStreamSubscriber._consume_pull = _take_what_is_there  # type: ignore[method-assign]


class _OnTheLoop(type(Context("message"))):  # type: ignore[misc]
    async def use(self, /, **kwargs: Any) -> dict[str, Any]:
        return super().use(**kwargs)


def message_context() -> Any:
    """``Context("message")`` (the message FastStream is handling), without a thread hop."""
    return _OnTheLoop("message")
