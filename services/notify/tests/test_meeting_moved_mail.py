"""A meeting the organiser adds to the schedule or moves by hand (matching's meeting_placed) is
mailed to both of its sides, once, with where it is now and was, and its calendar entry."""

from __future__ import annotations

import asyncio

import icalendar
import pytest

from contracts import events as ev
from contracts import matching as mt
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.dev.mailbox import MailStore
from mapnet.runtime.bus import BusClient
from services.notify.tests.test_mail import DEADLINE, SOON, entry, mails, parts, wait_for
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")


async def test_a_meeting_moved_by_hand_is_mailed_to_both_sides_once(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    event = await client.call(
        ev.PUBLISH_EVENT,
        entry(
            kind="brokerage_event", course=None, title="Moving Day",
            brokerage={"days": [SOON.isoformat()], "day_start": "09:00", "slots_per_day": 4,
                       "slot_minutes": 30, "tables": 2, "registration_deadline": DEADLINE},
        ),
        region,
    )  # fmt: skip
    people = [SmeRef(sme_id=f"mover-{n}", region=region) for n in range(2)]
    for n, sme in enumerate(people):
        await client.call(
            ev.REGISTER_PARTICIPANT,
            ev.RegisterParticipant(event_id=event.event_id, person_name=f"Mover {n}",
                                   email=f"m{n}@example.lv", sme=sme),
            region,
        )  # fmt: skip

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
