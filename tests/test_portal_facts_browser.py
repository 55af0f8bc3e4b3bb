"""The facts page in a real browser (Debian's Chromium through Playwright), checked with axe:
staff record an SME's trade show presentation and an introduction to a large company, then its
outcome; a science parks' agreement of one party is refused with the field named; the facts
count in the indicators."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from contracts import registry as rg
from contracts.access import Actor
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.test_portal import add_person, portal_url
from tests.test_portal_browser import browser_page, shot, signed_in_at
from tests.test_portal_browser import pytestmark as browser_marks

pytestmark = browser_marks
__all__ = ["browser_page"]


async def test_staff_record_the_facts_the_indicators_count(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    staff = Actor(id="anna@map.example.ee", role="map_staff", region=region)
    sme = await client.call(rg.REGISTER_SME, new_sme(), region, actor=staff)
    await add_person(servers, region, staff.id, "map_staff")
    today = datetime.now(UTC).date().isoformat()
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/signin?next=/facts", staff.id)
    await page.get_by_role("heading", name="Facts the indicators count").wait_for()
    await page.get_by_text("No fact recorded yet.").wait_for()
    await shot(page, "60-facts-empty")

    shown = page.get_by_role("form", name="An SME presented at a trade show or congress")
    await shown.get_by_label("SME id (one of the region's)").fill(sme.sme_id)
    await shown.get_by_label("Trade show or congress").fill("LASER World of Photonics")
    await shown.get_by_label("Country of the show (two letters)").fill("de")
    await shown.get_by_label("Presented on").fill(today)
    await shown.get_by_role("button", name="Record the presentation").click()
    await page.get_by_role("cell", name="LASER World of Photonics").wait_for()

    met = page.get_by_role("form", name="An SME was introduced to a large company")
    await met.get_by_label("SME id (one of the region's)").fill(sme.sme_id)
    await met.get_by_label("Company", exact=True).fill("Siemens AG")
    await met.get_by_label("Country of the company (two letters)").fill("DE")
    await met.get_by_label("Introduced on").fill(today)
    await met.get_by_role("button", name="Record the introduction").click()
    await page.get_by_role("cell", name="Siemens AG", exact=True).wait_for()
    # Its outcome told later, on its row.
    # Each row's controls are named by their introduction (a screen reader tells rows apart).
    await page.get_by_role(
        "combobox", name=f"Outcome of the introduction to Siemens AG on {today}"
    ).select_option("cooperation_agreed")
    await page.get_by_role(
        "button", name=f"Change the outcome of the introduction to Siemens AG on {today}"
    ).click()
    await page.get_by_role("cell", name="Siemens AG", exact=True).wait_for()

    # One party is not an agreement: refused, naming the field, the form kept.
    signed = page.get_by_role("form", name="Science parks signed a partnership agreement")
    await signed.get_by_label("The parties (comma between)").fill("Tehnopol")
    await signed.get_by_label("Its aim").fill("Soft landing for start-ups")
    await signed.get_by_label("Signed on").fill(today)
    await signed.get_by_role("button", name="Record the agreement").click()
    await page.get_by_role("alert").get_by_text(re.compile("parties")).wait_for()
    assert await page.get_by_label("Its aim").input_value() == "Soft landing for start-ups"
    await shot(page, "61-facts-refused")

    kpis = await client.call(
        rg.GET_KPIS,
        rg.GetKpis(period_from=datetime.now(UTC).date(), period_to=datetime.now(UTC).date()),
        region,
    )
    assert (kpis.total.trade_show_presentations, kpis.total.company_introductions) == (1, 1)
    assert kpis.total.park_agreements == 0
    facts = await client.call(
        rg.LIST_FACTS, rg.ListFacts(kind="company_introduction"), region, actor=staff
    )
    assert [(f.company, f.outcome, f.version) for f in facts.items] == [
        ("Siemens AG", "cooperation_agreed", 2)
    ]

    # The presentation was recorded by mistake: withdrawn with why, listed so, not counted.
    await page.goto(f"{base}/facts")
    # Its own row's Withdraw: facts of one day are in no set order among themselves.
    laser = page.get_by_role("row").filter(has_text="LASER World of Photonics")
    await laser.locator("summary").click()
    await page.get_by_label(
        f"Why LASER World of Photonics on {today} was recorded by mistake"
    ).fill("the wrong company")
    await page.get_by_role("button", name=f"Withdraw LASER World of Photonics on {today}").click()
    await page.get_by_text(re.compile("Withdrawn by .*: the wrong company")).wait_for()
    await shot(page, "62-facts-withdrawn")
    kpis = await client.call(
        rg.GET_KPIS,
        rg.GetKpis(period_from=datetime.now(UTC).date(), period_to=datetime.now(UTC).date()),
        region,
    )
    assert kpis.total.trade_show_presentations == 0
