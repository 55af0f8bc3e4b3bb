"""What another region's shared events may not do to this region's copies, against the real
database (a hostile region hears every region's shared facts, so it knows their ids): rewrite
the host's copy of its SME's registration or of a schedule, or squat an event's id so that the
portals here send that event's requests to it (issue 31's review)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import events as c
from contracts import matching as mt
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runtime import mongo
from mapnet.runtime.settings import Settings
from services.events.adapters.away import AwayRegistrations
from services.events.adapters.repository import EntryRepository
from services.events.domain.calendar import entry_id
from services.events.tests.test_events_bus import entry
from services.matching.adapters.read_model import ReadModel


def told(fact: dict[str, Any], version: int, host: str) -> c.GuestRegistration:
    return c.GuestRegistration.model_validate(
        {"registration": fact, "region": host, "version": version}
    )


async def test_another_region_cannot_rewrite_the_hosts_copy_of_a_registration(
    settings: Settings, region: str
) -> None:
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "events")
    away = AwayRegistrations(db, region)
    genuine = {"registration_id": "h1", "event_id": "helsinki-ev",
               "sme": SmeRef(sme_id="ours", region=region).model_dump(),
               "status": "confirmed", "registered_at": datetime.now(UTC).isoformat()}  # fmt: skip
    await away.keep(told(genuine, 2, "helsinki"))
    await away.keep(told(genuine | {"status": "cancelled"}, 99, "berlin"))  # heard h1 too
    doc = await db["away_registrations"].find_one({"_id": "h1"})
    assert doc is not None and (doc["region"], doc["status"]) == ("helsinki", "confirmed")
    await away.keep(told(genuine | {"status": "cancelled"}, 3, "helsinki"))  # the host may
    doc = await db["away_registrations"].find_one({"_id": "h1"})
    assert doc is not None and doc["status"] == "cancelled"


async def test_another_region_cannot_rewrite_a_hosts_schedule_copy(
    settings: Settings, region: str
) -> None:
    read_model = ReadModel(mongo.database(mongo.client(settings.mongo_url or ""), region,
                                          "matching"))  # fmt: skip
    now = datetime.now(UTC)
    meeting = {"meeting_id": "m1", "slot": 0, "starts_at": now.isoformat(),
               "ends_at": (now + timedelta(minutes=20)).isoformat(), "table": 1,
               "participants": [{"sme_id": "ours", "region": region},
                                {"sme_id": "x", "region": "helsinki"}]}  # fmt: skip
    helsinki = {"event_id": "helsinki-ev", "region": "helsinki", "version": 1,
                "meetings": [meeting], "unscheduled": []}  # fmt: skip
    await read_model.put_schedule_copy(mt.Schedule.model_validate(helsinki).model_dump(mode="json"))
    forged = helsinki | {"region": "berlin", "version": 50, "meetings": []}
    await read_model.put_schedule_copy(
        mt.ScheduleChanged.model_validate(forged).model_dump(mode="json")
    )
    doc = await read_model.schedule_copy("helsinki-ev")
    assert doc is not None
    assert (doc["schedule"]["region"], len(doc["schedule"]["meetings"])) == ("helsinki", 1)


async def test_a_copy_under_another_regions_event_id_is_refused(
    settings: Settings, region: str
) -> None:
    repo = EntryRepository(mongo.database(mongo.client(settings.mongo_url or ""), region,
                                          "events"), region)  # fmt: skip
    now = datetime.now(UTC)
    genuine_id = entry_id("helsinki", "helsinki-map", "brokerage-2026")  # anyone can work it out
    base = entry("brokerage-2026").model_dump(mode="json")

    def copy(host: str) -> c.CalendarEntry:
        return c.CalendarEntry.model_validate(base | {
            "event_id": genuine_id, "region": host, "version": 1, "partner_id": "helsinki-map",
            "starts_at_utc": now + timedelta(days=30),
            "ends_at_utc": now + timedelta(days=30, hours=8), "updated_at": now})  # fmt: skip

    with pytest.raises(Refused) as squatted:
        await repo.put_copy(copy("berlin"))  # Berlin first, claiming Helsinki's id
    assert squatted.value.code == "forbidden"
    await repo.put_copy(copy("helsinki"))
    found = await repo.require(genuine_id, copy_will_do=True)
    assert found.region == "helsinki"
