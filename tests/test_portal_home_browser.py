"""The home page in Chromium (issue 31 item 0), checked with axe: a company's contact sees the
request waiting for her answer (a link to the inbox), an event to register for and her profile
expiring soon; staff see the invitation pending and that no profile waits for review."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from contracts import events as ev
from contracts import matching as mt
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import brokerage, profile
from services.portal.adapters.store import PortalStore
from services.portal.entrypoints.wiring import accounts_on
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import add_person, portal_url
from tests.test_portal_browser import browser_page, pytestmark, shot, signed_in_at
from tests.test_portal_marketplace_browser import company, register

__all__ = ["browser_page", "pytestmark"]


async def test_a_contacts_home_and_staffs_home_say_what_needs_them_now(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    base = portal_url(region_app, region)
    soon = (date.today() + timedelta(days=12)).isoformat()
    seekers = await company(
        client, region, 51, "Laser Seekers OÜ",
        profile("technology_request", "Femtosecond laser wanted", "For glass", expires_on=soon),
    )  # fmt: skip
    optics = await company(client, region, 52, "Ultrafast Optics OÜ")
    day = await client.call(ev.PUBLISH_EVENT, brokerage(), region)
    forum = brokerage().model_copy(update={"external_id": "forum", "title": "Photonics Forum"})
    await client.call(ev.PUBLISH_EVENT, forum, region)
    await register(client, region, day.event_id, "mari@seekers.ee", seekers)
    await register(client, region, day.event_id, "olev@optics.ee", optics)

    async def seated() -> int:
        listed = mt.ListParticipants(event_id=day.event_id)
        return len((await client.call(mt.LIST_PARTICIPANTS, listed, region)).items)

    await eventually(seated, until=lambda n: n == 2)
    asked = mt.RequestMeeting(event_id=day.event_id, requester=optics, receiver=seekers,
                              message="Let us meet", priority=2)  # fmt: skip
    await client.call(mt.REQUEST_MEETING, asked, region)
    await add_person(servers, region, "mari@seekers.ee", "sme", sme_id=seekers.sme_id)

    await signed_in_at(page, f"{base}/", "mari@seekers.ee")
    await page.get_by_role("heading", name="Requests waiting for your answer").wait_for()
    await page.get_by_text("One meeting request waits for your answer.").wait_for()
    await page.get_by_role("link", name="Photonics Forum").wait_for()
    await page.get_by_role("link", name="Femtosecond laser wanted").wait_for()
    await page.get_by_text(f"expires on {soon}").wait_for()
    await shot(page, "home-contact")
    await page.get_by_role("link", name="Answer them in your inbox").click()
    await page.get_by_role("heading", name="Meeting requests").wait_for()
    await page.get_by_role("button", name="Sign out mari@seekers.ee").click()

    await add_person(servers, region, "staff@map.ee", "map_staff")
    accounts = accounts_on(
        PortalStore(mongo.database(mongo.client(servers.mongo_url), region, "portal"))
    )
    [staff] = [p for p in await accounts.people(region) if p.email == "staff@map.ee"]
    await accounts.invite(staff, "org@forum.ee", "organiser")
    await signed_in_at(page, f"{base}/", "staff@map.ee")
    await page.get_by_role("heading", name="Invitations pending").wait_for()
    await page.get_by_text("org@forum.ee").wait_for()
    await page.get_by_text("No profile waits for review.").wait_for()
    await shot(page, "home-staff")
