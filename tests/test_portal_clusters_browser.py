"""The cluster filters in Chromium on the demo's region (issue 31 item 0): the registry's table,
the calendar, partner search and the reports offer the clusters that exist (the registry's
counts, the calendar's entries not over, the profiles partner search reads) rather than a text
to type; "any" first; choosing one filters; a cluster an address names that is not among them
(a link from elsewhere) still filters and is shown chosen. Every page checked with axe."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from mapnet.ops.cli import load_demo
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import add_person, portal_url
from tests.test_portal_browser import browser_page, pytestmark, shot, signed_in_at

__all__ = ["browser_page", "pytestmark"]

DEMO_CLUSTERS = ["ict", "life-sciences", "photonics"]  # the registry's demo SMEs'


async def options(page: Any) -> list[tuple[str, str]]:
    """The cluster select's options: (value, text)."""
    found: list[tuple[str, str]] = await page.eval_on_selector_all(
        "select#cluster option", "os => os.map(o => [o.value, o.textContent.trim()])"
    )
    return [(value, text) for value, text in found]


async def chosen(page: Any) -> str:
    value: str = await page.eval_on_selector("select#cluster", "s => s.value")
    return value


async def column(page: Any, index: int) -> list[str]:
    """The text of one column of the results' table, row by row."""
    cells: list[str] = await page.eval_on_selector_all(
        f"#results tbody tr td:nth-child({index})", "tds => tds.map(td => td.textContent.trim())"
    )
    return cells


async def test_the_cluster_filters_offer_the_demos_clusters_and_filter(
    region_app: Assembly, servers: Servers, client: BusClient, region: str, browser_page: Any
) -> None:
    page = browser_page
    await asyncio.to_thread(load_demo, servers.nats_url, region, ("events", "registry", "matching"))
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    base = portal_url(region_app, region)

    # The registry's table: the clusters of the region's SMEs, with how many each.
    await signed_in_at(page, f"{base}/smes", "staff@tallinn.example")
    await page.get_by_label("Cluster").wait_for()
    assert await options(page) == [("", "any"), ("ict", "ict (12)"),
                                   ("life-sciences", "life-sciences (12)"),
                                   ("photonics", "photonics (12)")]  # fmt: skip
    await page.get_by_label("Cluster").select_option("life-sciences")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**cluster=life-sciences**")
    await page.get_by_role("cell", name="life-sciences").first.wait_for()
    clusters = await column(page, 3)
    assert len(clusters) == 12 and set(clusters) == {"life-sciences"}
    assert await chosen(page) == "life-sciences"
    await shot(page, "clusters-01-registry")
    # A link from elsewhere naming a cluster no SME is in: still a filter, shown chosen.
    await page.goto(f"{base}/smes?cluster=wood")
    assert await chosen(page) == "wood"
    assert ("wood", "wood") in await options(page)
    assert await column(page, 1) == ["No SME matches."]

    # The reports: the same clusters, "none" being the monitoring report.
    await page.goto(f"{base}/reports?cluster=photonics")
    found = await options(page)
    assert [v for v, _ in found] == ["", *DEMO_CLUSTERS] and await chosen(page) == "photonics"
    await page.goto(f"{base}/reports")
    assert await chosen(page) == ""

    # The calendar (anyone's): the clusters of its entries not over yet.
    await page.goto(f"{base}/calendar")
    offered = [v for v, _ in await options(page)]
    assert offered[0] == "" and {"cleantech", *DEMO_CLUSTERS} <= set(offered[1:])
    await page.get_by_label("Cluster").select_option("cleantech")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**cluster=cleantech**")
    await page.get_by_role("link", name="Nordic Cleantech Fair").wait_for()
    listed = await client.call(
        ev.LIST_CALENDAR,
        ev.ListCalendar(cluster="cleantech", period_from=datetime.now(UTC), limit=50),
        region,
    )
    assert "cleantech" not in DEMO_CLUSTERS and 0 < len(listed.items) < 17
    assert sorted(await column(page, 2)) == sorted(e.title for e in listed.items)
    await shot(page, "clusters-02-calendar")

    # Partner search, for a demo company's contact: the clusters of the profiles it reads.
    staff = Actor(id="staff@tallinn.example", role="map_staff", region=region)
    first = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=1), region, actor=staff)
    me = SmeRef(sme_id=first.items[0].sme_id, region=region)
    contact = Actor(id="mari@demo.example", role="sme", region=region, sme_id=me.sme_id)

    async def search() -> mt.PartnerPage:
        query = mt.FindPartners(seeker=me, limit=20)
        found: mt.PartnerPage = await client.call(mt.FIND_PARTNERS, query, region, actor=contact)
        return found

    ready = await eventually(search, until=lambda p: len(p.clusters) == 3)
    assert ready.clusters == DEMO_CLUSTERS
    await add_person(servers, region, "mari@demo.example", "sme", sme_id=me.sme_id)
    await page.context.clear_cookies()
    await signed_in_at(page, f"{base}/partners", "mari@demo.example")
    await page.get_by_label("Cluster").wait_for()
    assert [v for v, _ in await options(page)] == ["", *DEMO_CLUSTERS]
    await page.get_by_label("Cluster").select_option("photonics")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**cluster=photonics**")
    assert await chosen(page) == "photonics"
    shown = await page.locator("#partners > li").count()
    unfiltered = await search()
    photonics = await client.call(
        mt.FIND_PARTNERS, mt.FindPartners(seeker=me, cluster="photonics", limit=20), region,
        actor=contact,
    )  # fmt: skip
    assert shown == len(photonics.items) > 0 and len(photonics.items) < len(unfiltered.items)
    await shot(page, "clusters-03-partners")
