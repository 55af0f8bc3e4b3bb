"""The finance link's demo on real servers, after the registry's demo (as `mapnet demo` orders
them): its offers are plainly examples, the first demo SME has a need and gets offers suggested,
and a second load changes nothing."""

from __future__ import annotations

import asyncio

import pytest

from contracts import finance as c
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from mapnet.runtime.bus import BusClient
from mapnet.runtime.declaration import declared
from tests.fixtures import Servers

from ..entrypoints.finance_demo import load_finance

pytestmark = [pytest.mark.usefixtures("region_app"), pytest.mark.timeout(180)]


def test_the_guides_demo_comes_after_the_registrys() -> None:
    assert "registry" in declared()["guide"].demo_after


async def test_the_demo_offers_are_examples_and_the_demo_sme_gets_suggestions_once(
    servers: Servers, region: str, client: BusClient
) -> None:
    # The registry's demo through its declaration (services import nothing of each other).
    registry = declared()["registry"]
    await asyncio.to_thread(registry.load_demo, servers.nats_url, region)
    published = await load_finance(servers.nats_url, region)
    assert len(published) == 5
    assert {o.kind for o in published} == set(c.FINANCE_KINDS)
    for offer in published:
        assert offer.provider.startswith("Example ") and offer.provider.endswith("(demo)")
        assert "(demo)" in offer.title and offer.url is not None
        assert offer.url.host == "example.org"
        assert (offer.partner_id, offer.version) == (f"map-{region}", 1)

    staff = Actor(id=f"staff@{region}.example", role="map_staff", region=region)
    first = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=1), region, actor=staff)
    sme = SmeRef(region=region, sme_id=first.items[0].sme_id)
    need = await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=sme), region, actor=staff)
    found = await client.call(c.SUGGEST_FINANCE, c.SuggestFinance(sme=sme), region, actor=staff)
    assert found.need == need and found.suggested
    assert {w.offer.offer_id for w in found.suggested} <= {o.offer_id for o in published}

    again = await load_finance(servers.nats_url, region)
    assert [(o.offer_id, o.version) for o in again] == [(o.offer_id, 1) for o in published]
    listed = await client.call(c.LIST_FINANCE_OFFERS, c.ListFinanceOffers(region=region), region)
    assert len(listed.items) == 5
    kept = await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=sme), region, actor=staff)
    assert kept == need
