"""The MAP office in Chromium (issue 31 items 13, 14 and 15): the registry exported with the
table's filters (every row they match, formula-like text kept as text) and the indicators as
CSV; the people of the region (invitations sent again or revoked, a role changed, a person
disabled) and erasing an SME or a contact from its page, after a confirmation that names what
goes. Every page checked with axe, every file and action refused to the roles it is not for."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from pydantic_settings import BaseSettings
from stdnum.ee import registrikood

from contracts import registry as rg
from contracts.errors import Refused
from mapnet.dev.mailbox import MailStore
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from services.notify.settings import NotifySettings
from services.notify.tests.test_mail import wait_for
from services.portal.adapters.store import PortalStore
from services.registry.settings import RegistrySettings
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import add_person, csrf_of, portal_url, sign_in
from tests.test_portal_browser import browser_page, pytestmark, shot, signed_in_at
from tests.test_portal_journey import link_in, path_of

__all__ = ["browser_page", "pytestmark"]


@pytest.fixture
def service_configs(notify_settings: NotifySettings) -> dict[str, BaseSettings]:
    """Mail goes to the test's mailbox (the invitations sent again are read from it); the
    region reviews its contacts' profiles before they are published."""
    return {"notify": notify_settings, "registry": RegistrySettings(MAPNET_PROFILE_REVIEW=True)}


def registry_codes(count: int) -> list[str]:
    """Estonian registry codes that pass their check digit."""
    codes = (str(n) for n in range(10_000_000, 10_100_000))
    return [c for c in codes if registrikood.is_valid(c)][:count]


async def test_staff_export_the_filtered_registry_and_the_indicators(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    page = browser_page
    # More photonics SMEs than the table shows on a page (50), and one of another cluster.
    *codes, odd, wood = registry_codes(57)
    for n, code in enumerate(codes):
        await client.call(rg.REGISTER_SME, new_sme(reg=code, name=f"Photon {n:02} OÜ"), region)
    await client.call(rg.REGISTER_SME, new_sme(reg=odd, name="=HYPERLINK(1) OÜ"), region)
    await client.call(rg.REGISTER_SME, new_sme(reg=wood, name="Wood AS", clusters=["wood"]),
                      region)  # fmt: skip
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/smes", "staff@tallinn.example")
    await page.get_by_label("Cluster").select_option("photonics")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**cluster=photonics**")
    await page.get_by_role("link", name="Next page").wait_for()  # the table shows 50
    await shot(page, "office-01-registry-export")
    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="Registry as CSV").click()
    saved = tmp_path / "registry.csv"
    await (await csv_download.value).save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    names = {r["legal_name"] for r in rows}
    assert len(rows) == 56 and "Wood AS" not in names  # every row of the filter, none other
    assert "'=HYPERLINK(1) OÜ" in names  # kept as text
    async with page.expect_download() as xlsx_download:
        await page.get_by_role("link", name="Registry as XLSX").click()
    saved = tmp_path / "registry.xlsx"
    await (await xlsx_download.value).save_as(saved)
    sheet = load_workbook(saved).active
    assert sheet is not None and sheet.max_row == 57

    await page.goto(f"{base}/kpis?period_from=2020-01-01")
    await shot(page, "office-02-indicators-export")
    async with page.expect_download() as kpi_download:
        await page.get_by_role("link", name="Indicators as CSV").click()
    saved = tmp_path / "indicators.csv"
    await (await kpi_download.value).save_as(saved)
    lines = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    total = next(r for r in lines if r["scope"] == "region")
    assert total["identified"] == "57"
    assert next(r for r in lines if r["name"] == "wood")["identified"] == "1"


async def test_the_exports_are_refused_to_the_roles_they_are_not_for(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    await add_person(servers, region, "org@tallinn.example", "organiser", event_ids=["e1"])
    await add_person(servers, region, "steering@tallinn.example", "steering")
    await add_person(servers, region, "admin@tallinn.example", "map_admin")
    registry = ["/smes/export.csv", "/smes/export.xlsx?cluster=photonics"]
    indicators = ["/kpis/export.csv", "/kpis/export.xlsx"]
    allowed = {
        "mari@photonforge.ee": (),
        "org@tallinn.example": (),
        "steering@tallinn.example": tuple(indicators),
        "admin@tallinn.example": (*registry, *indicators),
    }
    for email, may in allowed.items():
        async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
            await sign_in(http, email)
            for path in registry + indicators:
                answer = await http.get(path)
                assert answer.status_code == (200 if path in may else 403), (email, path)
                if path not in may:
                    assert "Photon Forge" not in answer.text
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        assert (await http.get("/smes/export.csv")).status_code == 303  # sign in first
        await sign_in(http, "admin@tallinn.example")
        assert (await http.get("/smes/export.pdf")).status_code == 404


async def test_staff_send_an_invitation_again_revoke_one_change_a_role_and_disable_a_person(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any,
    mailbox: tuple[MailStore, int],
) -> None:  # fmt: skip
    page, (store, _) = browser_page, mailbox
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    await add_person(servers, region, "org@tallinn.example", "organiser", event_ids=["e1"])
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    base = portal_url(region_app, region)
    await signed_in_at(page, f"{base}/people", "staff@tallinn.example")
    await page.get_by_label("Email", exact=True).fill("uku@photonforge.ee")
    await page.get_by_label("Name", exact=True).fill("Uku Tamm")
    await page.get_by_label("Role", exact=True).select_option("sme")
    await page.get_by_label("SME id (for a company's contact)").fill(sme.sme_id)
    await page.get_by_role("button", name="Send the invitation").click()
    await page.get_by_role("heading", name="Invitation sent").wait_for()
    [first] = await wait_for(store, "invitation", to="uku@photonforge.ee")
    await page.goto(f"{base}/people")
    await page.get_by_role(
        "button", name="Send again: the invitation of uku@photonforge.ee"
    ).click()
    await page.locator("#said").get_by_text("is sent again").wait_for()
    await shot(page, "office-03-people")
    mails = await wait_for(store, "invitation", to="uku@photonforge.ee", count=2)
    welcome = r"http://\S+/welcome/\S+"
    old = path_of(link_in(first, welcome))
    [again] = [m for m in mails if path_of(link_in(m, welcome)) != old]
    new = path_of(link_in(again, welcome))
    assert "Uku Tamm" in again.get_body(("plain",)).get_content()
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get(old)).status_code == 404  # the earlier link no longer works
        assert (await http.get(new)).status_code == 200
    await page.get_by_role("button", name="Revoke: the invitation of uku@photonforge.ee").click()
    await page.locator("#said").get_by_text("is revoked").wait_for()
    assert "No invitation is waiting." in await page.locator("#pending + table").inner_text()
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.get(new)).status_code == 404

    # The organiser, signed in elsewhere, becomes the company's contact: their session ends.
    async with httpx.AsyncClient(base_url=base) as org, httpx.AsyncClient(base_url=base) as mari:
        await sign_in(org, "org@tallinn.example")
        await sign_in(mari, "mari@photonforge.ee")
        assert (await org.get("/")).status_code == 200
        await page.get_by_label("SME id or event ids org@tallinn.example acts for").fill(sme.sme_id)
        await page.get_by_label("New role of org@tallinn.example").select_option("sme")
        await page.get_by_role("button", name="Change role of org@tallinn.example").click()
        await page.locator("#said").get_by_text("is now sme").wait_for()
        assert (await org.get("/")).status_code == 303  # signed out
        await sign_in(org, "org@tallinn.example")
        assert (await org.get(f"/smes/{sme.sme_id}")).status_code == 200  # as the contact now
        # Disabled: signed out, and signing in is refused until enabled again.
        await page.get_by_role("button", name="Disable mari@photonforge.ee").click()
        await page.locator("#said").get_by_text("is disabled").wait_for()
        assert (await mari.get("/")).status_code == 303
        refused = await sign_in(mari, "mari@photonforge.ee")
        assert refused.status_code == 401 and "disabled" in refused.text
        await shot(page, "office-04-people-changed")
        await page.get_by_role("button", name="Enable mari@photonforge.ee").click()
        await page.locator("#said").get_by_text("may sign in again").wait_for()
        assert (await sign_in(mari, "mari@photonforge.ee")).status_code == 303


async def test_people_actions_are_refused_to_the_roles_they_are_not_for(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "admin@tallinn.example", "map_admin")
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    await add_person(servers, region, "staff2@tallinn.example", "map_staff")
    await add_person(servers, region, "org@tallinn.example", "organiser", event_ids=["e1"])
    await add_person(servers, region, "steering@tallinn.example", "steering")
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    base = portal_url(region_app, region)
    disable_staff = {"email": "staff2@tallinn.example", "action": "disable"}
    promote_self = {"email": "mari@photonforge.ee", "action": "role", "role": "map_admin"}
    for email in ("mari@photonforge.ee", "org@tallinn.example", "steering@tallinn.example"):
        async with httpx.AsyncClient(base_url=base) as http:
            await sign_in(http, email)
            token = csrf_of(await http.get("/preferences"))
            assert (await http.get("/people")).status_code == 403
            for path, data in (
                ("/people", promote_self),
                ("/people", disable_staff),
                ("/invitations/pending", {"email": "x@y.ee", "action": "revoke"}),
            ):
                answer = await http.post(path, data={"csrf": token, **data})
                assert answer.status_code == 403, (email, path)
    async with httpx.AsyncClient(base_url=base) as http:  # staff manage no staff, nor themselves
        await sign_in(http, "staff@tallinn.example")
        token = csrf_of(await http.get("/people"))
        for data in (disable_staff, {"email": "staff@tallinn.example", "action": "disable"},
                     {"email": "admin@tallinn.example", "action": "role", "role": "sme",
                      "acts_for": sme.sme_id}):  # fmt: skip
            assert (await http.post("/people", data={"csrf": token, **data})).status_code == 403
        forged = await http.post("/people", data={"csrf": "forged", **disable_staff})
        assert forged.status_code == 403
    async with httpx.AsyncClient(base_url=base) as http:  # none of it happened
        assert (await sign_in(http, "staff2@tallinn.example")).status_code == 303
        assert (await sign_in(http, "mari@photonforge.ee")).status_code == 303


async def test_the_administrator_erases_a_contact_then_the_sme_after_confirming(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    contacts = [{"name": "Mari Maasikas", "email": "mari@photonforge.ee"},
                {"name": "Uku Tamm", "email": "uku@photonforge.ee"}]  # fmt: skip
    sme = await client.call(rg.REGISTER_SME, new_sme(contacts=contacts), region)
    await add_person(servers, region, "admin@tallinn.example", "map_admin")
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    await add_person(servers, region, "org@tallinn.example", "organiser", event_ids=["e1"])
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    await add_person(servers, region, "uku@photonforge.ee", "sme", sme_id=sme.sme_id)
    base = portal_url(region_app, region)
    [mari] = [c for c in sme.contacts if c.name == "Mari Maasikas"]

    # Nobody else may even see what would be erased.
    for email in ("staff@tallinn.example", "org@tallinn.example", "uku@photonforge.ee"):
        async with httpx.AsyncClient(base_url=base) as http:
            await sign_in(http, email)
            token = csrf_of(await http.get("/preferences"))
            for path in (f"/smes/{sme.sme_id}/erase",
                         f"/smes/{sme.sme_id}/contacts/{mari.id}/erase"):  # fmt: skip
                seen = await http.get(path)
                assert seen.status_code == 403 and "mari@photonforge.ee" not in seen.text
                posted = await http.post(path, data={"csrf": token, "reason": "because"})
                assert posted.status_code == 403, (email, path)
    assert len((await client.call(rg.GET_SME, rg.GetSme(sme_id=sme.sme_id), region)).contacts) == 2

    await signed_in_at(page, f"{base}/smes/{sme.sme_id}", "admin@tallinn.example")
    await page.get_by_role("link", name="Erase Mari Maasikas").click()
    erased = await page.locator("#erased").inner_text()
    assert "Mari Maasikas (mari@photonforge.ee)" in erased
    assert "the portal account mari@photonforge.ee" in erased and "uku@" not in erased
    await shot(page, "office-05-erase-contact")
    await page.get_by_role("button", name="Erase Mari Maasikas for good").click()  # no reason
    assert "erase" in page.url  # the browser asks for the reason first (required)
    await page.get_by_label("Why (kept in the audit trail)").fill("asked to be forgotten")
    await page.get_by_role("button", name="Erase Mari Maasikas for good").click()
    await page.locator("#said").get_by_text("The contact person is erased.").wait_for()
    assert "Mari Maasikas" not in await page.locator("main").inner_text()
    portal_people = PortalStore(mongo.database(mongo.client(servers.mongo_url), region, "portal"))

    async def gone(email: str) -> None:
        await eventually(lambda: portal_people.user(email), until=lambda user: user is None)

    await gone("mari@photonforge.ee")
    assert await portal_people.user("uku@photonforge.ee") is not None

    await page.get_by_role("link", name=re.compile("Erase Photon Forge OÜ and its people")).click()
    erased = await page.locator("#erased").inner_text()
    assert "Photon Forge OÜ (registration number 14000009, EE)" in erased
    assert "Uku Tamm (uku@photonforge.ee)" in erased and "Mari" not in erased
    assert "the portal account uku@photonforge.ee" in erased
    await shot(page, "office-06-erase-sme")
    await page.get_by_label("Why (kept in the audit trail)").fill("the company closed down")
    await page.get_by_role("button", name="Erase Photon Forge OÜ for good").click()
    await page.get_by_role("heading", name="Erased").wait_for()
    with pytest.raises(Refused) as after:
        await client.call(rg.GET_SME, rg.GetSme(sme_id=sme.sme_id), region)
    assert after.value.code == "not_found"
    await gone("uku@photonforge.ee")


async def test_a_contacts_profile_is_published_once_staff_approve_it(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    await add_person(servers, region, "org@tallinn.example", "organiser", event_ids=["e1"])
    await add_person(servers, region, "steering@tallinn.example", "steering")
    base = portal_url(region_app, region)
    profiles = page.locator("#profiles + p + ul")

    # The contact publishes: it waits for the MAP.
    await signed_in_at(page, f"{base}/smes/{sme.sme_id}", "mari@photonforge.ee")
    await page.get_by_role("link", name="New profile").click()
    await page.get_by_label("Kind").select_option("technology_offer")
    await page.get_by_label("Title").fill("Femtosecond lasers for glass")
    await page.get_by_label("Summary").fill("Ultrafast laser sources for cutting thin glass")
    await page.get_by_label("licence").check()
    await page.get_by_role("button", name="Publish", exact=True).click()
    await profiles.get_by_text("in review").wait_for()
    [waiting] = (await client.call(rg.GET_SME, rg.GetSme(sme_id=sme.sme_id), region)).profiles
    assert waiting.status == "in_review"

    # Nobody but the region's staff sees the queue or decides; not the contact on her own.
    decide = f"/reviews/{sme.sme_id}/{waiting.profile_id}"
    for email in ("mari@photonforge.ee", "org@tallinn.example", "steering@tallinn.example"):
        async with httpx.AsyncClient(base_url=base) as http:
            await sign_in(http, email)
            token = csrf_of(await http.get("/preferences"))
            seen = await http.get("/reviews")
            assert seen.status_code == 403 and "Femtosecond" not in seen.text
            done = await http.post(decide, data={"csrf": token, "action": "approve"})
            assert done.status_code == 403, email

    # Staff send it back with a note.
    await page.context.clear_cookies()
    await signed_in_at(page, f"{base}/reviews", "staff@tallinn.example")
    await page.get_by_role("heading", name="Femtosecond lasers for glass").wait_for()
    await shot(page, "office-07-reviews")
    await page.get_by_role("button", name="Send back Femtosecond lasers for glass").click()
    await page.get_by_role("alert").get_by_text("say what to change").wait_for()  # no note
    await page.get_by_label("What to change in “Femtosecond lasers for glass”").fill(
        "Say which glass thicknesses you cut"
    )
    await page.get_by_role("button", name="Send back Femtosecond lasers for glass").click()
    await page.locator("#said").get_by_text("went back to Photon Forge OÜ").wait_for()
    await page.locator("#no-reviews").wait_for()

    # The contact reads the note, changes the profile and publishes it again.
    await page.context.clear_cookies()
    await signed_in_at(page, f"{base}/smes/{sme.sme_id}", "mari@photonforge.ee")
    await profiles.get_by_text(
        "Sent back by the MAP: Say which glass thicknesses you cut"
    ).wait_for()
    await shot(page, "office-08-sent-back")
    await page.get_by_role("link", name="Edit Femtosecond lasers for glass").click()
    await page.get_by_label("Summary").fill("Ultrafast lasers cutting glass from 0.1 to 2 mm")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await profiles.get_by_text("in review").wait_for()

    # Staff approve it: published.
    await page.context.clear_cookies()
    await signed_in_at(page, f"{base}/reviews", "staff@tallinn.example")
    await page.get_by_role(
        "button", name="Approve and publish Femtosecond lasers for glass"
    ).click()
    await page.locator("#said").get_by_text("is published").wait_for()
    [published] = (await client.call(rg.GET_SME, rg.GetSme(sme_id=sme.sme_id), region)).profiles
    assert (published.status, published.review_note) == ("published", "")
    assert published.summary == "Ultrafast lasers cutting glass from 0.1 to 2 mm"
