"""The portal's reports page on real servers: the region's staff and the steering group only;
staff are told, from the reports service, that another region's report is not theirs."""

from __future__ import annotations

import httpx

from mapnet.runner import Assembly
from tests.fixtures import Servers
from tests.test_portal import add_person, portal_url, sign_in


async def test_smes_and_organisers_may_not_see_reports_and_staff_only_their_region(
    region_app: Assembly, servers: Servers, region: str
) -> None:
    await add_person(servers, region, "org@example.org", "organiser", event_ids=["e1"])
    await add_person(servers, region, "staff@map.example", "map_staff")
    base = portal_url(region_app, region)
    async with httpx.AsyncClient(base_url=base) as http:
        await sign_in(http, "org@example.org")
        assert (await http.get("/reports")).status_code == 403
        assert (await http.get("/reports/download?format=pdf")).status_code == 403
    async with httpx.AsyncClient(base_url=base) as http:
        await sign_in(http, "staff@map.example")
        other = await http.get("/reports/download?format=pdf&region=berlin")
        assert other.status_code == 403 and "own region" in other.text
        page = await http.get("/reports?region=berlin&period_from=2026-01-01&period_to=2026-12-31")
        assert page.status_code == 400 and "own region" in page.text


async def test_staff_show_the_whole_networks_report_and_download_its_pdf(
    region_app: Assembly, servers: Servers, region: str
) -> None:
    """Issue 30 item 3: any region reports on the whole network from its own copies."""
    await add_person(servers, region, "staff@map.example", "map_staff")
    period = "period_from=2026-01-01&period_to=2026-12-31"
    async with httpx.AsyncClient(base_url=portal_url(region_app, region), timeout=60) as http:
        await sign_in(http, "staff@map.example")
        form = await http.get("/reports")
        assert 'id="network"' in form.text and 'id="region"' not in form.text  # steering's
        page = await http.get(f"/reports?{period}&network=on")
        assert page.status_code == 200, page.text
        assert "the network" in page.text.lower() and "network=True" in page.text
        pdf = await http.get(f"/reports/download?{period}&network=on&format=pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
