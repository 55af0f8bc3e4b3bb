"""The events domain without servers: time zones, entry rules, registrations and completion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts import events as c
from contracts.common import SmeRef
from contracts.errors import Refused
from services.events.domain.calendar import Entry
from services.events.domain.registration import Registration

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def entry_input(**extra: Any) -> c.CalendarEntryInput:
    base: dict[str, Any] = {
        "partner_id": "tehnopol",
        "external_id": "ev-1",
        "kind": "conference",
        "title": "Photonics Days",
        "starts_at": "2026-03-28T10:00:00",
        "ends_at": "2026-03-28T17:00:00",
        "timezone": "Europe/Tallinn",
        "country": "EE",
    }
    return c.CalendarEntryInput.model_validate({**base, **extra})


def publish(**extra: Any) -> Entry:
    return Entry.publish("e1", "tallinn", entry_input(**extra), None, NOW)


def test_wall_times_on_both_sides_of_a_dst_change_map_to_the_right_utc() -> None:
    # Estonia moves from UTC+2 to UTC+3 on 2026-03-29 at 03:00.
    before = publish()
    after = publish(starts_at="2026-03-30T10:00:00", ends_at="2026-03-30T17:00:00")
    assert before.starts_at_utc == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert after.starts_at_utc == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    # An entry across the change lasts 3 days less the skipped hour.
    across = publish(starts_at="2026-03-28T10:00:00", ends_at="2026-03-31T10:00:00")
    assert (across.ends_at_utc - across.starts_at_utc).total_seconds() == 3 * 86400 - 3600


def test_a_wall_time_the_clocks_skip_is_refused_and_the_repeated_hour_is_its_first() -> None:
    with pytest.raises(Refused) as refused:
        publish(starts_at="2026-03-29T03:30:00", ends_at="2026-03-29T05:00:00")
    assert refused.value.details["fields"][0]["field"] == "data.starts_at"
    autumn = publish(starts_at="2026-10-25T03:30:00", ends_at="2026-10-25T05:00:00")
    assert autumn.starts_at_utc == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_a_time_given_with_an_offset_is_kept_as_that_instant() -> None:
    entry = publish(starts_at="2026-06-01T07:00:00Z", ends_at="2026-06-01T09:00:00Z")
    assert entry.data.starts_at == datetime(2026, 6, 1, 10, 0)
    assert entry.starts_at_utc == datetime(2026, 6, 1, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"ends_at": "2026-03-28T09:00:00"}, "data.ends_at"),
        ({"timezone": "Baltic/Atlantis"}, "data.timezone"),
        ({"kind": "brokerage_event"}, "data.brokerage"),
        ({"kind": "training_course"}, "data.course"),
    ],
)
def test_entry_rules_name_the_field(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(Refused) as refused:
        publish(**extra)
    assert refused.value.code == "validation_failed"
    assert field in [f["field"] for f in refused.value.details["fields"]]


def test_publishing_the_same_content_again_changes_nothing() -> None:
    first = publish()
    again = Entry.publish("e1", "tallinn", entry_input(), first, NOW)
    assert again is first
    changed = Entry.publish("e1", "tallinn", entry_input(title="Photonics Days 2026"), first, NOW)
    assert changed.version == 2 and changed.events[0][0] is c.EVENT_PUBLISHED


def test_cancel_records_once() -> None:
    entry = publish()
    entry.events.clear()
    entry.cancel("venue flooded", NOW)
    entry.cancel("again", NOW)
    assert [op for op, _ in entry.events] == [c.EVENT_CANCELLED, c.ENTRY_SHARED]
    assert entry.data.status == "cancelled" and entry.version == 2


def course() -> Entry:
    return publish(
        kind="training_course",
        course={
            "capacity": 10,
            "sessions": ["2026-03-28T10:00:00+02:00", "2026-03-29T10:00:00+03:00"],
            "completion_min_sessions": 2,
        },
    )


def registration() -> Registration:
    data = c.RegisterParticipant(event_id="e1", person_name="Mari", email="mari@example.ee")
    return Registration("r1", "e1", "tallinn", data, NOW)


def test_completing_a_course_is_recorded_once_when_the_criteria_are_met() -> None:
    reg, entry = registration(), course()
    reg.confirm()
    reg.attend(0, entry)
    reg.attend(0, entry)
    assert not reg.completed
    reg.attend(1, entry)
    reg.attend(1, entry)
    ops = [op for op, _ in reg.events]
    assert ops == [
        c.REGISTRATION_CONFIRMED,
        c.ATTENDANCE_RECORDED,
        c.ATTENDANCE_RECORDED,
        c.TRAINING_COMPLETED,
    ]
    with pytest.raises(Refused):
        reg.attend(2, entry)


def test_only_confirmed_registrations_check_in() -> None:
    reg = registration()
    reg.waitlist(3, 3)
    with pytest.raises(Refused) as refused:
        reg.attend(0, course())
    assert refused.value.code == "conflict"
    assert reg.cancel() == "waitlisted" and reg.cancel() == "cancelled"


def test_network_entries_are_shared_as_they_stand_and_region_entries_not_at_all() -> None:
    shared = publish()
    assert [op for op, _ in shared.events] == [c.EVENT_PUBLISHED, c.ENTRY_SHARED]
    local = publish(visibility="region")
    assert [op for op, _ in local.events] == [c.EVENT_PUBLISHED]


def test_an_entry_made_region_only_is_withdrawn_from_the_network() -> None:
    before = publish()
    after = Entry.publish("e1", "tallinn", entry_input(visibility="region"), before, NOW)
    assert after.events[-1] == (
        c.ENTRY_UNSHARED,
        c.EntryUnshared(event_id="e1", region="tallinn", version=2),
    )


def test_a_break_follows_the_slot_it_names_and_lasts_break_minutes() -> None:
    setup = c.BrokerageSetup(
        days=[date(2026, 5, 4), date(2026, 5, 5)],
        day_start="09:00",
        slots_per_day=6,
        slot_minutes=30,
        breaks_after_slot=[3],
        tables=5,
        registration_deadline=datetime(2026, 5, 1, tzinfo=UTC),
    )
    starts = [t.starts_at.strftime("%d %H:%M") for t in setup.slots()]
    # Slots 0-3 without a pause; a one-slot break after slot 3; day two starts again at 09:00.
    assert starts[:6] == ["04 09:00", "04 09:30", "04 10:00", "04 10:30", "04 11:30", "04 12:00"]
    assert starts[6] == "05 09:00" and len(starts) == 12
    longer = setup.model_copy(update={"break_minutes": 60})
    assert longer.slot_time(4)[0].strftime("%H:%M") == "12:00"


def test_a_registrations_fact_is_its_view_without_the_person() -> None:
    """fact() is made from the fields, not from view(): the same, in every state."""
    sme = SmeRef(region="helsinki", sme_id="s-1")
    data = c.RegisterParticipant(event_id="e1", person_name="Mari", email="mari@x.ee", sme=sme)
    reg = Registration("r1", "e1", "tallinn", data, NOW)

    def from_view() -> c.RegistrationFact:
        person = {"person_name", "email", "language"}
        return c.RegistrationFact.model_validate(reg.view().model_dump(exclude=person))

    assert reg.fact() == from_view()  # pending: told as waitlisted, as the view says
    reg.waitlist(3, 2, "t1")
    assert reg.fact() == from_view()
    reg.confirm("t2")
    reg.attended_sessions, reg.completed = [0, 1], True
    assert reg.fact() == from_view()
    reg.cancel()
    assert reg.fact() == from_view()
