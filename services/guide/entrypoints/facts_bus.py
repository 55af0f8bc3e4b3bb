"""The facts card on the bus: get_market_facts, open to everyone (the portal's public pages)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from contracts import guide as c
from mapnet.runtime.service import Runtime

from ..adapters.regions import load_region_list
from ..domain.facts import RegionEntry, RegionList
from ..service_layer.facts import FactsCard


def today_utc() -> datetime:
    return datetime.now(UTC)


def with_more(regions: RegionList, home_markets: Mapping[str, str]) -> RegionList:
    """The regions file's list, and the regions the guide's settings add (MAPNET_GUIDE_HOME_
    MARKETS, region=country pairs) as the articles' home regions count them."""
    listed = {entry.region for entry in regions.regions}
    more = tuple(
        RegionEntry(region=region, city="", country=country.upper())
        for region, country in sorted(home_markets.items())
        if region not in listed
    )
    return RegionList(regions.regions + more, regions.title, regions.as_of, regions.note)


def build_facts(rt: Runtime) -> None:
    # The guide's settings (services/guide/settings.py), read by name: the same file and
    # extra regions as the articles' home regions.
    path = getattr(rt.config, "regions_file", None)
    regions = with_more(load_region_list(path), getattr(rt.config, "home_markets", None) or {})
    card = FactsCard(regions, lambda: today_utc().date())
    rt.handles(c.GET_MARKET_FACTS)(card.get_market_facts)
