"""A remote meeting's room link in the portal (issue 31 item 5): the contact's agenda links it (in
Chromium too, axe-checked) and its .ics carries it; another company's contact sees it in
neither."""

from __future__ import annotations

import os

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
from tests.test_portal_browser import CHROMIUM, FLAGS, shot, signed_in_at

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
    if CHROMIUM.exists() or os.environ.get("MAPNET_REQUIRE_BROWSER"):
        await _in_chromium(portal_url(region_app, region), event.event_id, prefix)


async def _in_chromium(base: str, event_id: str, prefix: str) -> None:
    """The agenda as Mari's browser shows it: the link to her remote meeting's room, named for
    what it does, opening the room; axe finds nothing serious on the page."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = await browser.new_page()
            await signed_in_at(page, f"{base}/events/{event_id}/agenda", "mari@photonforge.ee")
            room = page.get_by_role("link", name="join the meeting room")
            assert (await room.get_attribute("href") or "").startswith(prefix)
            await shot(page, "agenda-room-link")
        finally:
            await browser.close()
