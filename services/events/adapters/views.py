"""The read side: the joint calendar and an event's registrations, paginated."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from contracts import events as c
from mapnet.runtime.mongo import Collection
from mapnet.runtime.paging import encode_cursor, keyset_page

from .away import listed as listed_copy
from .away import sme_key as away_key
from .repository import entry_from_doc, registration_from_doc, utc_key
from .seats import SeatBook, place

# The iCal feed reads the calendar a page of this many entries at a time, to the end.
ICAL_PAGE = 500


def calendar_filter(q: c.ListCalendar) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    if q.period_from:
        clauses.append({"ends_key": {"$gt": utc_key(q.period_from)}})
    if q.period_to:
        clauses.append({"starts_key": {"$lt": utc_key(q.period_to)}})
    simple = {
        "region": q.region,
        "country": q.country,
        "kind": q.kind,
        "clusters": q.cluster,
        "topics": q.topic,
    }
    clauses += [{name: value} for name, value in simple.items() if value is not None]
    if q.text:
        for word in q.text.lower().split():
            clauses.append({"search_text": {"$regex": re.escape(word)}})
    return clauses


async def list_calendar(entries: Collection, q: c.ListCalendar) -> c.CalendarPage:
    docs, cursor = await keyset_page(entries, calendar_filter(q), "starts_key", q.limit, q.cursor)
    return c.CalendarPage(items=[entry_from_doc(d).view() for d in docs], next_cursor=cursor)


async def calendar_entries(
    entries: Collection, q: c.ListCalendar, at_most: int
) -> list[c.CalendarEntry]:
    """Every entry of the filter in order of start, read page after page to the end, or the
    first ``at_most`` + 1 when there are more (the caller says why it wants no more: a feed
    of that many would not fit in one answer). Never a silent cut."""
    found: list[c.CalendarEntry] = []
    cursor: str | None = None
    while True:
        size = min(ICAL_PAGE, at_most + 1 - len(found))
        docs, cursor = await keyset_page(entries, calendar_filter(q), "starts_key", size, cursor)
        found += await asyncio.to_thread(_views, docs)
        if cursor is None or len(found) > at_most:
            return found


def _views(docs: list[dict[str, Any]]) -> list[c.CalendarEntry]:
    return [entry_from_doc(d).view() for d in docs]


async def list_registrations(
    registrations: Collection, seats: SeatBook, q: c.ListRegistrations
) -> c.RegistrationPage:
    clauses: list[dict[str, Any]] = [{"event_id": q.event_id}]
    clauses.append({"status": q.status} if q.status else {"status": {"$ne": "pending"}})
    docs, cursor = await keyset_page(registrations, clauses, "registered_at", q.limit, q.cursor)
    book = await seats.book(q.event_id)
    items = []
    for doc in docs:
        reg, _ = registration_from_doc(doc)
        if reg.status == "waitlisted":
            reg.position = place(book, reg.held) or reg.position  # now, not at sign-up
        items.append(reg.view())
    return c.RegistrationPage(items=items, next_cursor=cursor)


async def not_over(entries: Collection, now: datetime) -> set[str]:
    """The ids of the calendar's entries that end after ``now`` (UTC): one read of the entries'
    ids, however many events an SME took part in over the years."""
    found = entries.find({"ends_key": {"$gt": utc_key(now)}}, {"_id": 1})
    return {doc["_id"] async for doc in found}


async def sme_registrations(
    registrations: Collection,
    away: Collection,
    seats: SeatBook,
    q: c.ListSmeRegistrations,
    upcoming: set[str] | None = None,
) -> c.SmeRegistrationPage:
    """One SME's registrations, newest first, at this region's events (a waitlisted one with its
    place as it now is) and at other regions' (their copies, see away.py), one page of both
    with one cursor: each is read a page from the cursor, in the same order (registered_at,
    then id), and the newest of the two pages make this one. ``upcoming``: the events not over
    yet, when only their registrations are asked for (an event the calendar no longer has is
    not one of them)."""
    statuses = ["pending"] if q.include_cancelled else ["pending", "cancelled"]
    keep = None if upcoming is None else (lambda doc: doc["event_id"] in upcoming)
    own_clauses: list[dict[str, Any]] = [
        {"data.sme.sme_id": q.sme.sme_id},
        {"data.sme.region": q.sme.region},
        {"status": {"$nin": statuses}},
    ]
    away_clauses: list[dict[str, Any]] = [
        {"sme_key": away_key(q.sme)},
        {"status": {"$nin": statuses}},
    ]
    own, own_more = await keyset_page(
        registrations, own_clauses, "-registered_at", q.limit, q.cursor, keep=keep
    )
    copies, away_more = await keyset_page(
        away, away_clauses, "-registered_at", q.limit, q.cursor, keep=keep
    )
    copied = {doc["_id"] for doc in copies}
    newest = sorted(
        [*own, *copies], key=lambda doc: (doc["registered_at"], doc["_id"]), reverse=True
    )
    page = newest[: q.limit]
    more = len(newest) > q.limit or own_more is not None or away_more is not None
    items = []
    for doc in page:
        if doc["_id"] in copied:
            items.append(listed_copy(doc))
            continue
        reg, _ = registration_from_doc(doc)
        if reg.status == "waitlisted":
            reg.position = place(await seats.book(reg.event_id), reg.held) or reg.position
        items.append(reg.listed())
    cursor = encode_cursor([page[-1]["registered_at"], page[-1]["_id"]]) if more and page else None
    return c.SmeRegistrationPage(items=items, next_cursor=cursor)


async def registrations_by_id(
    registrations: Collection, seats: SeatBook, ids: list[str]
) -> c.RegistrationPage:
    """The registrations with these ids, their people included; erased people are left out."""
    found = registrations.find({"_id": {"$in": ids}})
    items = []
    async for doc in found:
        if doc.get("erased") or doc["status"] == "pending":
            continue
        reg, _ = registration_from_doc(doc)
        if reg.status == "waitlisted":
            reg.position = place(await seats.book(reg.event_id), reg.held) or reg.position
        items.append(reg.view())
    return c.RegistrationPage(items=items)


async def registrations_of(
    registrations: Collection, email: str, sme_region: str | None = None
) -> dict[str, str]:
    """event id → status of one person's registrations (only those made for an SME of
    ``sme_region``, if given); an active one wins over a cancelled."""
    found: dict[str, str] = {}
    async for doc in registrations.find({"email_key": email.lower()}):
        sme = (doc.get("data") or {}).get("sme") or {}
        if sme_region is not None and sme.get("region") != sme_region:
            continue
        if doc["status"] != "pending" and found.get(doc["event_id"]) in (None, "cancelled"):
            found[doc["event_id"]] = doc["status"]
    return found
