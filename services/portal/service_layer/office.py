"""The MAP office's records as files: the registry with the table's filters, every row the
filters match (read a page at a time, following the cursors, to the end: never cut), and the
indicators of a period. For the region's staff (the indicators also for steering); the office
checks the role before asking anything, and the services check again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import matching as mt
from contracts import registry as rg
from contracts.access import ADMIN, STAFF, Actor
from contracts.errors import Refused

from ..adapters.exports import Table
from .guide import Call

# The registry is read a page of this many at a time (the most a page may hold), to the end.
PAGE = 100
# The table's filters an export takes (the cursor is the export's own business).
REGISTRY_FILTERS = ("text", "country", "cluster", "stage", "size_class", "growth_class")
REGISTRY_HEADERS = (
    "sme_id",
    "legal_name",
    "country",
    "nace_codes",
    "clusters",
    "size_class",
    "growth_class",
    "stage",
)
MEETING_HEADERS = tuple(mt.MeetingCounts.model_fields)
MAY_READ_INDICATORS = (*STAFF, "steering")


def registry_rows(items: list[rg.SmeSummary]) -> list[tuple[Any, ...]]:
    return [
        (s.sme_id, s.legal_name, s.country, " ".join(s.nace_codes), ", ".join(s.clusters),
         s.size_class, s.growth_class, s.stage)
        for s in items
    ]  # fmt: skip


def indicators_table(kpis: rg.Kpis, meetings: mt.MeetingKpis | None = None) -> Table:
    """The period's indicators as one table: the region's total, each cluster, each market (a
    row each, a column per indicator), and the brokered meetings' counts (all events) as rows
    of their own kind, in the same columns where their names are the same and after them."""
    counts = list(rg.KpiCounts.model_fields)
    extra = [h for h in MEETING_HEADERS if h not in counts]
    headers = ("scope", "name", *counts, *extra)
    rows: list[tuple[Any, ...]] = []

    def line(scope: str, name: str, c: rg.KpiCounts) -> tuple[Any, ...]:
        values = c.model_dump()
        return (scope, name, *(values[k] for k in counts), *("" for _ in extra))

    rows.append(line("region", kpis.region, kpis.total))
    rows += [line("cluster", name, c) for name, c in sorted(kpis.by_cluster.items())]
    rows += [line("market", name, c) for name, c in sorted(kpis.by_market.items())]
    if meetings is not None:

        def met(scope: str, name: str, c: mt.MeetingCounts) -> tuple[Any, ...]:
            values = c.model_dump()
            return (scope, name, *("" for _ in counts), *(values[k] for k in extra))

        rows.append(met("meetings", meetings.region, meetings.total))
        if meetings.across_regions is not None:
            rows.append(met("meetings across regions", meetings.region, meetings.across_regions))
        rows += [met("meetings by cluster", n, c) for n, c in sorted(meetings.by_cluster.items())]
        rows += [met("meetings by region", n, c) for n, c in sorted(meetings.by_region.items())]
    title = f"indicators {kpis.period_from.isoformat()} to {kpis.period_to.isoformat()}"
    return Table(title, headers, rows)


@dataclass(frozen=True)
class Erasure:
    """What erasing an SME, or one of its contacts, takes away: named on the page that asks to
    confirm it, before anything is erased."""

    sme: rg.SmeView
    contact: rg.Contact | None  # None: the whole SME
    accounts: list[str]  # the portal accounts that go with it (their addresses)

    @property
    def whole(self) -> bool:
        return self.contact is None


def erasure_of(sme: rg.SmeView, contact_id: str | None, accounts: dict[str, str | None]) -> Erasure:
    """The SME (or the contact with this id) and the portal accounts that go with it: the SME's
    people's (by the SME they act for), or the one whose address is the contact's.
    ``accounts``: every account of the region, address to the SME it acts for."""
    if contact_id is None:
        gone = sorted(e for e, sme_id in accounts.items() if sme_id == sme.sme_id)
        return Erasure(sme, None, gone)
    contact = next((c for c in sme.contacts if c.id == contact_id), None)
    if contact is None:
        raise Refused("not_found", f"{sme.legal_name} has no contact {contact_id}", id=contact_id)
    email = contact.email.strip().lower()
    gone = [e for e, sme_id in accounts.items() if e == email and sme_id == sme.sme_id]
    return Erasure(sme, contact, gone)


class Office:
    def __init__(self, call: Call, region: str) -> None:
        self.call, self.region = call, region

    async def registry(self, filters: rg.SearchSmes, actor: Actor) -> Table:
        """Every SME the filters match, in the table's order: the cursors followed to the end."""
        if actor.role not in STAFF or actor.region != self.region:
            raise Refused("forbidden", "the registry's export is for the region's staff")
        query = filters.model_copy(update={"limit": PAGE, "cursor": None})
        items: list[rg.SmeSummary] = []
        while True:
            page: rg.SmePage = await self.call(rg.SEARCH_SMES, query, actor)
            items.extend(page.items)
            if not page.next_cursor:
                return Table("registry", REGISTRY_HEADERS, registry_rows(items))
            query = query.model_copy(update={"cursor": page.next_cursor})

    async def indicators(self, period: rg.GetKpis, actor: Actor) -> Table:
        if actor.role not in MAY_READ_INDICATORS or actor.region != self.region:
            raise Refused("forbidden", "the indicators are for the region's staff and steering")
        kpis: rg.Kpis = await self.call(rg.GET_KPIS, period, actor)
        meetings: mt.MeetingKpis = await self.call(mt.GET_MEETING_KPIS, mt.GetMeetingKpis(),
                                                   actor)  # fmt: skip
        return indicators_table(kpis, meetings)

    async def reviews(self, actor: Actor) -> list[rg.ProfileInReview]:
        """Every profile waiting for review, the longest waiting first (every page read)."""
        if actor.role not in STAFF or actor.region != self.region:
            raise Refused("forbidden", "the review of profiles is for the region's staff")
        query, items = rg.ListProfileReviews(limit=PAGE), list[rg.ProfileInReview]()
        while True:
            page: rg.ProfileReviewPage = await self.call(rg.LIST_PROFILE_REVIEWS, query, actor)
            items.extend(page.items)
            if not page.next_cursor:
                return items
            query = query.model_copy(update={"cursor": page.next_cursor})

    async def review(self, sme_id: str, profile_id: str, approve: bool, note: str,
                     actor: Actor) -> rg.SmeView:  # fmt: skip
        if actor.role not in STAFF or actor.region != self.region:
            raise Refused("forbidden", "the review of profiles is for the region's staff")
        decided = rg.ReviewProfile(sme_id=sme_id, profile_id=profile_id, approve=approve,
                                   note=note)  # fmt: skip
        view: rg.SmeView = await self.call(rg.REVIEW_PROFILE, decided, actor)
        return view

    def _may_erase(self, actor: Actor) -> None:
        if actor.role not in ADMIN or actor.region != self.region:
            raise Refused("forbidden", "only the region's administrator erases")

    async def erasure(self, sme_id: str, contact_id: str | None, actor: Actor,
                      accounts: dict[str, str | None]) -> Erasure:  # fmt: skip
        """What erasing would take away, for the page that asks to confirm it."""
        self._may_erase(actor)
        sme: rg.SmeView = await self.call(rg.GET_SME, rg.GetSme(sme_id=sme_id), actor)
        return erasure_of(sme, contact_id, accounts)

    async def erase(self, sme_id: str, contact_id: str | None, reason: str, actor: Actor) -> None:
        """The SME, or its contact, erased by the registry (whose tombstone every service and
        region follows, the portal's accounts too)."""
        self._may_erase(actor)
        if contact_id is None:
            command: Any = rg.EraseSme(sme_id=sme_id, reason=reason)
            await self.call(rg.ERASE_SME, command, actor)
        else:
            command = rg.EraseContact(sme_id=sme_id, contact_id=contact_id, reason=reason)
            await self.call(rg.ERASE_CONTACT, command, actor)
