"""A remote meeting's room link in the portal (issue 31 item 5): the contact's agenda links it
and its .ics carries it; another company's contact sees it in neither."""

from __future__ import annotations

import httpx
import icalendar
import pytest
from pydantic_settings import BaseSettings

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import brokerage
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import add_person, portal_url, sign_in

ROOMS = "https://meet.example.org/mapnet-{meeting_id}"


@pytest.fixture
def service_configs(monkeypatch: pytest.MonkeyPatch) -> dict[str, BaseSettings]:
    monkeypatch.setenv("MAPNET_MEETING_ROOM_URL", ROOMS)  # matching reads it at start
    return {}


async def test_the_agenda_links_a_remote_meetings_room_for_its_sides_only(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    smes = [await client.call(rg.REGISTER_SME, new_sme(reg=reg, name=name), region)
            for reg, name in (("14000009", "Photon Forge OÜ"), ("14000015", "Remote Optics OÜ"),
                              ("14000038", "Third Party OÜ"))]  # fmt: skip
    refs = [SmeRef(sme_id=s.sme_id, region=region) for s in smes]
    event = await client.call(ev.PUBLISH_EVENT, brokerage(), region)
    for n, ref in enumerate(refs):
        await client.call(ev.REGISTER_PARTICIPANT, ev.RegisterParticipant(
            event_id=event.event_id, person_name=f"Person {n}", email=f"p{n}@example.ee",
            sme=ref, participation="remote" if n == 1 else "on_site"), region)  # fmt: skip

    async def requested() -> mt.Meeting | None:
        try:
            return await client.call(mt.REQUEST_MEETING, mt.RequestMeeting(
                event_id=event.event_id, requester=refs[0], receiver=refs[1]), region)  # fmt: skip
        except Refused:
            return None

    meeting = await eventually(requested, until=lambda m: m is not None)
    assert meeting is not None and meeting.remote
    await client.call(mt.RESPOND_MEETING, mt.RespondMeeting(
        meeting_id=meeting.meeting_id, accept=True, responder=refs[1]), region)  # fmt: skip
    await client.call(mt.SCHEDULE_EVENT, mt.ScheduleEvent(event_id=event.event_id,
                                                          time_limit_s=2), region)  # fmt: skip
    prefix = f"https://meet.example.org/mapnet-{meeting.meeting_id}-"
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=smes[0].sme_id)
    await add_person(servers, region, "tom@third.ee", "sme", sme_id=smes[2].sme_id)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, "mari@photonforge.ee")
        agenda = await http.get(f"/events/{event.event_id}/agenda")
        assert agenda.status_code == 200
        assert f'class="room" href="{prefix}' in agenda.text
        ics = await http.get(f"/events/{event.event_id}/agenda.ics")
        (vevent,) = icalendar.Calendar.from_ical(ics.text).walk("VEVENT")
        assert str(vevent["URL"]).startswith(prefix)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, "tom@third.ee")
        theirs = await http.get(f"/events/{event.event_id}/agenda")
        assert theirs.status_code == 200 and prefix not in theirs.text
        ics = await http.get(f"/events/{event.event_id}/agenda.ics")
        assert prefix not in ics.text
