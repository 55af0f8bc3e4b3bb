"""get_market_facts over real NATS and the MongoDB-compatible server: open to every role,
the portal's public pages included; a market that is no country is refused by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from contracts import guide as c
from contracts.access import ROLES, Actor
from contracts.errors import Refused
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from tests.fixtures import Servers


@pytest.fixture
async def guide(settings: Settings, region: str) -> AsyncIterator[Assembly]:
    async with Assembly(settings, ["guide"], [region]) as app:
        yield app


@pytest.mark.usefixtures("guide")
async def test_every_role_reads_a_market_s_facts(servers: Servers, region: str) -> None:
    client = await BusClient.connect(servers.nats_url, region=region, source="mapnet/tests")
    try:
        # The portal reads public pages as itself (role service), for anyone signed in or not.
        # A partner's role is its server stamp's, which a test's connection has none of
        # (tests/test_roles_matrix.py sends as a partner with its own login).
        for role in (role for role in ROLES if role != "partner"):
            actor = Actor(id=f"someone-{role}", role=role, region=region,
                          sme_id="sme-1" if role == "sme" else None)  # fmt: skip
            card = await client.call(
                c.GET_MARKET_FACTS, c.GetMarketFacts(market="EE"), region, actor=actor
            )
            assert card.market == "EE" and card.currency.code == "EUR"
        assert card.computed_on == datetime.now(UTC).date()
        assert card.vat.standard == 24.0 and card.map_contact.region == "tallinn"
        assert card.holidays.days and all(h.day >= card.computed_on for h in card.holidays.days)
        assert {fact.kind for fact in card.identifiers} == {"company", "vat"}

        german = await client.call(
            c.GET_MARKET_FACTS, c.GetMarketFacts(market="EE", language="de"), region
        )
        assert german.country_name == "Estland" and german.languages.names == ["Estnisch"]
    finally:
        await client.close()


@pytest.mark.usefixtures("guide")
async def test_a_market_that_is_no_country_is_refused_by_name(
    servers: Servers, region: str
) -> None:
    client = await BusClient.connect(servers.nats_url, region=region, source="mapnet/tests")
    try:
        with pytest.raises(Refused) as refused:
            await client.call(
                c.GET_MARKET_FACTS, c.GetMarketFacts.model_construct(market="XX"), region
            )
        assert refused.value.code == "validation_failed"
        assert [p["field"] for p in refused.value.details["fields"]] == ["data.market"]
    finally:
        await client.close()
