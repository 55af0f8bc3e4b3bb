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

An idle consumer waits on the server: its pull request lingers there for ``LONG_POLL_S`` and is
answered by the first message (the server ends a lingering ``no_wait`` pull once it has handed
over what it holds), so a long wait costs no latency. The 0.2 s fetches before cost a region's
35 consumers some 350 requests and answers a second while nothing happened: most of an idle
region's CPU (issue 33). A pull request waiting on a server the connection has lost is gone
with it: ``fetch_again`` (the broker's ``reconnected_cb``) ends the waiting fetches at once, so
that consumers do not sit out the rest of their wait after a server restart. In a region whose
streams are kept on several servers (``MAPNET_STREAM_REPLICAS`` above 1: a cluster), a waiting
pull request can also be lost while the connection stays (the consumer's leader moves to
another server): there the wait is ``LONG_POLL_S``, so that such a consumer sits out 5 s at
most. With one replica the consumer's leader cannot move, and nothing but the connection can
lose the request, so the wait is ``LONG_POLL_ALONE_S``: a region's 35 idle consumers asked
seven times a second at 5 s, half an idle region's CPU in its services and a tenth of its NATS
server's (issue 33, ten regions idle: services 15.9 % of one core at 5 s, 7.3 % at 30 s). (The
server's INFO cannot tell: a server alone that links to the hub as a leaf node names a cluster
too, and a cluster's servers do not advertise each other to clients here.)

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

from mapnet.runtime.bus import stream_replicas

_consume_pull = BatchPullStreamSubscriber._consume_pull


# How long an idle consumer's pull request waits on the server for a first message: with its
# stream kept on several servers, and on one (see the module's docstring).
LONG_POLL_S = 5.0
LONG_POLL_ALONE_S = 30.0
# After the connection was closed or JetStream did not answer: a pause before fetching again.
_RETRY_S = 0.2
# The fetches waiting now, for ``fetch_again`` to end.
_waiting: set[asyncio.Future[Any]] = set()


async def fetch_again() -> None:
    """For the connection's ``reconnected_cb``: the pull requests waiting on the server the
    connection lost are gone; each waiting fetch ends and is made again on the new one."""
    for fetch in list(_waiting):
        fetch.cancel()


def long_poll_s(replicas: int, servers: int = 1) -> float:
    """How long a pull request may wait on the server for a consumer kept on ``replicas``,
    over a connection given ``servers``: a cluster run with its streams on one replica
    (``MAPNET_STREAM_REPLICAS`` left unset) still has servers that restart under a connection
    kept to another, so several servers get the short wait too."""
    return LONG_POLL_S if replicas > 1 or servers > 1 else LONG_POLL_ALONE_S


async def _take_what_is_there(self: Any) -> None:
    assert self.subscription, "the subscription is made before its loop starts"
    # Consumers keep as many replicas as their stream.
    wait_s = long_poll_s(stream_replicas(), len(self.subscription._nc.servers))
    while self.running:
        fetch = asyncio.ensure_future(
            self.subscription.fetch(batch=self.pull_sub.batch_size, timeout=wait_s)
        )
        _waiting.add(fetch)
        try:
            await asyncio.wait((fetch,))
        finally:  # also when the loop itself is cancelled (the subscriber stops)
            _waiting.discard(fetch)
            fetch.cancel()
        if fetch.cancelled():  # ended by fetch_again: made again at once
            continue
        try:
            messages = fetch.result()
        except TimeoutError:  # nats-py's and the built-in one: nothing came
            continue
        except (ConnectionClosedError, ServiceUnavailableError):
            # Unacknowledged, they come again from the server.
            await asyncio.sleep(_RETRY_S)
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
