"""Three real regions and a real hub on this machine, for the federation tests: each region
its own NATS server (a leaf node of the hub, its own JetStream domain), its own nx-27017 and
its services; the leaf links run through relays the tests cut and heal. And the small
helpers those tests share."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import events as ev
from contracts import matching as m
from contracts import registry as reg
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs, mongo
from mapnet.runtime.bus import BusClient

from .helpers import eventually

T, H, B = "tallinn", "helsinki", "berlin"
NUMBERS = iter(range(14000000, 14999999, 7))


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    async with LocalNetwork(
        Path(tmp_path_factory.mktemp("network")), [T, H, B], ("registry", "events", "matching")
    ) as network:
        yield network


def _registration_number() -> str:
    # Estonian registry codes have a check digit; search for the next valid one.
    from stdnum.ee import registrikood

    while True:
        number = str(next(NUMBERS))
        if registrikood.is_valid(number):
            return number


def an_sme(name: str, *, shared: bool = True, **extra: Any) -> reg.RegisterSme:
    return reg.RegisterSme.model_validate(
        {"legal_name": name, "registration_number": _registration_number(), "country": "EE",
         "share_with_network": shared} | extra
    )  # fmt: skip


def a_profile(title: str, summary: str, **extra: Any) -> reg.ProfileInput:
    return reg.ProfileInput.model_validate(
        {"type": "technology_offer", "title": title, "summary": summary,
         "partnership_types": ["licence"],
         "expires_on": (date.today() + timedelta(days=200)).isoformat()} | extra
    )  # fmt: skip


async def registered(
    client: BusClient, region: str, name: str, profile: reg.ProfileInput | None, **extra: Any
) -> str:
    view = await client.call(reg.REGISTER_SME, an_sme(name, **extra), region)
    if profile is not None:
        await client.call(
            reg.PUBLISH_PROFILE, reg.PublishProfile(sme_id=view.sme_id, profile=profile), region
        )
    return view.sme_id


async def seeker_finding(
    client: BusClient, region: str, name: str, title: str, text: str, partner: str
) -> tuple[str, set[str]]:
    """An SME registered with a technology request, once its partner search finds ``partner``:
    its id and the names that search found."""
    seeker = await registered(
        client, region, name, a_profile(title, text, type="technology_request")
    )
    found = await eventually(
        lambda: partner_names(client, region, seeker), until=lambda names: partner in names
    )
    return seeker, found


async def partner_names(client: BusClient, region: str, seeker: str, **query: Any) -> set[str]:
    try:
        page = await client.call(
            m.FIND_PARTNERS,
            m.FindPartners(seeker=SmeRef(sme_id=seeker, region=region), limit=50, **query),
            region,
        )
    except Refused:  # the seeker has not reached matching's read model yet
        return set()
    return {p.legal_name for p in page.items}


async def read_model_smes(net: LocalNetwork, region: str, of_region: str) -> list[dict[str, Any]]:
    """What matching in ``region`` holds of ``of_region``'s SMEs, straight from its database."""
    db = mongo.database(mongo.client(net.regions[region].mongo_url), region, "matching")
    return await db["smes"].find({"region": of_region}).to_list(None)


async def shared_names(net: LocalNetwork, region: str, of_region: str) -> list[str]:
    """Names of ``of_region``'s SMEs that share with the network, as ``region`` holds them."""
    docs = await read_model_smes(net, region, of_region)
    return sorted(d["legal_name"] for d in docs if d["share_with_network"])


def an_entry(title: str, **extra: Any) -> ev.PublishEvent:
    starts = datetime.now().replace(microsecond=0) + timedelta(days=30)
    return ev.PublishEvent.model_validate(
        {"partner_id": "tests", "external_id": title, "kind": "conference",
         "title": title, "starts_at": starts.isoformat(),
         "ends_at": (starts + timedelta(hours=3)).isoformat(), "timezone": "Europe/Helsinki",
         "country": "FI", "city": "Helsinki"} | extra
    )  # fmt: skip


async def calendar_titles(client: BusClient, region: str, of_region: str) -> set[str]:
    page = await client.call(ev.LIST_CALENDAR, ev.ListCalendar(region=of_region, limit=100), region)
    return {e.title for e in page.items}


def a_brokerage_event(**setup: Any) -> ev.PublishEvent:
    """A MAP's brokerage event a month from now: one day of four half-hour slots at two
    tables, registration open for ten days, on site or remote."""
    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    deadline = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    return ev.PublishEvent.model_validate(
        {"partner_id": "map", "external_id": f"b-{uuid.uuid4()}", "kind": "brokerage_event",
         "title": "Baltic Sea Brokerage Day", "starts_at": f"{day}T09:00:00",
         "ends_at": f"{day}T17:00:00", "timezone": "Europe/Helsinki", "country": "FI",
         "brokerage": {"days": [day], "day_start": "09:00", "slots_per_day": 4,
                       "slot_minutes": 30, "tables": 2,
                       "registration_deadline": deadline,
                       "participation_types": ["on_site", "remote"],
                       "max_requests_per_participant": 3} | setup}
    )  # fmt: skip
