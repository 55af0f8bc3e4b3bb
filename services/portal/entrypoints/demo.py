"""The demo's people: one per role, each with the password `mapnet-demo` (only with --demo)."""

from __future__ import annotations

import asyncio

from contracts import events as ev
from contracts import registry as rg
from mapnet.runtime.bus import BusClient

from .wiring import region_accounts

DEMO_PASSWORD = "mapnet-demo"
ROLES = {"admin": "map_admin", "staff": "map_staff", "organiser": "organiser", "sme": "sme",
         "steering": "steering"}  # fmt: skip


def load_demo(nats_url: str, region: str) -> None:
    asyncio.run(_load(nats_url, region))


async def _load(nats_url: str, region: str) -> None:
    client = await BusClient.connect(
        nats_url, region=region, source=f"mapnet/{region}/demo", role="map_admin"
    )
    try:
        # The demo contact acts for the first SME of the demo registry; the demo organiser runs
        # the demo's brokerage events.
        first = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=1), region)
        brokerage = ev.ListCalendar(kind="brokerage_event", limit=20)
        events = await client.call(ev.LIST_CALENDAR, brokerage, region)
    finally:
        await client.close()
    sme_id = first.items[0].sme_id if first.items else None
    event_ids = [e.event_id for e in events.items]
    accounts, _ = region_accounts(region)
    for name, role in ROLES.items():
        if role == "sme" and sme_id is None:
            continue
        await accounts.add_user(f"{name}@{region}.example", role, region, DEMO_PASSWORD,
                                sme_id=sme_id if role == "sme" else None,
                                event_ids=event_ids if role == "organiser" else None)  # fmt: skip
