"""The finance link's part of the demo: a few finance offers of invented providers, each plainly
an example ("Example … (demo)", example.org links; no real lender's name beside invented
terms), published by the region's MAP as its demo staff member; and a finance need on the
demo registry's first SME (the one the demo's SME contact acts for), so that its page shows
suggestions.

Loading the demo again changes nothing: each offer's command id derives from the region and the
offer's content (a changed demo offer becomes its next version), and a need is set only where
the SME has none (one set in the portal meanwhile stays)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from contracts import finance as c
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.publishers import map_publisher
from mapnet.runtime.bus import BusClient

from ..adapters.regions import load_region_list
from ..settings import GuideSettings

_NAMESPACE = uuid.UUID("4b1f9a6e-2c37-4e8d-b5a0-93d7c61e0f25")
# The network's ten markets: every demo offer serves them all.
NETWORK_MARKETS = ["DE", "DK", "EE", "FI", "LT", "LV", "NO", "PL", "RU", "SE"]


def demo_offers(region: str, city: str, today: date) -> list[c.PublishFinanceOffer]:
    """The demo's offers as ``region``'s MAP publishes them. Providers and figures are invented
    and say so; the city keeps each region's demo offers apart in a network's list."""
    publisher = map_publisher(region)
    # A deadline that stays the same all year (the end of next year), so that a reload within
    # the year sends the same offer.
    year_end = date(today.year + 1, 12, 31).isoformat()
    offers: list[dict[str, Any]] = [
        {"external_id": "demo-export-loan", "kind": "loan",
         "title": "Export loan for entering a new market (demo)",
         "provider": f"Example {city} Export Bank (demo)",
         "instrument": "Invented terms for the demo: 1 to 5 years, no collateral below the "
                       "lower amount, repaid monthly after a six-month grace period.",
         "purposes": ["internationalisation", "growth"],
         "amount_min": "25000", "amount_max": "500000"},
        {"external_id": "demo-guarantee", "kind": "guarantee",
         "title": "Guarantee for an SME's bank loan abroad (demo)",
         "provider": f"Example {city} Guarantee Agency (demo)",
         "instrument": "Invented terms for the demo: covers up to 80 % of a bank loan that "
                       "finances the first years in another market.",
         "purposes": ["internationalisation"],
         "amount_min": "10000", "amount_max": "1000000"},
        {"external_id": "demo-rd-grant", "kind": "grant",
         "title": "Grant for product development (demo)",
         "provider": f"Example {city} Innovation Foundation (demo)",
         "instrument": "Invented terms for the demo: half of the project's costs, the SME's "
                       "own half in money or work.",
         "sme_sizes": ["micro", "small"], "purposes": ["r_and_d"],
         "amount_min": "5000", "amount_max": "100000", "deadline": year_end},
        {"external_id": "demo-growth-equity", "kind": "equity",
         "title": "Growth equity for fast-growing SMEs (demo)",
         "provider": f"Example {city} Growth Fund (demo)",
         "instrument": "Invented terms for the demo: a minority stake, a seat on the board.",
         "sme_sizes": ["small", "medium"], "growth_classes": ["gazelle", "high_growth"],
         "stages": ["trained", "coached", "internationalised"], "purposes": ["growth"],
         "amount_min": "250000", "amount_max": "2000000"},
        {"external_id": "demo-venture-debt", "kind": "venture_debt",
         "title": "Venture debt beside an equity round (demo)",
         "provider": f"Example {city} Venture Debt Partners (demo)",
         "instrument": "Invented terms for the demo: 3 years, warrants, after an equity round.",
         "sme_sizes": ["medium"], "purposes": ["growth", "internationalisation"],
         "amount_min": "500000", "amount_max": "3000000"},
    ]  # fmt: skip
    return [
        c.PublishFinanceOffer.model_validate(
            offer
            | {
                "partner_id": publisher,
                "markets": NETWORK_MARKETS,
                "currency": "EUR",
                "url": f"https://example.org/mapnet-demo/{region}/{offer['external_id']}",
            }
        )
        for offer in offers
    ]


def demo_need(sme: SmeRef, today: date) -> c.SetFinanceNeed:
    return c.SetFinanceNeed(
        sme=sme, amount=Decimal("150000"), purpose="internationalisation",
        instruments=["loan", "guarantee"], by_when=today + timedelta(days=120),
        target_markets=["DE", "SE"],
        note="Demo: a first sales office abroad (invented for the demo data set).",
    )  # fmt: skip


def _offer_command_id(region: str, offer: c.PublishFinanceOffer) -> str:
    content = hashlib.sha256(
        json.dumps(offer.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"{region}:offer:{offer.external_id}:{content}"))


def _city(region: str) -> str:
    regions = load_region_list(GuideSettings().regions_file)
    entry = next((e for e in regions.regions if e.region == region), None)
    return entry.city if entry and entry.city else region.title()


async def load_finance(nats_url: str, region: str) -> list[c.FinanceOffer]:
    """Publish the demo offers in ``region`` and give its first demo SME a need (if it has
    none). Answers the offers as published."""
    today = datetime.now(UTC).date()
    staff = Actor(id=f"staff@{region}.example", role="map_staff", region=region)
    client = await BusClient.connect(
        nats_url, region=region, source=f"mapnet/{region}/demo", role="map_admin"
    )
    published = []
    try:
        for offer in demo_offers(region, _city(region), today):
            command_id = _offer_command_id(region, offer)
            answer = await client.call(
                c.PUBLISH_FINANCE_OFFER, offer, region, actor=staff, id=command_id
            )
            published.append(answer)
        first = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=1), region)
        if first.items:
            sme = SmeRef(region=region, sme_id=first.items[0].sme_id)
            try:
                await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=sme), region,
                                  actor=staff)  # fmt: skip
            except Refused as refused:
                if refused.code != "not_found":
                    raise
                set_id = uuid.uuid5(_NAMESPACE, f"{region}:need:{sme.sme_id}:{today}")
                await client.call(c.SET_FINANCE_NEED, demo_need(sme, today), region,
                                  actor=staff, id=str(set_id))  # fmt: skip
    finally:
        await client.close()
    return published
