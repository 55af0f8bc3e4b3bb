"""A cancellation retried after a failure between the entry's write and the seat book's stamp
(the hostile review of issue 33): other instances stop registering."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import events as c
from contracts.errors import Refused
from mapnet.runtime.mongo import Database
from services.events.tests.test_seat_book import calendar, cmd, opened, register, statuses


async def test_a_cancellation_retried_after_a_crash_still_stops_other_instances_registering(
    db: Database,
) -> None:
    """Instance B cancels the event and dies between the entry's write and the book's stamp;
    the cancel is retried (by a restarted B): the entry is cancelled already, so nothing is
    stamped. Instance A keeps the entry it cached (open) and goes on giving seats for the
    cancelled event. Before issue 33 A read the entry for each registration and refused."""
    cal, event_id = await opened(db, seats=5)
    await register(cal, event_id, 0)  # A caches the entry
    dying = calendar(db)

    async def died(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the process died here")

    dying.seats.open = died  # type: ignore[method-assign]
    cancel = cmd(c.CANCEL_EVENT, c.CancelEvent(event_id=event_id, reason="venue lost"))
    with pytest.raises(ConnectionError):
        await dying.cancel_event(cancel)
    retried = await calendar(db).cancel_event(cancel)  # a restarted instance answers the retry
    assert retried.status == "cancelled"
    with pytest.raises(Refused) as refused:
        got = await register(cal, event_id, 1)
        print("registered for a cancelled event:", got.status)
    assert "cancelled" in refused.value.message
    assert list(await statuses(db, event_id)) == ["Person 0"]
