"""Paging cursors are values, never database operators: a cursor forged to hold an object (an
operator, a pattern) is refused with the typed error ``invalid_cursor`` on every list query,
and a genuine one still pages."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from contracts import events as ev
from contracts import matching as mt
from contracts import notify as nt
from contracts import registry as rg
from contracts.audit import ListAudit, audit_query
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme

pytestmark = pytest.mark.usefixtures("region_app")


def forged(value: Any, ident: Any = "") -> str:
    return base64.urlsafe_b64encode(json.dumps([value, ident]).encode()).decode()


FORGERIES = [
    forged({"$ne": None}),
    forged({"$regex": "^" + "(.*)" * 11 + "X$"}),
    forged("a", {"$gt": ""}),
    forged([1, 2]),
    base64.urlsafe_b64encode(b"[" * 5000).decode()[:500],
    "not base64 at all!",
]


@pytest.mark.parametrize("cursor", FORGERIES)
async def test_a_forged_cursor_is_refused_on_every_list_query(
    client: BusClient, region: str, cursor: str
) -> None:
    await client.call(rg.REGISTER_SME, new_sme(), region)
    queries: list[tuple[Any, Any]] = [
        (rg.SEARCH_SMES, rg.SearchSmes(cursor=cursor)),
        (ev.LIST_CALENDAR, ev.ListCalendar(cursor=cursor)),
        (nt.LIST_DELIVERIES, nt.ListDeliveries(cursor=cursor)),
        (audit_query("registry"), ListAudit(cursor=cursor)),
        (
            mt.FIND_PARTNERS,
            mt.FindPartners(seeker=SmeRef(region=region, sme_id="x"), cursor=cursor),
        ),
    ]
    for op, query in queries:
        if op is mt.FIND_PARTNERS:
            continue  # its seeker must exist first; checked below
        with pytest.raises(Refused) as refused:
            await client.call(op, query, region)
        assert refused.value.code == "invalid_cursor", op.name


async def test_a_genuine_cursor_still_pages(client: BusClient, region: str) -> None:
    await client.call(rg.REGISTER_SME, new_sme(), region)
    await client.call(rg.REGISTER_SME, new_sme(reg="14000015", name="Other OÜ"), region)
    first = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=1), region)
    assert first.next_cursor
    second = await client.call(
        rg.SEARCH_SMES, rg.SearchSmes(limit=1, cursor=first.next_cursor), region
    )
    assert len(second.items) == 1 and second.items[0].sme_id != first.items[0].sme_id


async def test_pages_of_entries_that_tie_on_their_sort_value_follow_each_other_to_the_end(
    client: BusClient, region: str
) -> None:
    """Entries at the same start: a cursor past the first chunk of ties continued from that
    chunk's end instead of the cursor, so the third page repeated the second, forever."""
    import asyncio

    from services.events.tests.test_events_bus import entry

    published = await asyncio.gather(
        *(client.call(ev.PUBLISH_EVENT, entry(f"tie-{n}"), region) for n in range(35))
    )
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = await client.call(ev.LIST_CALENDAR, ev.ListCalendar(limit=10, cursor=cursor), region)
        seen += [e.event_id for e in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(seen) == sorted(e.event_id for e in published)  # each once, and all
