"""Work-arounds for the libraries' versions we run on, in one place.

faststream 0.7.8's batch pull loop keeps fetching until its batch is full and catches only
``nats.errors.TimeoutError``; nats-py 2.16 ``fetch`` raises the built-in ``TimeoutError`` when the
deadline has run out before its second pull request. The loop task then dies with the messages
it already fetched, faststream restarts it, and those messages wait for redelivery after the
consumer's ack wait (30 s): events then look lost for half a minute. Re-raising the timeout as
nats-py's own type lets faststream process what it has.

fast-depends 3.0 runs a custom field's ``use`` in a worker thread when it is not a coroutine
function, and FastStream's ``Context`` has a plain ``use``: every message a handler takes
``Context("message")`` for made a round trip through anyio's thread pool (a registration spent
about a tenth of its time on it, the GIL handed back and forth). ``message_context`` is the same
field with a coroutine ``use``, resolved on the event loop."""

from __future__ import annotations

from typing import Any

import nats.errors
from faststream import Context
from nats.js.client import JetStreamContext

_fetch = JetStreamContext.PullSubscription.fetch


async def _fetch_with_nats_timeout(self: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await _fetch(self, *args, **kwargs)
    except nats.errors.TimeoutError:
        raise
    except TimeoutError as exc:
        raise nats.errors.TimeoutError from exc


def apply() -> None:
    if JetStreamContext.PullSubscription.fetch is _fetch:
        JetStreamContext.PullSubscription.fetch = _fetch_with_nats_timeout  # type: ignore[method-assign]


class _OnTheLoop(type(Context("message"))):  # type: ignore[misc]
    async def use(self, /, **kwargs: Any) -> dict[str, Any]:
        return super().use(**kwargs)


def message_context() -> Any:
    """``Context("message")`` (the message FastStream is handling), without a thread hop."""
    return _OnTheLoop("message")
