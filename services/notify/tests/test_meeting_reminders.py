"""Meetings of a published schedule (issue 31 item 5): the mail of the schedule gives a remote
meeting's room link to its two sides only; each side is reminded by mail a set time before each
meeting, once, with two notify instances too; a cancelled meeting is not reminded of."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from pydantic_settings import BaseSettings

from contracts import events as ev
from contracts import matching as mt
from contracts import notify as nt
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.dev.mailbox import MailStore
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.notify.settings import NotifySettings
from services.notify.tests.test_mail import DEADLINE, SOON, entry, mails, parts, wait_for
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")

ROOMS = "https://meet.example.org/mapnet-{meeting_id}"
FIRST_SLOT = datetime.combine(SOON, time(9), ZoneInfo("Europe/Tallinn"))


def reminding(notify_settings: NotifySettings, after_first_slot_min: int) -> NotifySettings:
    """Notify reminding of meetings from the first slot's start until this many minutes after."""
    ahead = math.ceil((FIRST_SLOT - datetime.now(UTC)).total_seconds() / 60)
    return notify_settings.model_copy(
        update={"meeting_reminder_minutes": ahead + after_first_slot_min,
                "meeting_reminder_tick_s": 0.3}
    )  # fmt: skip


@pytest.fixture
def service_configs(
    notify_settings: NotifySettings, monkeypatch: pytest.MonkeyPatch
) -> dict[str, BaseSettings]:
    # Matching reads the region's room template from the environment (as in production).
    monkeypatch.setenv("MAPNET_MEETING_ROOM_URL", ROOMS)
    # The first slot's meetings are due now, those of the slots after (09:30 on) not yet.
    return {"notify": reminding(notify_settings, 10)}


async def test_the_room_link_in_the_mail_and_a_reminder_once_and_none_when_cancelled(
    client: BusClient,
    region: str,
    settings: Settings,
    mailbox: tuple[MailStore, int],
    notify_settings: NotifySettings,
) -> None:
    store, _ = mailbox
    names = [(f"Rem {n}", f"r{n}@example.lv") for n in range(6)]
    event = await client.call(
        ev.PUBLISH_EVENT,
        entry(
            kind="brokerage_event", course=None, title="Reminder Day",
            brokerage={"days": [SOON.isoformat()], "day_start": "09:00", "slots_per_day": 4,
                       "slot_minutes": 30, "tables": 2, "registration_deadline": DEADLINE,
                       "participation_types": ["on_site", "remote"]},
        ),
        region,
    )  # fmt: skip
    p = [SmeRef(sme_id=f"rem-{n}", region=region) for n in range(len(names))]
    for sme, (name, email) in zip(p, names, strict=True):
        await client.call(ev.REGISTER_PARTICIPANT, ev.RegisterParticipant(
            event_id=event.event_id, person_name=name, email=email, sme=sme), region)  # fmt: skip

    async def accepted(a: int, b: int, slot: int, remote: bool) -> mt.Meeting | None:
        try:
            await client.call(mt.SET_AVAILABILITY, mt.SetAvailability(
                event_id=event.event_id, participant=p[a], slots=[slot]), region)  # fmt: skip
            asked = mt.RequestMeeting(event_id=event.event_id, requester=p[a], receiver=p[b],
                                      remote=remote)  # fmt: skip
            meeting = await client.call(mt.REQUEST_MEETING, asked, region)
        except Refused:
            return None
        await client.call(mt.RESPOND_MEETING, mt.RespondMeeting(
            meeting_id=meeting.meeting_id, accept=True, responder=p[b]), region)  # fmt: skip
        return meeting

    # A: remote, at the first slot (09:00); B at 10:00; C at 10:30, cancelled before it is due.
    a = await eventually(lambda: accepted(0, 1, 0, True), until=lambda m: m is not None)
    b = await accepted(2, 3, 2, False)
    c = await accepted(4, 5, 3, False)
    assert a and b and c
    await client.call(
        mt.SCHEDULE_EVENT, mt.ScheduleEvent(event_id=event.event_id, time_limit_s=2), region
    )
    schedules = await wait_for(store, "schedule_published", 6)
    room = await client.call(mt.GET_SCHEDULE, mt.GetSchedule(event_id=event.event_id), region)
    link = next(s.room_url for s in room.meetings if s.meeting_id == a.meeting_id)
    assert link and link.startswith("https://meet.example.org/mapnet-")
    for mail in schedules:
        text, html = parts(mail)
        side = mail["To"] in ("r0@example.lv", "r1@example.lv")
        assert (link in text and link in html) == side, mail["To"]
        (vevent,) = icalendar.Calendar.from_ical(next(mail.iter_attachments()).get_content()).walk(
            "VEVENT"
        )
        assert (str(vevent.get("URL", "")) == link) == side

    # A is reminded of at once, to both sides, with its room.
    reminders = await wait_for(store, "meeting_reminder", 2)
    assert {m["To"] for m in reminders} == {"r0@example.lv", "r1@example.lv"}
    assert link in parts(reminders[0])[0] and "Rem 1" in parts(reminders[0])[0]
    await client.call(mt.CANCEL_MEETING, mt.CancelMeeting(meeting_id=c.meeting_id, by=p[4]), region)
    await asyncio.sleep(1)  # its cancellation heard (notify's stream is ordered)

    # A second notify instance that reminds of the whole day: B now, A not again, C never.
    async with Assembly(
        settings, ["notify"], [region], configs={"notify": reminding(notify_settings, 180)}
    ):
        await wait_for(store, "meeting_reminder", 4)
        await asyncio.sleep(2)
    sent = [m["To"] for m in mails(store, "meeting_reminder")]
    assert sorted(sent) == ["r0@example.lv", "r1@example.lv", "r2@example.lv", "r3@example.lv"]
    assert datetime.now(UTC) < FIRST_SLOT - timedelta(days=1)  # none of this was past
    # The delivery log records each as sent once (a kind it did not know left them unrecorded,
    # to be handed over again when their lease ran out).
    log = await client.call(
        nt.LIST_DELIVERIES, nt.ListDeliveries(channel="email", limit=100), region
    )
    reminded = [d for d in log.items if d.kind == "meeting_reminder"]
    assert len(reminded) == 4 and {d.status for d in reminded} == {"sent"}
