"""A meeting the organiser adds to the schedule or moves by hand (matching's meeting_placed) is
mailed to both of its sides, once, with where it is now and was, and its calendar entry."""

from __future__ import annotations

import asyncio

import icalendar
import pytest

from contracts import matching as mt
from contracts.errors import Refused
from mapnet.dev.mailbox import MailStore
from mapnet.runtime.bus import BusClient
from services.notify.tests.test_mail import (
    brokerage_with,
    mails,
    parts,
    wait_for,
)
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")


async def test_a_meeting_moved_by_hand_is_mailed_to_both_sides_once(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    names = [(f"Mover {n}", f"m{n}@example.lv") for n in range(2)]
    event, people = await brokerage_with(client, region, "Moving Day", names, tables=2)

    async def requested() -> mt.Meeting | None:
        try:
            return await client.call(
                mt.REQUEST_MEETING,
                mt.RequestMeeting(event_id=event.event_id, requester=people[0],
                                  receiver=people[1]),
                region,
            )  # fmt: skip
        except Refused:
            return None

    meeting = await eventually(requested, until=lambda m: m is not None)
    assert meeting is not None
    await client.call(
        mt.RESPOND_MEETING,
        mt.RespondMeeting(meeting_id=meeting.meeting_id, accept=True, responder=people[1]),
        region,
    )
    schedule = await client.call(
        mt.SCHEDULE_EVENT, mt.ScheduleEvent(event_id=event.event_id, time_limit_s=2), region
    )
    [held] = schedule.meetings
    to = next(s for s in range(4) if s != held.slot)
    place = mt.PlaceMeeting(meeting_id=meeting.meeting_id, slot=to, table=1)
    await client.call(mt.PLACE_MEETING, place, region)
    moved = await wait_for(store, "meeting_moved", 2)
    assert {m["To"] for m in moved} == {"m0@example.lv", "m1@example.lv"}
    assert held.table is not None
    text = parts(next(m for m in moved if m["To"] == "m0@example.lv"))[0]
    assert "Mover 1" in text and "table 2" in text and f"table {held.table + 1}" in text
    assert "moved" in moved[0]["Subject"]
    calendar = icalendar.Calendar.from_ical(next(moved[0].iter_attachments()).get_content())
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["UID"]) == f"{meeting.meeting_id}@mapnet.eu" and vevent["SEQUENCE"] == 2

    await client.call(mt.PLACE_MEETING, place, region)  # the same place again: nothing new
    await asyncio.sleep(2)
    assert len(mails(store, "meeting_moved")) == 2
