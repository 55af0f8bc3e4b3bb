"""The organiser's desk in Chromium (issue 31 items 7, 8, 10 and 11): their events by title and
date on the home page; the requests the schedule left out, with why and what would place them;
check-in from a list that filters as one types; the statistics with no-shows; the exports as CSV
and XLSX. Every page checked with axe; every page refused to another event's organiser and to a
company's contact."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from playwright.async_api import expect

from contracts import matching as mt
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import event_with_participants, request
from tests.fixtures import Servers
from tests.test_portal import add_person, portal_url, sign_in
from tests.test_portal_browser import browser_page, pytestmark, shot, signed_in_at

__all__ = ["browser_page", "pytestmark"]


async def scheduled_event(client: BusClient, region: str) -> str:
    """Four participants, at most one meeting each: person 0 is asked by persons 1 and 2 and
    holds only one of the two."""
    event_id, p = await event_with_participants(client, region, 4, max_meetings_per_participant=1)
    for a, b in ((1, 0), (2, 0)):
        asked = await request(client, region, event_id, p[a], p[b])
        await client.call(
            mt.RESPOND_MEETING,
            mt.RespondMeeting(meeting_id=asked.meeting_id, accept=True, responder=p[b]),
            region,
        )
    await client.call(mt.SCHEDULE_EVENT, mt.ScheduleEvent(event_id=event_id, time_limit_s=2),
                      region)  # fmt: skip
    return event_id


async def test_the_organiser_reads_the_unplaced_requests_checks_in_and_exports(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    page = browser_page
    event_id = await scheduled_event(client, region)
    await add_person(servers, region, "org@tallinn.example", "organiser", event_ids=[event_id])
    base = portal_url(region_app, region)

    # Item 7: the home page names the event and its date.
    await signed_in_at(page, f"{base}/signin", "org@tallinn.example")
    link = page.get_by_role("link", name="Baltic Sea Brokerage Day")
    await link.wait_for()
    assert await page.locator("main time").count() == 1
    await shot(page, "organiser-01-home")

    # Item 8: the organise page says one request could not be placed, and links to why.
    await link.click()
    await page.get_by_role("link", name="why, and what would place them").click()
    await page.get_by_role("heading", name=re.compile("Requests the schedule left out")).wait_for()
    table = page.locator("#unplaced")
    assert "holds the most meetings the event allows" in await table.inner_text()
    assert "allow one more meeting per participant (now 1)" in await table.inner_text()
    assert "Person 0" in await table.inner_text()
    # docs/portal-unplaced-requests.png is this page's screenshot (test-artifacts/portal/).
    await shot(page, "organiser-02-unplaced")

    # Item 10: check-in; the list filters as one types (htmx), a tap marks a person present.
    await page.goto(f"{base}/events/{event_id}/checkin")
    await page.get_by_role("heading", name=re.compile("Check-in")).wait_for()
    await page.get_by_label("Name or organisation").fill("person 2")
    await expect(page.locator(".checkin li")).to_have_count(1)
    await page.get_by_role("button", name="Mark Person 2 present").click()
    await page.locator(".checkin").get_by_text("checked in").wait_for()
    await shot(page, "organiser-03-checkin")
    await page.set_viewport_size({"width": 375, "height": 740})  # a phone
    assert "q=person" in page.url  # the address follows the filter
    await page.goto(f"{base}/events/{event_id}/checkin")
    await page.get_by_role("button", name="Mark Person 0 present").wait_for()
    await shot(page, "organiser-04-checkin-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})

    # Item 10 and 11: the statistics count the no-shows; the exports download.
    await page.goto(f"{base}/events/{event_id}/statistics")
    totals = await page.locator("#totals").inner_text()
    assert re.search(r"Checked in\s+1\b", totals) and re.search(r"never checked in\)\s+3\b", totals)
    assert re.search(r"Meeting requests\s+2\b", totals) and re.search(r"Scheduled\s+1\b", totals)
    await shot(page, "organiser-05-statistics")
    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="Participants as CSV").click()
    saved = tmp_path / "participants.csv"
    await (await csv_download.value).save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert sorted(r["person"] for r in rows) == [f"Person {i}" for i in range(4)]
    assert [r["checked in on day"] for r in rows if r["person"] == "Person 2"] == ["1"]
    async with page.expect_download() as xlsx_download:
        await page.get_by_role("link", name="Meetings as XLSX").click()
    saved = tmp_path / "meetings.xlsx"
    await (await xlsx_download.value).save_as(saved)
    sheet = load_workbook(saved).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["requester", "receiver", "status"]
    assert sheet.max_row == 3  # the header and the two accepted requests


async def test_every_desk_page_is_refused_to_another_organiser_and_a_contact(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    event_id = await scheduled_event(client, region)
    await add_person(servers, region, "other@tallinn.example", "organiser", event_ids=["other"])
    await add_person(servers, region, "mari@tallinn.example", "sme", sme_id="sme-0")
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    paths = [f"/events/{event_id}/{p}" for p in ("unplaced", "checkin", "statistics")] + [
        f"/events/{event_id}/exports/{what}.{fmt}"
        for what in ("participants", "meetings", "outcomes", "statistics")
        for fmt in ("csv", "xlsx")
    ]
    for email, allowed in (("other@tallinn.example", False), ("mari@tallinn.example", False),
                           ("staff@tallinn.example", True)):  # fmt: skip
        async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
            await sign_in(http, email)
            for path in paths:
                answer = await http.get(path)
                assert answer.status_code == (200 if allowed else 403), (email, path)
                if not allowed:
                    assert "Person 0" not in answer.text and "Baltic Sea" not in answer.text
            # Nor may they check anyone in.
            if not allowed:
                form = await http.get("/")
                token = re.search(r'name="csrf" value="([^"]+)"', form.text)
                assert token
                answer = await http.post(f"/events/{event_id}/checkin/anything",
                                         data={"csrf": token.group(1), "day": "0"})  # fmt: skip
                assert answer.status_code == 403, email


async def test_the_organiser_moves_a_meeting_by_hand_and_unlocks_one(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    event_id = await scheduled_event(client, region)
    schedule = await client.call(mt.GET_SCHEDULE, mt.GetSchedule(event_id=event_id), region)
    [held] = schedule.meetings
    await add_person(servers, region, "org@tallinn.example", "organiser", event_ids=[event_id])
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/events/{event_id}/unplaced", "org@tallinn.example")

    # Adding the left-out meeting by hand is refused: person 0 is at the cap.
    await page.get_by_role("button", name="Add to the schedule").click()
    await page.get_by_role("heading", name="The meeting stays where it was").wait_for()
    assert "cap 1" in await page.get_by_role("status").inner_text()
    await shot(page, "organiser-06-place-refused")

    # Moving the held one to a free slot and table: the grid shows it there.
    free = next(s for s in range(4) if s != held.slot)
    await page.goto(f"{base}/events/{event_id}/organise")
    form = page.locator(f"form[action='/meetings/{held.meeting_id}/place']")
    await form.get_by_label("Slot").select_option(index=free)
    await form.get_by_label("Table").select_option(index=1)  # the second table
    await form.get_by_role("button", name="Move").click()
    await page.wait_for_url(re.compile(r"/organise"))
    moved = await client.call(mt.GET_SCHEDULE, mt.GetSchedule(event_id=event_id), region)
    assert moved.version == 2 and [(m.slot, m.table) for m in moved.meetings] == [(free, 1)]
    await shot(page, "organiser-07-moved")

    # Locked where it is, it can only be unlocked; unlocked, it can be moved again.
    await page.locator("#grid").get_by_role("button", name=re.compile("^Lock")).click()
    await page.get_by_role("button", name="Unlock").click()
    await page.wait_for_url(re.compile(r"/organise"))
    await page.get_by_role("button", name="Move").wait_for()
    meeting = await client.call(mt.GET_MEETING, mt.GetMeeting(meeting_id=held.meeting_id), region)
    assert not meeting.locked


async def test_the_organiser_writes_to_those_without_meetings(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    event_id = await scheduled_event(client, region)  # persons 0, 1, 2 have accepted meetings
    await add_person(servers, region, "org@tallinn.example", "organiser", event_ids=[event_id])
    await add_person(servers, region, "other@tallinn.example", "organiser", event_ids=["other"])
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/events/{event_id}/organise", "org@tallinn.example")
    await page.get_by_role("link", name="Write to the participants").click()
    await page.get_by_label("those with a seat but no accepted meeting").check()
    await page.get_by_label("Subject").fill("Meet the investors at 15:00")
    await page.get_by_label("Message").fill("=1+1 No meetings yet? Come to the investors' corner.")
    await shot(page, "organiser-08-message")
    await page.get_by_role("button", name="Send").click()
    await page.get_by_role("heading", name="Message sent").wait_for()
    assert "Sent to 1 people" in await page.get_by_role("status").inner_text()  # person 3
    await shot(page, "organiser-09-message-sent")

    async with httpx.AsyncClient(base_url=base) as http:
        await sign_in(http, "other@tallinn.example")
        assert (await http.get(f"/events/{event_id}/message")).status_code == 403
        token = re.search(r'name="csrf" value="([^"]+)"', (await http.get("/")).text)
        assert token
        form = {"csrf": token.group(1), "audience": "confirmed", "subject": "x", "body": "y"}
        sent = await http.post(f"/events/{event_id}/message", data=form)
        assert sent.status_code == 403
