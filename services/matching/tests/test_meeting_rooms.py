"""A remote meeting's room link (issue 31 item 5): made from the region's template, given by
get_schedule (and its .ics) to the meeting's two sides, the organiser, staff and the region's
services, and never in the schedule events that the network and partner systems hear."""

from __future__ import annotations

import re

import icalendar
import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from contracts import matching as c
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.matching.settings import MatchingSettings
from services.matching.tests.test_matching_bus import event_with_participants, request
from tests.fixtures import Servers
from tests.helpers import published

pytestmark = pytest.mark.usefixtures("region_app")

TEMPLATE = "https://meet.example.org/mapnet-{meeting_id}"


@pytest.fixture
def service_configs() -> dict[str, BaseSettings]:
    return {"matching": MatchingSettings.model_validate({"MAPNET_MEETING_ROOM_URL": TEMPLATE})}


async def test_a_remote_meeting_has_a_private_room_link(
    client: BusClient, region: str, servers: Servers
) -> None:
    # Person 2 (the last) takes part remotely: their meeting is online, the other at a table.
    event_id, p = await event_with_participants(client, region, 3)
    on_site = await request(client, region, event_id, p[0], p[1])
    remote = await request(client, region, event_id, p[0], p[2])
    for m in (on_site, remote):
        await client.call(
            c.RESPOND_MEETING,
            c.RespondMeeting(meeting_id=m.meeting_id, accept=True, responder=m.receiver),
            region,
        )
    built = await client.call(
        c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id, time_limit_s=2), region
    )
    assert all(s.room_url is None for s in built.meetings)  # the organiser reads it below

    contact = Actor(id="r@example.fi", role="sme", region=region, sme_id=p[2].sme_id)
    mine = await client.call(
        c.GET_SCHEDULE, c.GetSchedule(event_id=event_id, participant=p[2], format="ical"),
        region, actor=contact,
    )  # fmt: skip
    [held] = mine.meetings
    assert held.meeting_id == remote.meeting_id and held.table is None
    link = held.room_url
    # The id alone (which the shared schedule carries) does not make the room: a key follows.
    assert link and re.fullmatch(
        f"https://meet.example.org/mapnet-{remote.meeting_id}-[0-9a-f]{{24}}", link
    )
    assert mine.ical is not None
    (vevent,) = icalendar.Calendar.from_ical(mine.ical).walk("VEVENT")
    assert str(vevent["URL"]) == link and str(vevent["LOCATION"]) == link

    # The organiser's and the service's whole schedule: the same link; the on-site one none.
    whole = await client.call(c.GET_SCHEDULE, c.GetSchedule(event_id=event_id), region)
    rooms = {s.meeting_id: s.room_url for s in whole.meetings}
    assert rooms == {remote.meeting_id: link, on_site.meeting_id: None}

    # Another SME's contact reads neither that agenda nor the whole schedule.
    other = Actor(id="o@example.fi", role="sme", region=region, sme_id=p[1].sme_id)
    for asked in (c.GetSchedule(event_id=event_id, participant=p[2]),
                  c.GetSchedule(event_id=event_id)):  # fmt: skip
        with pytest.raises(Refused) as refused:
            await client.call(c.GET_SCHEDULE, asked, region, actor=other)
        assert refused.value.code == "forbidden"
    theirs = await client.call(
        c.GET_SCHEDULE, c.GetSchedule(event_id=event_id, participant=p[1]), region, actor=other
    )
    assert all(s.room_url is None for s in theirs.meetings)

    # The schedule the network and the partner systems hear names no room.
    [event] = await published(servers.nats_url, c.SCHEDULE_PUBLISHED, region)
    assert link not in str(event) and all(m.get("room_url") is None for m in event["meetings"])


def test_the_room_template_is_an_https_url_with_the_meeting_id() -> None:
    for bad in ("http://meet.example.org/{meeting_id}", "https://meet.example.org/room",
                "https://meet.example.org/{meeting_id}/{meeting_id}",
                "https://meet.example.org/{region}-{meeting_id}",
                "https://{meeting_id}.meet.example.org/",
                "https://meet-{meeting_id}/x"):  # fmt: skip
        with pytest.raises(ValidationError):
            MatchingSettings.model_validate({"MAPNET_MEETING_ROOM_URL": bad})
    assert MatchingSettings.model_validate({}).meeting_room_url is None
    for good in (TEMPLATE, "https://meet.example.org/r?room={meeting_id}"):
        assert MatchingSettings.model_validate({"MAPNET_MEETING_ROOM_URL": good}).meeting_room_url
