"""The facts card on the bus: get_market_facts, open to everyone (the portal's public pages)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from contracts import guide as c
from mapnet.runtime.service import Runtime

from ..adapters.markets import market_homes
from ..adapters.regions import load_region_list
from ..domain.facts import RegionList
from ..service_layer.facts import FactsCard
from ..settings import GuideSettings


def today_utc() -> datetime:
    return datetime.now(UTC)


def region_list(settings: GuideSettings) -> RegionList:
    """The network's regions with their MAPs' contacts, and each market's home region as the
    articles reckon it (the regions file, and the pairs of MAPNET_GUIDE_HOME_MARKETS)."""
    listed = load_region_list(settings.regions_file)
    homes = market_homes(settings.regions_file, settings.home_markets)
    return replace(listed, homes=tuple(sorted(homes.items())))


def build_facts(rt: Runtime) -> None:
    settings = rt.config if isinstance(rt.config, GuideSettings) else GuideSettings()
    card = FactsCard(region_list(settings), lambda: today_utc().date())
    rt.handles(c.GET_MARKET_FACTS)(card.get_market_facts)
