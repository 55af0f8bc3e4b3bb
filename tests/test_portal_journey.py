"""The issue's journey in Debian's Chromium, on real servers and a real mailbox: staff register
an SME and invite its contact; the contact joins through the mail, edits the company, publishes
a profile, registers for a brokerage event, finds a partner and asks for a meeting; the partner
accepts; the organiser schedules and publishes; the contact sees the meeting in the agenda and
downloads the .ics; the unsubscribe link of a real mail works. Screenshots of every page, each
checked with axe-core, are kept under test-artifacts/portal/."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
import pytest
from pydantic_settings import BaseSettings

from contracts import events as ev
from contracts import registry as rg
from contracts.common import SmeRef
from mapnet.dev.mailbox import MailStore
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import brokerage, profile, sme
from services.notify.settings import NotifySettings
from services.notify.tests.test_mail import wait_for
from tests.fixtures import Servers
from tests.test_portal import PASSWORD, add_person, portal_url
from tests.test_portal_browser import browser, pytestmark, shot, signed_in_at

__all__ = ["browser", "pytestmark"]


@pytest.fixture
def service_configs(notify_settings: NotifySettings) -> dict[str, BaseSettings]:
    return {"notify": notify_settings}


async def person(browser: Any, base: str, email: str | None = None) -> Any:
    """A page in a browser context of its own (its own cookies), signed in if an email is given."""
    page = await (await browser.new_context(accept_downloads=True)).new_page()
    page.set_default_timeout(15_000)
    if email:
        await signed_in_at(page, f"{base}/signin", email)
        await page.get_by_role("heading", name=re.compile("Welcome")).wait_for()
    return page


def link_in(mail: EmailMessage, pattern: str) -> str:
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(pattern, text)
    assert found, text
    return found.group(0)


def path_of(url: str) -> str:
    """The path and query of a mailed link: the test portal listens on a port of its own."""
    return "/" + url.split("/", 3)[3]


async def test_the_whole_journey_from_registration_to_agenda(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser: Any,
    mailbox: tuple[MailStore, int],
) -> None:  # fmt: skip
    store, _ = mailbox
    base = portal_url(region_app, region)
    # Set up by the bus: the partner with its offer, the brokerage event, the people.
    partner = await client.call(rg.REGISTER_SME, sme("Ultrafast Optics OÜ", "14000015",
                                                     nace_codes=["26.70"]), region)  # fmt: skip
    offer = profile("technology_offer", "Ultrafast femtosecond laser source",
                    "Compact femtosecond laser for glass and sapphire cutting",
                    nace_codes=["26.70"], keywords=["laser", "glass"])  # fmt: skip
    offered = await client.call(rg.PUBLISH_PROFILE, rg.PublishProfile(
        sme_id=partner.sme_id, profile=offer), region)  # fmt: skip
    offered_id = offered.profiles[0].profile_id
    event = await client.call(ev.PUBLISH_EVENT, brokerage(), region)
    await client.call(ev.REGISTER_PARTICIPANT, ev.RegisterParticipant(
        event_id=event.event_id, person_name="Olev Optik", email="olev@ultrafast.ee",
        sme=SmeRef(sme_id=partner.sme_id, region=region)), region)  # fmt: skip
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    await add_person(servers, region, "olev@ultrafast.ee", "sme", sme_id=partner.sme_id)
    await add_person(servers, region, "organiser@tallinn.example", "organiser",
                     event_ids=[event.event_id])  # fmt: skip

    # Staff register the SME and invite its contact.
    staff = await person(browser, base, "staff@tallinn.example")
    await staff.get_by_role("link", name="Registry", exact=True).click()
    await staff.get_by_role("link", name="Register an SME").click()
    for label, value in (("Legal name", "Laser Seekers OÜ"), ("Registry code", "14000009"),
                         ("Country (two letters)", "EE"), ("NACE codes", "26.70"),
                         ("Clusters", "photonics"), ("Name", "Mari Maasikas"),
                         ("Email", "mari@laserseekers.ee")):  # fmt: skip
        await staff.get_by_label(label, exact=label in ("Name", "Email")).fill(value)
    await staff.get_by_label("Agrees to be contacted by the MAP").check()
    await shot(staff, "10-register-sme")
    await staff.get_by_role("button", name="Register", exact=True).click()
    await staff.get_by_role("heading", name="Laser Seekers OÜ").wait_for()
    await staff.get_by_role("button", name="Invite to the portal: Mari Maasikas").click()
    await staff.get_by_role("heading", name="Invitation sent").wait_for()
    await shot(staff, "11-invitation-sent")

    # The contact joins through the mail.
    [invitation] = await wait_for(store, "invitation", to="mari@laserseekers.ee")
    mari = await person(browser, base)
    await mari.goto(base + path_of(link_in(invitation, r"http://\S+/welcome/\S+")))
    await shot(mari, "12-choose-password")
    await mari.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    await mari.get_by_label("The same password again").fill(PASSWORD)
    await mari.get_by_role("button", name="Save and sign in").click()
    await mari.get_by_role("heading", name=re.compile("Welcome")).wait_for()

    # ... edits the company and publishes a profile,
    await mari.get_by_role("link", name="My company").first.click()
    await mari.get_by_role("link", name="Edit the company").click()
    await mari.get_by_label("What the company does").fill("Glass cutting with ultrafast lasers")
    await shot(mari, "13-edit-company")
    await mari.get_by_role("button", name="Save", exact=True).click()
    await mari.get_by_text("Glass cutting with ultrafast lasers").wait_for()
    await mari.get_by_role("link", name="New profile").click()
    await mari.get_by_label("Kind").select_option("technology_request")
    await mari.get_by_label("Title").fill("Femtosecond laser for glass cutting")
    await mari.get_by_label("Summary").fill("We need an ultrafast laser source for thin glass")
    await mari.get_by_label("licence").check()
    await shot(mari, "14-new-profile")
    await mari.get_by_role("button", name="Publish", exact=True).click()
    await mari.locator("#profiles + p + ul").get_by_text("published").wait_for()

    # ... registers for the brokerage event,
    await mari.get_by_role("link", name="Calendar").click()
    await mari.get_by_role("link", name="Baltic Sea Brokerage Day").click()
    await shot(mari, "15-event")
    await mari.get_by_role("button", name="Register my company").click()
    await mari.get_by_text("Your seat is confirmed.").wait_for()
    await mari.goto(f"{base}/events/{event.event_id}/availability")
    await mari.get_by_label("09:00\u201309:30").uncheck()  # busy in the first slot
    await shot(mari, "15b-availability")
    await mari.get_by_role("button", name="Save when I can meet").click()
    await mari.get_by_label("09:30\u201310:00").wait_for()
    assert not await mari.get_by_label("09:00\u201309:30").is_checked()

    # ... finds the partner and asks for a meeting.
    for _ in range(40):  # the partner search reads matching's copy, which follows the registry
        await mari.goto(f"{base}/partners")
        if await mari.get_by_role("heading", name="Ultrafast femtosecond laser source").count():
            break
        await mari.wait_for_timeout(250)
    await shot(mari, "16-partners")
    # The result links to the company's page and the profile (issue 31 item 2).
    await mari.get_by_role("link", name="The profile: Ultrafast femtosecond laser source").click()
    await mari.get_by_role("heading", name="Ultrafast Optics OÜ").wait_for()
    assert mari.url.endswith("#profile-" + offered_id)
    await mari.go_back()
    # The request form offers only the events both companies attend.
    await mari.get_by_role("link", name="Ask Ultrafast Optics OÜ for a meeting").click()
    await mari.get_by_label("Message").fill("Could your laser cut 0.1 mm glass?")
    await shot(mari, "16b-request")
    await mari.get_by_role("button", name="Send the request").click()
    await mari.get_by_text("Your request is sent.").wait_for()
    await mari.locator("#sent").get_by_text("requested").wait_for()
    await shot(mari, "17-meetings")

    # The partner accepts.
    olev = await person(browser, base, "olev@ultrafast.ee")
    await olev.goto(f"{base}/events/{event.event_id}/meetings")
    await olev.get_by_text("Could your laser cut 0.1 mm glass?").wait_for()
    await olev.get_by_role("button", name="Accept").click()
    await olev.locator("#meetings").get_by_text("accepted").wait_for()

    # The organiser schedules and publishes.
    organiser = await person(browser, base, "organiser@tallinn.example")
    # The home page lists the organiser's events by title (issue 31 item 7).
    await organiser.get_by_role("link", name="Baltic Sea Brokerage Day").click()
    await organiser.locator("#matrix").wait_for()
    await organiser.get_by_label("Time the scheduler may take (seconds)").fill("2")
    await shot(organiser, "18-organise")
    await organiser.get_by_role("button", name="Build and publish the schedule").click()
    await organiser.locator("#grid").get_by_text("Mari Maasikas + Olev Optik").wait_for()
    assert "can hold more than 1 " in await organiser.locator("#bound").inner_text()
    await shot(organiser, "19-schedule")
    await organiser.get_by_role("link", name="Every participant's agenda, to print").click()
    await organiser.get_by_role("heading", name="Olev Optik").wait_for()
    await shot(organiser, "19b-agendas")

    # The contact sees the meeting in the agenda and downloads the .ics.
    await mari.goto(f"{base}/events/{event.event_id}/agenda")
    await mari.locator("#agenda").get_by_text("Ultrafast Optics OÜ").wait_for()
    assert "09:00" not in await mari.locator("#agenda tbody").inner_text()  # she is busy then
    await shot(mari, "20-agenda")
    async with mari.expect_download() as downloading:
        await mari.get_by_role("link", name=re.compile("Download to your calendar")).click()
    saved = Path(await (await downloading.value).path())
    calendar = icalendar.Calendar.from_ical(await asyncio.to_thread(saved.read_bytes))
    [meeting] = [c for c in calendar.walk("VEVENT")]
    assert meeting.decoded("dtstart").date().isoformat() == event.starts_at.date().isoformat()

    # The unsubscribe link of a real mail (her agenda's) works, in one click.
    [agenda_mail] = await wait_for(store, "schedule_published", to="mari@laserseekers.ee")
    stop = agenda_mail["List-Unsubscribe"].strip("<>")
    reader = await person(browser, base)
    await reader.goto(base + path_of(stop))
    await shot(reader, "21-unsubscribe")
    await reader.get_by_role("button", name="Unsubscribe").click()
    await reader.get_by_text("MAPnet sends no more mail to").wait_for()
