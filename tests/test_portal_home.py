"""The home page on real servers (issue 31 item 0): a company's contact sees the requests waiting
for their answer and the events they could register for, and never another company's requests;
staff see the invitations not taken up and the review queue; each part says when it has
nothing."""

from __future__ import annotations

import httpx

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import brokerage, profile, sme
from services.portal.adapters.store import PortalStore
from services.portal.entrypoints.wiring import accounts_on
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import add_person, portal_url, sign_in
from tests.test_portal_marketplace_browser import company, register


async def test_a_contacts_home_shows_their_requests_and_events_and_never_another_companys(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    seekers = await company(client, region, 41, "Laser Seekers OÜ")
    optics = await company(
        client, region, 42, "Ultrafast Optics OÜ",
        profile("technology_offer", "Femtosecond laser source", "Compact laser"),
    )  # fmt: skip
    third = await company(client, region, 43, "Third Party OÜ")
    day = await client.call(ev.PUBLISH_EVENT, brokerage(), region)
    later = brokerage().model_copy(update={"external_id": "later", "title": "Photonics Forum"})
    forum = await client.call(ev.PUBLISH_EVENT, later, region)
    for who, at in (("mari@seekers.ee", seekers), ("olev@optics.ee", optics),
                    ("kadri@third.ee", third)):  # fmt: skip
        await register(client, region, day.event_id, who, at)

    async def participants() -> int:
        found = await client.call(mt.LIST_PARTICIPANTS, mt.ListParticipants(event_id=day.event_id),
                                  region)  # fmt: skip
        return len(found.items)

    await eventually(participants, until=lambda n: n == 3)  # matching's copy of the seats
    # Optics asks Mari's company; the third company asks Optics (none of Mari's business).
    for requester, receiver in ((optics, seekers), (third, optics)):
        asked = mt.RequestMeeting(event_id=day.event_id, requester=requester, receiver=receiver,
                                  message="Let us meet", priority=2)  # fmt: skip
        await client.call(mt.REQUEST_MEETING, asked, region)
    await add_person(servers, region, "mari@seekers.ee", "sme", sme_id=seekers.sme_id)
    await add_person(servers, region, "kadri@third.ee", "sme", sme_id=third.sme_id)

    async with httpx.AsyncClient(base_url=portal_url(region_app, region), timeout=60) as http:
        await sign_in(http, "mari@seekers.ee")
        home = (await http.get("/")).text
        requests = home.split('id="home-requests"')[1].split("</section>")[0]
        assert "One meeting request waits for your answer." in requests
        assert "Ultrafast Optics OÜ" in requests and 'href="/requests"' in requests
        assert "Third Party OÜ" not in home  # another company's request never appears
        events = home.split('id="home-events"')[1].split("</section>")[0]
        # The forum is open to her; the day she has a seat at is not offered again.
        assert f'href="/events/{forum.event_id}"' in events
        assert f'href="/events/{day.event_id}"' not in events
        assert "No meeting is scheduled for you yet." in home  # no schedule published
        assert "None of your profiles expires within a month." in home
        assert "cannot be shown just now" not in home

    async with httpx.AsyncClient(base_url=portal_url(region_app, region), timeout=60) as http:
        await sign_in(http, "kadri@third.ee")
        home = (await http.get("/")).text
        assert "No request waits for your answer." in home  # she sent hers; none came to her
        assert "Laser Seekers OÜ" not in home


async def test_staff_home_shows_the_invitations_pending_and_the_review_queue(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    await add_person(servers, region, "staff@map.ee", "map_staff")
    store = PortalStore(mongo.database(mongo.client(servers.mongo_url), region, "portal"))
    accounts = accounts_on(store)
    [staff] = [p for p in await accounts.people(region) if p.email == "staff@map.ee"]
    await accounts.invite(staff, "new@contact.ee", "organiser")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region), timeout=60) as http:
        await sign_in(http, "staff@map.ee")
        home = (await http.get("/")).text
        invitations = home.split('id="home-invitations"')[1].split("</section>")[0]
        assert "One invitation is not taken up yet." in invitations
        assert "new@contact.ee" in invitations
        assert "No profile waits for review." in home  # the registry answered: none waits
        assert "No import of yours is running." in home
        assert "cannot be shown just now" not in home
        # A contact's page has none of the office's parts.
        await add_person(servers, region, "mari@x.ee", "sme", sme_id="nobody")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region), timeout=60) as http:
        await sign_in(http, "mari@x.ee")
        home = (await http.get("/")).text
        assert "new@contact.ee" not in home and 'id="home-invitations"' not in home


async def test_the_filters_offer_the_countries_by_name_not_a_code_to_type(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    """Issue 31 item 0: the registry's table, partner search and the calendar offer the
    countries by their names (CLDR); the one chosen stays selected and filters."""
    estonian = await company(client, region, 44, "Tallinn Optics OÜ")
    latvian = sme("Riga Lasers SIA", "40003000002", country="LV")  # a valid Latvian code
    await client.call(rg.REGISTER_SME, latvian, region)
    await add_person(servers, region, "staff@map.ee", "map_staff")
    await add_person(servers, region, "mari@x.ee", "sme", sme_id=estonian.sme_id)
    base = portal_url(region_app, region)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await sign_in(http, "staff@map.ee")
        table = (await http.get("/smes?country=LV")).text
        assert '<select id="country" name="country">' in table
        assert '<option value="LV" selected>Latvia</option>' in table
        assert '<option value="EE" >Estonia</option>' in table
        assert "Riga Lasers SIA" in table and "Tallinn Optics OÜ" not in table
        calendar = (await http.get("/calendar")).text
        assert '<option value="FI" >Finland</option>' in calendar
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        await sign_in(http, "mari@x.ee")
        partners = (await http.get("/partners?country=DE")).text
        assert '<option value="DE" selected>Germany</option>' in partners
