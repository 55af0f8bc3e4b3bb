"""MongoDB repositories of the finance link: finance offers (this region's own, and beside them
read copies of the other regions', as the calendar keeps its entries) and SMEs' finance needs
(one document per SME of this region). An offer's document holds its state and its outbox,
written with optimistic concurrency on the version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING

from contracts import finance as c
from contracts.common import SmeRef
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime import outbox
from mapnet.runtime.mongo import Database, put_if_newer, replace_by_id, storable
from mapnet.runtime.paging import keyset_page

from ..domain.finance import Offer

OFFERS = "finance_offers"
NEEDS = "finance_needs"
# A deadline-less offer sorts after every dated one.
_NO_DEADLINE = "9999-12-31"
_OFFER_KEYS = {"_id", "outbox", "outbox_pending", "deadline_key", "copied_at"}


def _offer_state(offer: Offer) -> dict[str, Any]:
    view = offer.view()
    deadline = view.deadline.isoformat() if view.deadline else _NO_DEADLINE
    return storable({**view.model_dump(mode="json"), "deadline_key": deadline})


def offer_from_doc(doc: dict[str, Any]) -> c.FinanceOffer:
    return c.FinanceOffer.model_validate({k: v for k, v in doc.items() if k not in _OFFER_KEYS})


class OfferRepository:
    """Only own offers change here; a command about a copy is refused as not_home, naming the
    region that owns it."""

    def __init__(self, db: Database, region: str) -> None:
        self.offers = db[OFFERS]
        self.region = region

    async def create_indexes(self) -> None:
        await self.offers.create_index([("deadline_key", ASCENDING)], name="deadline_key")
        await self.offers.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
        await self.offers.create_index([("external_id", ASCENDING)], name="external_id")

    async def get(self, offer_id: str) -> Offer | None:
        doc = await self.offers.find_one({"_id": offer_id, "region": self.region})
        return Offer.from_view(offer_from_doc(doc)) if doc else None

    async def require(self, offer_id: str, *, copy_will_do: bool = False) -> c.FinanceOffer:
        doc = await self.offers.find_one({"_id": offer_id})
        if doc is None:
            raise not_found("finance offer", offer_id)
        home = doc["region"]
        if home != self.region and not copy_will_do:
            raise Refused(
                "not_home",
                f"finance offer {offer_id} belongs to region {home}: send this to "
                f"mapnet.{home}.guide",
                region=home,
                id=offer_id,
            )
        return offer_from_doc(doc)

    async def refuse_copy_of(self, partner_id: str, external_id: str) -> None:
        """not_home when this publisher's offer of that id is another region's read copy."""
        doc = await self.offers.find_one(
            {"partner_id": partner_id, "external_id": external_id, "region": {"$ne": self.region}},
            {"_id": 1, "region": 1},
        )
        if doc is not None:
            home = doc["region"]
            raise Refused(
                "not_home",
                f"{partner_id}'s offer {external_id} is region {home}'s: only {home} publishes it",
                region=home,
                id=doc["_id"],
            )

    async def count_published(self, partner_id: str) -> int:
        """How many published offers this publisher holds in this region."""
        return await self.offers.count_documents(
            {"region": self.region, "partner_id": partner_id, "status": "published"}
        )

    async def save(
        self, offer: Offer, expected_version: int | None, events: Sequence[Envelope[Any]]
    ) -> None:
        """Insert a new offer (expected_version None) or replace the version read."""
        await outbox.save_versioned(
            self.offers, offer.offer_id, _offer_state(offer), events,
            expected=expected_version, what=f"offer {offer.offer_id}",
        )  # fmt: skip

    async def put_copy(self, offer: c.FinanceOffer) -> None:
        """Another region's offer as it now stands, unless this copy is as new or newer."""
        if offer.region == self.region:
            return
        state = _offer_state(Offer.from_view(offer)) | {"copied_at": datetime.now(UTC)}
        await put_if_newer(
            self.offers, offer.offer_id, state, version_field="version",
            version=offer.version, guard={"region": offer.region},
        )  # fmt: skip

    async def page(self, q: c.ListFinanceOffers) -> c.FinanceOfferPage:
        clauses: list[dict[str, Any]] = []
        simple = {"kind": q.kind, "markets": q.market, "partner_id": q.partner_id,
                  "region": q.region}  # fmt: skip
        clauses += [{name: value} for name, value in simple.items() if value is not None]
        if not q.include_withdrawn:
            clauses.append({"status": "published"})
        docs, cursor = await keyset_page(self.offers, clauses, "deadline_key", q.limit, q.cursor)
        return c.FinanceOfferPage(items=[offer_from_doc(d) for d in docs], next_cursor=cursor)

    async def open_offers(self, today: str, page_size: int = 5000) -> list[c.FinanceOffer]:
        """Every published offer of the network whose deadline has not passed, nearest
        deadline first, for suggestions: all of them, read ``page_size`` at a time after the
        last one read (deadline, id), so none is left unweighed however many there are."""
        offers: list[c.FinanceOffer] = []
        after: dict[str, Any] = {}
        while True:
            query = {"status": "published", "deadline_key": {"$gte": today}} | after
            found = self.offers.find(query).sort([("deadline_key", ASCENDING), ("_id", ASCENDING)])
            page = await found.to_list(page_size)
            offers += [offer_from_doc(d) for d in page]
            if len(page) < page_size:
                return offers
            key, ident = page[-1]["deadline_key"], page[-1]["_id"]
            after = {"$or": [{"deadline_key": {"$gt": key}},
                             {"deadline_key": key, "_id": {"$gt": ident}}]}  # fmt: skip


def _need_id(sme: SmeRef) -> str:
    return sme.key


class NeedRepository:
    """One finance need per SME of this region, by its ref."""

    def __init__(self, db: Database) -> None:
        self.needs = db[NEEDS]

    async def create_indexes(self) -> None:
        await self.needs.create_index([("sme_id", ASCENDING)], name="sme_id")

    async def get(self, sme: SmeRef) -> c.FinanceNeed | None:
        doc = await self.needs.find_one({"_id": _need_id(sme)})
        return _need_from_doc(doc) if doc else None

    async def put(self, need: c.FinanceNeed) -> None:
        key = _need_id(need.sme)
        state = storable(need.model_dump(mode="json")) | {"sme_id": need.sme.sme_id}
        await replace_by_id(self.needs, key, state)

    async def remove(self, sme: SmeRef) -> c.FinanceNeed | None:
        doc = await self.needs.find_one_and_delete({"_id": _need_id(sme)})
        return _need_from_doc(doc) if doc else None

    async def page(
        self, q: c.ListSmesNeedingFinance, limit: int, cursor: str | None
    ) -> tuple[list[c.FinanceNeed], str | None]:
        clauses: list[dict[str, Any]] = []
        if q.purpose is not None:
            clauses.append({"purpose": q.purpose})
        if q.instrument is not None:
            # A need that names no instrument takes any.
            clauses.append({"$or": [{"instruments": q.instrument}, {"instruments": []}]})
        docs, next_cursor = await keyset_page(self.needs, clauses, "by_when", limit, cursor)
        return [_need_from_doc(d) for d in docs], next_cursor


def _need_from_doc(doc: dict[str, Any]) -> c.FinanceNeed:
    return c.FinanceNeed.model_validate(
        {k: v for k, v in doc.items() if k not in ("_id", "sme_id")}
    )
