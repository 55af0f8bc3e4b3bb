"""The MAP office in Chromium (issue 31 items 13, 14 and 15): the registry exported with the
table's filters (every row they match, formula-like text kept as text) and the indicators as
CSV; every page checked with axe, every file and action refused to the roles it is not for."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from stdnum.ee import registrikood

from contracts import registry as rg
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.test_portal import add_person, portal_url, sign_in
from tests.test_portal_browser import browser_page, pytestmark, shot, signed_in_at

__all__ = ["browser_page", "pytestmark"]


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
    await page.get_by_label("Cluster").fill("photonics")
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
