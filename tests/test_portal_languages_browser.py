"""Each person's pages in their language, in Chromium on real servers (issue 31 item 6): a person
who chose German gets German pages (``lang``, words, dates, numbers) while another person, served
by the same process at the same moment, gets English; a visitor whose browser asks for German
gets German. The catalogue is a small test one in a temporary locale directory (the repository
ships no partial translation); axe checks the account page in both languages."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from contracts import events as ev
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.events.tests.test_events_bus import entry
from services.portal.entrypoints.formats import Formats
from services.portal.settings import PortalSettings
from services.portal.tests.test_languages import german_catalogue
from tests.fixtures import Servers
from tests.test_portal import add_person, portal_url
from tests.test_portal_browser import browser, pytestmark, shot, signed_in_at

__all__ = ["browser", "pytestmark"]

DAY = date(2027, 3, 9)


@pytest.fixture
def service_configs(tmp_path: Path) -> dict[str, BaseSettings]:
    locale = german_catalogue(tmp_path / "locale")
    return {"portal": PortalSettings.model_validate({"MAPNET_PORTAL_LOCALE_DIR": locale})}


async def language_of(page: Any) -> str:
    found: str = await page.locator("html").get_attribute("lang")
    return found


async def test_a_person_who_chose_german_reads_german_while_another_reads_english(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser: Any
) -> None:
    base = portal_url(region_app, region)
    fair = entry("fair", title="Photonics Fair", starts_at=f"{DAY}T16:05:00",
                 ends_at=f"{DAY}T18:00:00")  # fmt: skip
    await client.call(ev.PUBLISH_EVENT, fair, region)
    await add_person(servers, region, "anna@map.example", "map_staff")
    await add_person(servers, region, "john@map.example", "map_staff")
    anna = await (await browser.new_context(locale="en-GB")).new_page()
    john = await (await browser.new_context(locale="en-GB")).new_page()

    await signed_in_at(anna, f"{base}/account", "anna@map.example")
    await anna.get_by_role("heading", name="Your account").wait_for()
    await shot(anna, "account-en")
    await anna.get_by_label("Language of the pages").select_option("de")
    await anna.get_by_role("button", name="Save").click()
    await anna.get_by_role("heading", name="Ihr Konto").wait_for()  # this answer already
    await anna.get_by_role("status").filter(has_text="Gespeichert.").wait_for()
    assert await language_of(anna) == "de"
    assert await anna.locator("#example-number").inner_text() == "1.234.567,5"
    assert await anna.get_by_label("Sprache der Seiten").input_value() == "de"
    await shot(anna, "account-de")

    await signed_in_at(john, f"{base}/account", "john@map.example")
    await john.get_by_role("heading", name="Your account").wait_for()
    # Both at once, a few times over, from one portal process: each in their own language.
    written = datetime(2027, 3, 9, 16, 5)
    german, english = (Formats(k).when(written, "%d %b %Y %H:%M") for k in ("de", "en"))
    assert german.startswith("9. März 2027") and english.startswith("9 Mar 2027")
    for _ in range(3):
        await asyncio.gather(anna.goto(f"{base}/calendar"), john.goto(f"{base}/calendar"))
        assert (await language_of(anna), await language_of(john)) == ("de", "en")
        await anna.get_by_text(german).wait_for()
        await john.get_by_text(english).wait_for()
        assert await anna.get_by_role("link", name="Kalender", exact=True).count() == 1
        assert await john.get_by_role("link", name="Calendar", exact=True).count() == 1
        assert await anna.get_by_text(english).count() == 0

    visitor = await (await browser.new_context(locale="de-AT")).new_page()
    await visitor.goto(f"{base}/calendar")  # Accept-Language: de-AT,de
    assert await language_of(visitor) == "de"
    await visitor.get_by_text(german).wait_for()
    await visitor.get_by_role("link", name="Anmelden").wait_for()
    await visitor.goto(f"{base}/signin")
    await visitor.get_by_role("heading", name="Anmelden").wait_for()
