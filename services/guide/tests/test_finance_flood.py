"""One publisher cannot flood the network with finance offers: every region keeps a copy of
each and weighs them all for every SME's suggestions. Past MAPNET_GUIDE_OFFERS_PER_PUBLISHER
published offers a new one is refused (conflict, details.limit), nothing stored; updating one
it holds, and publishing again after a withdrawal, still work. On real servers."""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from contracts import finance as c
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.guide.settings import GuideSettings
from services.guide.tests.test_finance_bus import offer, staff

pytestmark = pytest.mark.usefixtures("region_app")


@pytest.fixture
def service_configs() -> dict[str, BaseSettings]:
    return {"guide": GuideSettings.model_validate({"MAPNET_GUIDE_OFFERS_PER_PUBLISHER": 2})}


async def test_a_publisher_past_its_limit_of_offers_is_refused_nothing_stored(
    client: BusClient, region: str
) -> None:
    me, ours = staff(region), f"map-{region}"
    first = await client.call(c.PUBLISH_FINANCE_OFFER, offer(ours, "a"), region, actor=me)
    await client.call(c.PUBLISH_FINANCE_OFFER, offer(ours, "b"), region, actor=me)
    with pytest.raises(Refused) as refused:
        await client.call(c.PUBLISH_FINANCE_OFFER, offer(ours, "c"), region, actor=me)
    assert (refused.value.code, refused.value.details["limit"]) == ("conflict", 2)
    listed = await client.call(c.LIST_FINANCE_OFFERS, c.ListFinanceOffers(), region)
    assert sorted(o.external_id for o in listed.items) == ["a", "b"]
    # An offer it holds is still updated; a withdrawal makes room for a new one.
    changed = offer(ours, "a", title="Internationalisation loan, 2027")
    assert (await client.call(c.PUBLISH_FINANCE_OFFER, changed, region, actor=me)).version == 2
    withdraw = c.WithdrawFinanceOffer(offer_id=first.offer_id, reason="replaced")
    await client.call(c.WITHDRAW_FINANCE_OFFER, withdraw, region, actor=me)
    third = await client.call(c.PUBLISH_FINANCE_OFFER, offer(ours, "c"), region, actor=me)
    assert third.status == "published"
