"""A meeting's reminder follows the meeting, against the real database: moved by hand to another
start, it is reminded of again at the new time (once), not at the old one; moved to another
table at the same start, a reminder already sent stays sent; cancelled, it is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mapnet.runtime.mongo import Database
from services.notify.adapters.repository import NotifyStore, utc_key

AT_NINE = datetime(2027, 3, 9, 9, 0, tzinfo=UTC)


def meeting(starts: datetime, table: int | None = 0) -> dict[str, Any]:
    return {"meeting_id": "m1", "slot": 0, "table": table, "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=30)).isoformat(),
            "participants": [{"sme_id": "a", "region": "tallinn"},
                             {"sme_id": "b", "region": "riga"}]}  # fmt: skip


async def due(store: NotifyStore, around: datetime) -> list[dict[str, Any]]:
    """The reminders due in the quarter of an hour before ``around``."""
    return await store.reminders_due(utc_key(around - timedelta(minutes=15)), utc_key(around))


async def test_a_moved_meeting_is_reminded_of_at_its_new_time_once(db: Database) -> None:
    store = NotifyStore(db)
    await store.plan_reminder("e1", meeting(AT_NINE))
    [first] = await due(store, AT_NINE)
    await store.mark_reminded(first)
    assert await due(store, AT_NINE) == []

    # Another table at the same start: the reminder sent stays sent (not a second mail).
    await store.plan_reminder("e1", meeting(AT_NINE, table=3))
    assert await due(store, AT_NINE) == []

    # Moved to 11:00 by hand (meeting_placed): due again there, and no longer at 09:00.
    at_eleven = AT_NINE + timedelta(hours=2)
    await store.plan_reminder("e1", meeting(at_eleven, table=3))
    [moved] = await due(store, at_eleven)
    assert moved["meeting"]["starts_at"] == at_eleven.isoformat()
    await store.mark_reminded(moved)
    assert await due(store, at_eleven) == []

    # Cancelled (meeting_cancelled): nothing left to remind of.
    await store.plan_reminder("e1", meeting(AT_NINE))
    await store.drop_reminders(meeting_id="m1")
    assert await due(store, AT_NINE) == [] and await due(store, at_eleven) == []
