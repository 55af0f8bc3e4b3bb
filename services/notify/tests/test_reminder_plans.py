"""The meetings notify keeps to remind of (issue 31 item 5, review): a meeting moved to another
table at the same time is reminded of where it now is, and not a second time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mapnet.runtime import mongo
from services.notify.adapters.repository import NotifyStore, utc_key
from tests.fixtures import Servers, unique_region

START = datetime(2027, 5, 4, 7, 0, tzinfo=UTC)


def scheduled(table: int | None, starts: datetime = START) -> dict[str, Any]:
    sides = [{"sme_id": "a", "region": "x"}, {"sme_id": "b", "region": "x"}]
    return {"meeting_id": "m1", "slot": 0, "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=30)).isoformat(), "table": table,
            "participants": sides}  # fmt: skip


async def due(store: NotifyStore) -> list[dict[str, Any]]:
    return await store.reminders_due(utc_key(START - timedelta(hours=1)), utc_key(START))


async def test_a_meeting_moved_to_another_table_is_reminded_of_at_its_new_table(
    servers: Servers,
) -> None:
    store = NotifyStore(mongo.database(mongo.client(servers.mongo_url), unique_region(), "notify"))
    await store.create_indexes()
    await store.plan_reminders("e1", [scheduled(0)])
    await store.plan_reminder("e1", scheduled(3))  # meeting_placed: table 4, the same time
    [reminder] = await due(store)
    assert reminder["meeting"]["table"] == 3
    await store.mark_reminded(reminder)
    await store.plan_reminders("e1", [scheduled(1)])  # again at the same time: not again
    assert await due(store) == []
    later = START - timedelta(minutes=30)
    await store.plan_reminder("e1", scheduled(1, later))  # a new time: reminded again
    [again] = await due(store)
    assert again["meeting"]["starts_at"] == later.isoformat() and not again["reminded"]
