"""The portal in a real browser: Debian's Chromium driven by Playwright. Each journey keeps
screenshots of its pages under test-artifacts/portal/ (kept by CI as artefacts)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contracts import registry as rg
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.test_portal import PASSWORD, add_person, portal_url

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "portal"
# What this machine's closed network needs (see the README's development section).
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.usefixtures("region_app"),
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("MAPNET_REQUIRE_BROWSER"),
        reason="Debian's chromium is not installed (make test installs it)",
    ),
]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium, launched for one test."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """For tests that open pages in contexts of their own (one per person)."""
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def browser_page() -> AsyncIterator[Any]:
    async with chromium() as launched:
        yield await launched.new_page()


AXE = Path(__file__).resolve().parent / "vendor" / "axe-4.14.1.min.js"  # npm axe-core, MPL-2.0


async def signed_in_at(page: Any, url: str, email: str) -> None:
    """Open a page that needs signing in, and sign in as this person on the way."""
    await page.goto(url)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def shot(page: Any, name: str) -> None:
    """Keep a screenshot of the page, and check it with axe-core: no serious or critical
    accessibility violation may be on any page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    # Evaluated through the browser's devtools, not as a <script> of the page: the pages' policy
    # (CSP) runs no inline script, and the tests keep it on.
    await page.evaluate(AXE.read_text())
    found = await page.evaluate("async () => (await axe.run()).violations")
    serious = {"serious", "critical"}
    bad = [(v["id"], v["impact"], v["help"]) for v in found if v["impact"] in serious]
    assert bad == [], f"{name}: {bad}"


async def test_staff_signs_in_searches_the_registry_and_opens_an_sme(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    await client.call(rg.REGISTER_SME, new_sme(), region)
    await client.call(rg.REGISTER_SME, new_sme(reg="14000015", name="Baltic Code OÜ"), region)
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    base = portal_url(region_app, region)

    await page.goto(f"{base}/smes")  # signed out: sent to sign in, and back after
    assert "/signin" in page.url
    await shot(page, "01-signin")
    await page.get_by_label("Email").fill("staff@tallinn.example")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(r"/smes$"))
    await page.get_by_role("heading", name="The registry").wait_for()
    assert await page.get_by_role("link", name="Photon Forge OÜ").count() == 1
    await shot(page, "02-registry")

    # The search replaces the table in place (htmx) and the address follows it.
    await page.get_by_label("Name or description").fill("Baltic")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url(re.compile(r"text=Baltic"))
    await page.get_by_role("link", name="Baltic Code OÜ").wait_for()
    assert await page.get_by_role("link", name="Photon Forge OÜ").count() == 0
    await shot(page, "03-search")

    await page.get_by_role("link", name="Baltic Code OÜ").click()
    await page.get_by_role("heading", name="Baltic Code OÜ").wait_for()
    await page.get_by_role("heading", name="Coaching journey").wait_for()
    await shot(page, "04-sme")

    await page.get_by_role("button", name=re.compile("Sign out")).click()
    await page.wait_for_url(re.compile(r"/signin"))
    await page.goto(f"{base}/smes")
    assert "/signin" in page.url  # the session is gone


async def test_anyone_reads_the_calendar_without_signing_in(
    region_app: Assembly, region: str, browser_page: Any
) -> None:
    page = browser_page
    await page.goto(f"{portal_url(region_app, region)}/calendar")
    await page.get_by_role("heading", name="The network calendar").wait_for()
    await page.get_by_role("link", name="Sign in").wait_for()
    await shot(page, "05-calendar")


async def test_an_sme_contact_opens_their_company_and_the_partner_search(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    await signed_in_at(page, f"{portal_url(region_app, region)}/signin", "mari@photonforge.ee")
    await page.get_by_role("link", name="My company").first.click()
    await page.get_by_role("heading", name="Photon Forge OÜ").wait_for()
    await shot(page, "06-my-company")
    await page.get_by_role("link", name="Find partners").click()
    await page.get_by_role("heading", name="Find partners").wait_for()
    await shot(page, "07-partners")


async def test_staff_import_a_file_and_watch_it_load_with_the_bad_rows_named(
    region_app: Assembly, servers: Servers, region: str, browser_page: Any, tmp_path: Path
) -> None:
    page = browser_page
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    smes = tmp_path / "smes.csv"
    smes.write_text(
        "legal_name,registration_number,country,nace_codes,clusters\n"
        "Photon Forge OÜ,14000009,EE,26.70,photonics\n"
        "Broken Digit OÜ,14000010,EE,62.01,ict\n"
        "Baltic Code OÜ,14000015,EE,62.01;62.02,ict\n"
    )
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/signin?next=/smes/import", "staff@tallinn.example")
    await page.get_by_label("The file").set_input_files(str(smes))
    await page.get_by_role("button", name="Import").click()
    await page.get_by_text("2 SMEs loaded, 1 rows rejected.").wait_for()
    await page.get_by_text(re.compile("^Finished")).wait_for()
    rejected = page.locator("#rejected tbody tr")
    assert await rejected.count() == 1
    assert (await rejected.first.inner_text()).startswith("3\t")  # the line of the file
    assert "registration_number" in await rejected.first.inner_text()
    await shot(page, "08-import")
    await page.get_by_role("link", name="The registry").click()
    await page.get_by_role("link", name="Baltic Code OÜ").wait_for()


async def test_staff_tell_a_success_story_and_the_indicators_count_it(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    await add_person(servers, region, "steering@tallinn.example", "steering")
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/signin?next=/smes/{sme.sme_id}", "staff@tallinn.example")
    await page.get_by_role("link", name="Tell a success story of this company").click()
    await page.get_by_label("Title").fill("A licence for Finland")
    await page.get_by_label("The story").fill("Met at the Helsinki brokerage day; signed.")
    await page.get_by_label("Agreement").select_option("licence")
    await page.get_by_label("Reached on").fill(date.today().isoformat())
    await page.get_by_role("button", name="Save the story").click()
    await page.get_by_role("heading", name="Story told").wait_for()
    await page.goto(f"{base}/kpis")
    chart = page.get_by_role("img", name=re.compile("success stories 1"))
    await chart.wait_for()
    assert await page.get_by_role("img", name=re.compile("identified 1,")).count() == 1
    await shot(page, "09-indicators")
    await page.get_by_role("button", name=re.compile("Sign out")).click()
    await signed_in_at(page, f"{base}/signin?next=/kpis", "steering@tallinn.example")
    await page.get_by_role("heading", name=re.compile("What MAPnet")).wait_for()
    assert await page.get_by_role("link", name="Tell a success story").count() == 0
    assert await page.get_by_role("link", name="Registry").count() == 0


async def test_staff_set_up_a_brokerage_event_and_coach_an_sme_and_people_choose_their_mail(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/signin?next=/events/new", "staff@tallinn.example")
    day = date.today().replace(year=date.today().year + 1)
    for label, value in (("Title", "Tallinn Brokerage Day"), ("City", "Tallinn"),
                         ("Country (two letters)", "EE"), ("Time zone", "Europe/Tallin"),
                         ("Days (dates, comma between)", day.isoformat()),
                         ("Slots a day", "4"), ("Tables", "3"),
                         ("A break after slot", "2")):  # fmt: skip
        await page.get_by_label(label).fill(value)
    await page.get_by_label("Requests until").fill(f"{day.isoformat()}T08:00")
    await page.get_by_role("button", name="Publish the event").click()
    await page.locator("#problems").get_by_text(re.compile("timezone")).wait_for()  # named
    await page.get_by_label("Time zone").fill("Europe/Tallinn")
    await shot(page, "22-event-setup")
    await page.get_by_role("button", name="Publish the event").click()
    await page.get_by_role("heading", name="Organise Tallinn Brokerage Day").wait_for()
    await page.get_by_role("link", name="The event's page").click()
    # Slot 2 is followed by a break of one slot: the third slot starts at 10:30.
    assert "10:30" in await page.locator("tbody tr").nth(2).inner_text()

    await page.goto(f"{base}/calendar?kind=brokerage_event")
    await page.get_by_role("link", name="Tallinn Brokerage Day").wait_for()
    feed = await page.get_by_role("link", name=re.compile("Subscribe")).get_attribute("href")
    ical = await page.request.get(f"{base}{feed}")
    assert "text/calendar" in ical.headers["content-type"]
    assert "Tallinn Brokerage Day" in await ical.text()

    await page.goto(f"{base}/smes/{sme.sme_id}")
    await page.get_by_label("Move to").select_option("selected")
    await page.get_by_label("Why").fill("Fast growth, export plans")
    await page.get_by_role("button", name="Move along the journey").click()
    await page.get_by_text("selected on").wait_for()

    await page.get_by_role("link", name="Mail", exact=True).click()
    await page.get_by_label("meeting requested").select_option("digest")
    await shot(page, "23-preferences")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_text("Saved.").wait_for()
    await page.reload()
    assert await page.get_by_label("meeting requested").input_value() == "digest"
