"""The finance link's pages put together from the guide service's answers: the network's offers,
and an SME's finance need with the offers suggested for it (and those left out), each with its
reasons."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from contracts import finance as f
from contracts.access import STAFF, Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.publishers import map_publisher

from .guide import Call, refusal_or


@dataclass(frozen=True)
class SmeFinance:
    need: f.FinanceNeed | None
    suggestions: f.FinanceSuggestions | None
    problem: str | None  # why suggestions could not be given (the guide's refusal), if so
    # The guide did not answer for the need either (it is away): the page says the finance
    # link cannot be shown now, not that no need is set.
    unavailable: bool = False


def may_see_finance(actor: Actor, sme: SmeRef) -> bool:
    """An SME's finance need is its contacts' and its region's staff's only."""
    if actor.role in STAFF:
        return actor.region == sme.region
    return actor.role == "sme" and actor.sme_id == sme.sme_id and actor.region == sme.region


class Finance:
    def __init__(self, call: Call, region: str) -> None:
        self.call, self.region = call, region

    async def offers(self, query: f.ListFinanceOffers, actor: Actor) -> f.FinanceOfferPage:
        page: f.FinanceOfferPage = await self.call(f.LIST_FINANCE_OFFERS, query, actor)
        return page

    def may_withdraw(self, offer: f.FinanceOffer, actor: Actor) -> bool:
        """Staff withdraw what their region's MAP published (partners theirs, over the bus)."""
        return (
            actor.role in STAFF
            and actor.region == self.region
            and offer.region == self.region
            and offer.partner_id == map_publisher(self.region)
            and offer.status == "published"
        )

    async def need(self, sme: SmeRef, actor: Actor) -> f.FinanceNeed | None:
        try:
            need: f.FinanceNeed = await self.call(
                f.GET_FINANCE_NEED, f.GetFinanceNeed(sme=sme), actor
            )
        except Refused as refusal:
            if refusal.code != "not_found":
                raise
            return None
        return need

    async def for_sme(self, sme: SmeRef, actor: Actor) -> SmeFinance | None:
        """An SME's need and the offers weighed for it; None for anyone who may not see them."""
        if not may_see_finance(actor, sme):
            return None
        need, suggested = await asyncio.gather(
            refusal_or(self.need(sme, actor)),
            refusal_or(self.call(f.SUGGEST_FINANCE, f.SuggestFinance(sme=sme), actor)),
        )
        if isinstance(need, Refused):
            return SmeFinance(None, None, need.message, unavailable=True)
        if isinstance(suggested, Refused):
            return SmeFinance(need, None, suggested.message)
        return SmeFinance(need, suggested, None)
