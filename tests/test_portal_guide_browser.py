"""The guide and finance pages in a real browser (Debian's Chromium through Playwright), each page
checked with axe: an article written and submitted by one member of staff, refused approval to
its author, approved by a second and read by a visitor beside the market's facts card; an SME
finding a finance offer that fits it, with the reasons."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from contracts import registry as rg
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.test_portal import add_person, portal_url
from tests.test_portal_browser import browser_page, shot, signed_in_at
from tests.test_portal_browser import pytestmark as browser_marks
from tests.test_portal_guide import service_configs

pytestmark = browser_marks
__all__ = ["browser_page", "service_configs"]  # the fixtures these tests use


async def sign_out(page: Any) -> None:
    await page.get_by_role("button", name=re.compile("Sign out")).click()
    await page.wait_for_url(re.compile(r"/signin"))


async def test_staff_write_an_article_the_author_may_not_approve_a_second_person_publishes(
    region_app: Assembly, servers: Servers, region: str, browser_page: Any
) -> None:
    page = browser_page
    for who in ("anna", "bert"):
        await add_person(servers, region, f"{who}@map.example.ee", "map_staff")
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/signin?next=/guide/new", "anna@map.example.ee")
    await page.get_by_role("heading", name="A new article").wait_for()
    assert await page.get_by_label("Market (two letters)").input_value() == "EE"
    await page.get_by_label("Topic", exact=True).select_option("tax_vat")
    await page.get_by_label("Title", exact=True).fill("VAT in Estonia")
    await page.get_by_label("Summary", exact=True).fill("Register for VAT past the threshold.")
    await page.get_by_label("The article (Markdown)").fill(
        "## Registration\n\nRegister with the **Tax and Customs Board**.\n"
    )
    await page.get_by_label("Source 1: address").fill("https://www.emta.ee/en")
    await page.get_by_label("Source 1: title").fill("Estonian Tax and Customs Board")
    await shot(page, "30-guide-write")
    await page.get_by_role("button", name="Save and submit for review").click()
    await page.get_by_role("heading", name="Review: VAT in Estonia").wait_for()
    assert await page.locator("#state").inner_text() == "in review"
    # The author is told why there is no approval for them.
    await page.get_by_text("You wrote this revision").wait_for()
    assert await page.get_by_role("button", name="Approve and publish").count() == 0
    await shot(page, "31-guide-review-by-its-author")
    await sign_out(page)

    await signed_in_at(page, f"{base}/signin?next=/guide/work", "bert@map.example.ee")
    await page.get_by_role("heading", name="Waiting for a reviewer").wait_for()
    await shot(page, "31a-guide-work")
    await page.get_by_role("link", name="VAT in Estonia").click()
    await page.get_by_role("heading", name="A new article: never published").wait_for()
    assert "Tax and Customs Board" in await page.locator("ul.diff").inner_text()
    await shot(page, "32-guide-review-by-a-colleague")
    await page.get_by_role("button", name="Approve and publish").click()
    await page.get_by_role("heading", name="VAT in Estonia").wait_for()
    await page.get_by_text(re.compile("Version 1, published on")).wait_for()
    await shot(page, "33-guide-article-published")
    await sign_out(page)

    # A visitor, not signed in: the market's guide with its facts card, and search.
    await page.goto(f"{base}/guide")
    await page.get_by_role("link", name="Estonia", exact=True).click()
    await page.get_by_role("heading", name="Estonia in facts").wait_for()
    await page.get_by_role("link", name="VAT in Estonia").wait_for()
    await shot(page, "34-guide-market")
    await page.goto(f"{base}/guide")
    await page.get_by_label("Search the guide").fill("customs board")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url(re.compile(r"text=customs"))
    await page.get_by_role("link", name="VAT in Estonia").wait_for()
    await shot(page, "35-guide-search")


async def test_an_sme_finds_a_finance_offer_that_fits_with_the_reasons(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "anna@map.example.ee", "map_staff")
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/signin?next=/finance/new", "anna@map.example.ee")
    await page.get_by_label("Title", exact=True).fill("Export growth loan")
    await page.get_by_label("Provider", exact=True).fill("KredEx")
    await page.get_by_label("Markets (country codes, comma between)").fill("EE, FI")
    await page.get_by_label("From (amount)").fill("10000")
    await page.get_by_label("Up to (amount)").fill("500000")
    await shot(page, "36-finance-publish")
    await page.get_by_role("button", name="Publish the offer").click()
    await page.get_by_role("heading", name="Finance offers").wait_for()
    await page.get_by_role("heading", name="Export growth loan").wait_for()
    await sign_out(page)

    await signed_in_at(page, f"{base}/signin", "mari@photonforge.ee")
    await page.get_by_role("link", name="Finance", exact=True).click()
    await page.get_by_role("heading", name="Export growth loan").wait_for()
    await shot(page, "37-finance-offers")
    await page.get_by_role("link", name="The offers that fit my company, and why").click()
    await page.get_by_role("link", name="Say what finance the company needs").click()
    await page.get_by_label("Amount", exact=True).fill("50000")
    await page.get_by_label("For what").select_option("internationalisation")
    await page.get_by_label("Needed by").fill((date.today() + timedelta(days=60)).isoformat())
    await page.get_by_label("loan", exact=True).check()
    await page.get_by_label("Markets the company is entering").fill("FI")
    await shot(page, "38-finance-need")
    await page.get_by_role("button", name="Save the need").click()
    await page.get_by_role("heading", name="Offers that fit").wait_for()
    fits = page.locator("#suggested > li")
    assert await fits.count() == 1
    assert "Export growth loan" in await fits.first.inner_text()
    assert await fits.first.locator("li").count() >= 3  # the reasons, criterion by criterion
    await shot(page, "39-finance-suggestions")
