"""The portal when the guide service is away (stopped, or not deployed yet): the pages that
only add the guide's part to their own still show."""

from __future__ import annotations

import httpx
from pydantic_settings import BaseSettings

from contracts import registry as rg
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.declaration import service_names
from mapnet.runtime.settings import Settings
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.test_portal import add_person, portal_url, sign_in


async def test_a_company_page_shows_without_the_guide_and_says_what_it_cannot_show(
    settings: Settings,
    servers: Servers,
    client: BusClient,
    region: str,
    service_configs: dict[str, BaseSettings],
) -> None:
    """The guide service away (stopped, or not deployed yet): a company's page still shows,
    and says its finance part and its market's guide cannot be shown now, rather than
    failing or pretending the company has no finance need."""
    others = [name for name in service_names() if name != "guide"]
    async with Assembly(settings, others, [region], configs=service_configs) as app:
        first = await client.call(rg.REGISTER_SME, new_sme(share_with_network=True), region)
        second = await client.call(
            rg.REGISTER_SME, new_sme("14000015", "Baltic Sensors OÜ"), region
        )
        await add_person(servers, region, "staff@tallinn.example", "map_staff")
        await add_person(servers, region, "jaan@balticsensors.ee", "sme", sme_id=second.sme_id)
        async with httpx.AsyncClient(base_url=portal_url(app, region)) as http:
            await sign_in(http, "staff@tallinn.example")
            page = await http.get(f"/smes/{first.sme_id}")
            assert page.status_code == 200 and "Photon Forge OÜ" in page.text
            assert 'id="finance-unavailable"' in page.text
            assert "No finance need is set" not in page.text
        async with httpx.AsyncClient(base_url=portal_url(app, region)) as http:
            await sign_in(http, "jaan@balticsensors.ee")
            # Another company's contact is shown the guide of that company's market.
            page = await http.get(f"/smes/{first.sme_id}")
            assert page.status_code == 200 and "Photon Forge OÜ" in page.text
            assert 'id="guide-unavailable"' in page.text
