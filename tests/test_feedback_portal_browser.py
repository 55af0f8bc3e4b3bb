"""The SMEs' feedback in a real browser (Debian's Chromium through Playwright), each page checked
with axe: a company's contact finds the survey of a coaching stage on their home page, answers
it (a rating, what helped, obstacles in a market, consent to quote), sees it gone from the home
page, and the survey's page, opened again, says it is no longer open to them."""

from __future__ import annotations

import re
from typing import Any

from contracts import registry as rg
from contracts import reports as rp
from contracts.access import Actor
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import add_person, portal_url
from tests.test_portal_browser import browser_page, shot, signed_in_at
from tests.test_portal_browser import pytestmark as browser_marks

pytestmark = browser_marks
__all__ = ["browser_page"]  # the fixture these tests use


async def test_a_contact_answers_the_survey_on_their_home_page_once(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    mari = Actor(id="mari@photonforge.ee", role="sme", region=region, sme_id=sme.sme_id)
    await add_person(servers, region, mari.id, "sme", sme_id=sme.sme_id)
    change = rg.ChangeStage(sme_id=sme.sme_id, to_stage="selected", reason="chosen for coaching")
    await client.call(rg.CHANGE_STAGE, change, region)

    async def open_surveys() -> list[rp.Survey]:
        found = await client.call(rp.LIST_OPEN_SURVEYS, rp.ListOpenSurveys(), region, actor=mari)
        return found.items

    [survey] = await eventually(open_surveys, until=lambda items: len(items) == 1)
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/signin", mari.id)
    await page.get_by_role("heading", name="Surveys to answer").wait_for()
    await shot(page, "60-feedback-home")
    await page.get_by_role("link", name=re.compile("Your coaching: the stage selected")).click()
    await page.get_by_role("heading", name="A short survey").wait_for()
    await page.get_by_label("4", exact=True).check()
    await page.get_by_label("What helped").fill("The coach's introductions in Helsinki")
    await page.get_by_label("Market (two letters, e.g. DE)").first.fill("fi")
    await page.locator("#obstacles-0-regulation_and_certification").check()
    await page.locator("#obstacles-0-language_and_culture").check()
    await page.get_by_label("In your words").first.fill("CE marking took months")
    await page.get_by_label(re.compile("My words may be quoted")).check()
    await shot(page, "61-feedback-survey")
    form_url = page.url
    await page.get_by_role("button", name="Send my answer").click()
    await page.get_by_text("Thank you: your answer was saved.").wait_for()
    assert await page.get_by_role("heading", name="Surveys to answer").count() == 0
    await shot(page, "62-feedback-answered")

    staff = Actor(id="anna@map.example.ee", role="map_staff", region=region)
    answers = await client.call(rp.LIST_SURVEY_ANSWERS, rp.ListSurveyAnswers(), region,
                                actor=staff)  # fmt: skip
    [answer] = answers.items
    assert (answer.survey_id, answer.rating, answer.may_quote) == (survey.survey_id, 4, True)
    [fi] = answer.markets
    assert (fi.market, fi.obstacles, fi.text) == (
        "FI", ["regulation_and_certification", "language_and_culture"], "CE marking took months"
    )  # fmt: skip

    # The survey's page again: it is no longer open to them.
    await page.goto(form_url)
    await page.get_by_text(re.compile("not open to you")).wait_for()
    await shot(page, "63-feedback-not-open")
