"""Work-arounds for the libraries' versions we run on, in one place.

faststream 0.7.8's batch pull loop keeps fetching until its batch is full and catches only
``nats.errors.TimeoutError``; nats-py 2.16 ``fetch`` raises the built-in ``TimeoutError`` when the
deadline has run out before its second pull request. The loop task then dies with the messages
it already fetched, faststream restarts it, and those messages wait for redelivery after the
consumer's ack wait (30 s): events then look lost for half a minute. Re-raising the timeout as
nats-py's own type lets faststream process what it has."""

from __future__ import annotations

from typing import Any

import nats.errors
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
