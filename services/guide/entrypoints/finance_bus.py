"""The finance link's operations on the bus: offers, an SME's needs, suggestions."""

from __future__ import annotations

from typing import Any

from contracts import finance as c
from contracts import registry as rg
from contracts.common import SmeRef
from contracts.envelope import Envelope, utcnow
from mapnet.runtime.service import Runtime

from ..adapters.finance_registry import SmeFacts
from ..adapters.finance_repository import OFFERS, NeedRepository, OfferRepository
from ..domain.finance import need_problems, offer_problems
from ..service_layer.finance import Finance
from ..settings import GuideSettings


def _offer_rules(data: Any) -> list[dict[str, str]]:
    return offer_problems(data, utcnow().date())


def _need_rules(data: Any) -> list[dict[str, str]]:
    return need_problems(data, utcnow().date())


def build_finance(rt: Runtime) -> None:
    """Routes of the finance link."""
    offers = OfferRepository(rt.db, rt.region)
    needs = NeedRepository(rt.db)
    smes = SmeFacts(lambda: rt.nc, rt.region, rt.source)
    settings = rt.config if isinstance(rt.config, GuideSettings) else GuideSettings()
    finance = Finance(rt.unit_of_work(), offers, needs, smes, settings.offers_per_publisher)
    rt.outbox_collections.append(OFFERS)
    rt.startup += [offers.create_indexes, needs.create_indexes]

    # publish_finance_offer answers a repeat by itself (same external id, same content).
    rt.handles(c.PUBLISH_FINANCE_OFFER, rules=_offer_rules)(finance.publish_offer)
    rt.handles(c.WITHDRAW_FINANCE_OFFER)(finance.withdraw_offer)
    rt.handles(c.GET_FINANCE_OFFER)(finance.get_offer)
    rt.handles(c.LIST_FINANCE_OFFERS)(finance.list_offers)
    rt.handles(c.SET_FINANCE_NEED, rules=_need_rules)(finance.set_need)
    rt.handles(c.CLEAR_FINANCE_NEED)(finance.clear_need)
    rt.handles(c.GET_FINANCE_NEED)(finance.get_need)
    rt.handles(c.SUGGEST_FINANCE)(finance.suggest)
    rt.handles(c.LIST_SMES_NEEDING_FINANCE)(finance.list_smes_needing_finance)

    @rt.consumes_network(c.FINANCE_OFFER_SHARED)
    async def on_network_offer(event: Envelope[c.FinanceOffer]) -> None:
        await finance.copy_offer(event.data)

    # An erased SME's finance need goes with it.
    @rt.consumes(rg.SME_ERASED)
    async def on_sme_erased(event: Envelope[rg.SmeErased]) -> None:
        await finance.forget_sme(SmeRef(sme_id=event.data.sme_id, region=event.data.region))

    # An erased contact person is no longer named as who set a need (set_by, their address).
    @rt.consumes(rg.CONTACT_ERASED)
    async def on_contact_erased(event: Envelope[rg.ContactErased]) -> None:
        erased = event.data
        if erased.region == rt.region:  # needs are of this region's SMEs alone
            await finance.forget_contact(SmeRef(sme_id=erased.sme_id, region=erased.region),
                                         erased.email_sha256)  # fmt: skip

    rt.publishes(c.FINANCE_OFFER_PUBLISHED, c.FINANCE_OFFER_WITHDRAWN, c.FINANCE_OFFER_SHARED)
