"""The contact's brokerage pages over HTTP, refused to everyone their role and records do not
allow (issue 31 items 1 and 3): an event's marketplace to another event's organiser, steering,
and another company's contact without a seat; a contact's pages to other roles; a request
forged for an event the two companies do not both attend is refused by the portal before it is
sent, and nothing is asked. The region's staff and the event's organiser see the marketplace."""

from __future__ import annotations

from typing import Any

import httpx

from contracts import events as ev
from contracts import matching as mt
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import brokerage, profile
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import add_person, csrf_of, portal_url, sign_in
from tests.test_portal_marketplace_browser import company, register


async def test_the_marketplace_and_a_contacts_pages_are_refused_to_whom_they_are_not_for(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    seekers = await company(client, region, 31, "Laser Seekers OÜ")
    optics = await company(
        client, region, 32, "Ultrafast Optics OÜ",
        profile("technology_offer", "Femtosecond laser source", "Compact laser"),
    )  # fmt: skip
    outsider = await company(client, region, 33, "Outsider OÜ")
    day = await client.call(ev.PUBLISH_EVENT, brokerage(), region)
    other = await client.call(
        ev.PUBLISH_EVENT, brokerage().model_copy(update={"external_id": "other"}), region
    )
    await register(client, region, day.event_id, "mari@seekers.ee", seekers)
    await register(client, region, day.event_id, "olev@optics.ee", optics)
    await register(client, region, other.event_id, "olev@optics.ee", optics)
    await register(client, region, other.event_id, "kadri@outsider.ee", outsider)
    people: dict[str, tuple[str, dict[str, Any]]] = {
        "mari@seekers.ee": ("sme", {"sme_id": seekers.sme_id}),
        "kadri@outsider.ee": ("sme", {"sme_id": outsider.sme_id}),
        "org@other.ee": ("organiser", {"event_ids": [other.event_id]}),
        "org@day.ee": ("organiser", {"event_ids": [day.event_id]}),
        "staff@map.ee": ("map_staff", {}),
        "steering@map.ee": ("steering", {}),
    }
    for email, (role, extra) in people.items():
        await add_person(servers, region, email, role, **extra)
    base = portal_url(region_app, region)
    market = f"/events/{day.event_id}/participants"

    async def as_(email: str) -> httpx.AsyncClient:
        # A loaded machine (two cores, other test runs) takes seconds for a page of several
        # services' answers: httpx's default of 5 s failed it once.
        http = httpx.AsyncClient(base_url=base, timeout=60)
        await sign_in(http, email)
        return http

    async def seen(http: httpx.AsyncClient) -> bool:
        return "Ultrafast Optics OÜ" in (await http.get(market)).text

    mari = await as_("mari@seekers.ee")
    await eventually(lambda: seen(mari), until=bool)  # matching's copy follows the services
    signed = {email: await as_(email) for email in people if email != "mari@seekers.ee"}
    for email in ("org@day.ee", "staff@map.ee"):
        assert await seen(signed[email]), email
    for email in ("kadri@outsider.ee", "org@other.ee", "steering@map.ee"):
        refused = await signed[email].get(market)
        assert refused.status_code == 403 and "Ultrafast" not in refused.text, email
    for email in ("org@day.ee", "staff@map.ee", "steering@map.ee"):
        for path in ("/my/events", "/requests", "/requests/new?sme_id=x&region=" + region):
            assert (await signed[email].get(path)).status_code == 403, (email, path)
    for http in signed.values():
        await http.aclose()

    # A request forged for the event only one of the two attends: refused before it is sent.
    form = await mari.get(f"/requests/new?sme_id={optics.sme_id}&region={region}")
    assert f'value="{other.event_id}"' not in form.text and day.event_id in form.text
    forged = await mari.post("/requests/new", data={
        "csrf": csrf_of(form), "sme_id": optics.sme_id, "region": region,
        "event_id": other.event_id, "message": "Let us meet", "priority": "2",
    })  # fmt: skip
    assert forged.status_code == 400 and "choose an event both attend" in forged.text
    asked = await client.call(mt.LIST_MEETINGS, mt.ListMeetings(event_id=other.event_id), region)
    assert asked.items == []
    await mari.aclose()
