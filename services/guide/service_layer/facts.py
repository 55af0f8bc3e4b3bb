"""The facts card as an operation: the market's facts for today, from the network's regions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from contracts import guide as c
from contracts.envelope import Envelope

from ..domain.facts import RegionList, market_facts


class FactsCard:
    def __init__(self, regions: RegionList, today: Callable[[], date]) -> None:
        self.regions = regions
        self.today = today

    async def get_market_facts(self, query: Envelope[c.GetMarketFacts]) -> c.MarketFacts:
        return market_facts(query.data.market, self.today(), self.regions, query.data.language)
