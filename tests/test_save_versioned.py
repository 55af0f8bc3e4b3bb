"""outbox.save_versioned, the one versioned write every service's repository uses: a record
and its events in one write, and a writer that came second gets a typed conflict, on the
MongoDB-compatible server the services use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.envelope import Envelope
from contracts.errors import Refused
from mapnet.runtime import mongo, outbox
from tests.fixtures import Servers


def event(region: str, n: int) -> Envelope[Any]:
    return Envelope[Any](
        id=f"e{n}",
        time=datetime.now(UTC),
        type="eu.mapnet.guide.note_written.v1",
        source=f"mapnet/{region}/guide",
        region=region,
        correlationid=f"c{n}",
        data={"n": n},
    )


async def test_a_record_and_its_events_are_written_once_and_a_second_writer_is_refused(
    servers: Servers, region: str
) -> None:
    db = mongo.database(mongo.client(servers.mongo_url), region, "versioned")
    records = db["records"]

    await outbox.save_versioned(
        records, "r1", {"version": 1, "text": "first"}, [event(region, 1)],
        expected=None, what="record r1",
    )  # fmt: skip
    with pytest.raises(Refused) as twice:
        await outbox.save_versioned(
            records, "r1", {"version": 1, "text": "other"}, [event(region, 2)],
            expected=None, what="record r1",
        )  # fmt: skip
    assert twice.value.code == "conflict"
    assert "record r1 was written meanwhile" in twice.value.message

    await outbox.save_versioned(
        records, "r1", {"version": 2, "text": "second"}, [event(region, 3)],
        expected=1, what="record r1",
    )  # fmt: skip
    with pytest.raises(Refused) as stale:
        await outbox.save_versioned(
            records, "r1", {"version": 2, "text": "stale"}, [event(region, 4)],
            expected=1, what="record r1",
        )  # fmt: skip
    assert stale.value.code == "conflict"
    assert stale.value.details == {"expected_version": 1}
    assert "record r1 changed since version 1" in stale.value.message

    doc = await records.find_one({"_id": "r1"})
    assert doc is not None
    assert (doc["text"], doc["version"], doc["outbox_pending"]) == ("second", 2, 2)
    # The first write's event and the change's, in order; the refused writers queued nothing.
    queued = sorted(doc["outbox"].values(), key=lambda entry: entry["seq"])
    assert [entry["seq"] for entry in queued] == [0, 200]
    assert ['"n":1' in e["payload"] for e in queued] == [True, False]


async def test_a_record_versioned_by_another_field_names_the_commands_field(
    servers: Servers, region: str
) -> None:
    db = mongo.database(mongo.client(servers.mongo_url), region, "versioned")
    records = db["articles"]
    await outbox.save_versioned(
        records, "a1", {"revision_number": 1}, [], expected=None, what="article a1",
        version_field="revision_number", expected_name="expected_revision",
    )  # fmt: skip
    with pytest.raises(Refused) as stale:
        await outbox.save_versioned(
            records, "a1", {"revision_number": 3}, [], expected=2, what="article a1",
            version_field="revision_number", expected_name="expected_revision",
        )  # fmt: skip
    assert stale.value.details == {"expected_revision": 2}
    assert "article a1 changed since revision 2" in stale.value.message
