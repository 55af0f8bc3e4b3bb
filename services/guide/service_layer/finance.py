"""The finance link's use cases: one command or query in, its rules checked, one write, events
out. Offers follow the calendar's pattern (publisher and external id make the id; a partner only
as itself; copies of other regions' offers are read, never changed here)."""

from __future__ import annotations

import asyncio
import uuid
from functools import partial

from contracts import finance as c
from contracts.common import SmeRef
from contracts.envelope import Envelope
from contracts.errors import Refused
from contracts.registry import email_digest
from mapnet.runtime import logs
from mapnet.runtime.unit_of_work import UnitOfWork

from ..adapters.finance_registry import SmeFacts, SmeSeen
from ..adapters.finance_repository import OFFERS, NeedRepository, OfferRepository
from ..domain.finance import (
    Offer,
    check_finance_partner,
    check_home_staff,
    check_publisher,
    check_sme_reader,
    foreign_publisher,
    need_problems,
    require,
    suggest,
)

# Offer ids derive from the region, the publisher and its own id: the same external id updates
# the same offer.
_NAMESPACE = uuid.UUID("6f0b3c1e-8a27-4d55-9c3e-2b7e41d0a9f3")
_MAX_RETRIES = 20


def offer_id(region: str, partner_id: str, external_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{region}:{partner_id}:{external_id}"))


class Finance:
    def __init__(
        self,
        uow: UnitOfWork,
        offers: OfferRepository,
        needs: NeedRepository,
        smes: SmeFacts,
        offers_per_publisher: int = 1000,
    ) -> None:
        """``offers_per_publisher``: published offers one publisher may hold here."""
        self.offers_per_publisher = offers_per_publisher
        self.uow = uow
        self.region = uow.region
        self.offers = offers
        self.needs = needs
        self.smes = smes

    # --- offers --------------------------------------------------------------------------------

    async def publish_offer(self, cmd: Envelope[c.PublishFinanceOffer]) -> c.FinanceOffer:
        d = cmd.data
        check_publisher(cmd.actor, d.partner_id, self.region)
        oid = offer_id(self.region, d.partner_id, d.external_id)
        if cmd.actor is None or cmd.actor.role != "partner":
            # A partner's name is the server's stamp; anyone else naming a publisher whose
            # offer is another region's read copy would republish it here as this region's.
            await self.offers.refuse_copy_of(d.partner_id, d.external_id)
        for _ in range(_MAX_RETRIES):
            previous = await self.offers.get(oid)
            if previous is None:
                await self._check_room(d.partner_id)
            offer = Offer.publish(oid, self.region, d, previous, self.uow.now())
            if offer is previous:
                return offer.view()
            expected = previous.version if previous else None
            try:
                await self.uow.save(
                    offer, cmd, collection=OFFERS, key=oid,
                    write=partial(self.offers.save, offer, expected),
                )  # fmt: skip
            except Refused as refused:
                if refused.code == "conflict":
                    continue  # two versions sent at once: apply this one again on the newer
                raise
            return offer.view()
        raise Refused("conflict", f"offer {oid} keeps changing; try again")

    async def _check_room(self, partner_id: str) -> None:
        """A new offer only while its publisher holds fewer than the limit published: every
        region keeps a copy and weighs them all for each SME's page. (Two new offers at the
        same moment may both pass at the limit's edge: a bound, not an exact count.)"""
        held = await self.offers.count_published(partner_id)
        if held >= self.offers_per_publisher:
            raise Refused(
                "conflict",
                f"{partner_id} holds {held} published offers, the most one publisher may: "
                "withdraw one, or update one by its external_id",
                limit=self.offers_per_publisher,
                partner_id=partner_id,
            )

    async def withdraw_offer(self, cmd: Envelope[c.WithdrawFinanceOffer]) -> c.FinanceOffer:
        found = await self.offers.require(cmd.data.offer_id)
        check_publisher(cmd.actor, found.partner_id, self.region, "data.offer_id")
        offer = Offer.from_view(found)
        read_version = offer.version
        offer.withdraw(cmd.data.reason, self.uow.now())
        if offer.version != read_version:
            await self.uow.save(
                offer, cmd, collection=OFFERS, key=offer.offer_id,
                write=partial(self.offers.save, offer, read_version),
            )  # fmt: skip
        return offer.view()

    async def get_offer(self, query: Envelope[c.GetFinanceOffer]) -> c.FinanceOffer:
        return await self.offers.require(query.data.offer_id, copy_will_do=True)

    async def list_offers(self, query: Envelope[c.ListFinanceOffers]) -> c.FinanceOfferPage:
        return await self.offers.page(query.data)

    async def copy_offer(self, offer: c.FinanceOffer) -> None:
        """Another region's offer as it now stands, kept as a read copy; one it shared under
        a publisher it cannot be (another region's MAP) is dropped and logged."""
        if (why := foreign_publisher(offer)) is not None:
            logs.get(service="guide").warning(
                "finance_offer_copy_refused", offer_id=offer.offer_id, from_region=offer.region,
                partner_id=offer.partner_id, why=why,
            )  # fmt: skip
            return
        await self.offers.put_copy(offer)

    # --- an SME's need -------------------------------------------------------------------------

    async def set_need(self, cmd: Envelope[c.SetFinanceNeed]) -> c.FinanceNeed:
        d = cmd.data
        check_sme_reader(cmd.actor, d.sme, self.region)
        require(need_problems(d.model_dump(mode="json"), self.uow.now().date()))
        await self.smes.of(d.sme.sme_id)  # the registry knows it (else not_found)
        need = c.FinanceNeed(
            **d.model_dump(),
            version=((previous.version if (previous := await self.needs.get(d.sme)) else 0) + 1),
            set_by=cmd.actor.id if cmd.actor else "",
            updated_at=self.uow.now(),
        )
        await self.needs.put(need)
        return need

    async def clear_need(self, cmd: Envelope[c.ClearFinanceNeed]) -> c.FinanceNeed:
        check_sme_reader(cmd.actor, cmd.data.sme, self.region)
        removed = await self.needs.remove(cmd.data.sme)
        if removed is None:
            raise _no_need(cmd.data.sme)
        return removed

    async def get_need(self, query: Envelope[c.GetFinanceNeed]) -> c.FinanceNeed:
        check_sme_reader(query.actor, query.data.sme, self.region)
        need = await self.needs.get(query.data.sme)
        if need is None:
            raise _no_need(query.data.sme)
        return need

    async def forget_sme(self, sme: SmeRef) -> None:
        """An erased SME's need goes with it."""
        await self.needs.remove(sme)

    async def forget_contact(self, sme: SmeRef, email_sha256: str) -> None:
        """An erased contact person: the need they set last no longer names them (the need is
        the company's and stays)."""
        need = await self.needs.get(sme)
        if need is not None and email_sha256 and email_digest(need.set_by) == email_sha256:
            await self.needs.put(need.model_copy(update={"set_by": ""}))

    # --- suggestions ---------------------------------------------------------------------------

    async def suggest(self, query: Envelope[c.SuggestFinance]) -> c.FinanceSuggestions:
        sme = query.data.sme
        check_sme_reader(query.actor, sme, self.region)
        seen = await self.smes.of(sme.sme_id)
        need = await self.needs.get(sme)
        today = self.uow.now().date()
        # Past deadlines are left out by the query itself; suggest() would leave them out too.
        offers = await self.offers.open_offers(today.isoformat())
        suggested, left_out = suggest(offers, seen.facts, need, today)
        return c.FinanceSuggestions(
            sme=sme, facts=seen.facts, need=need, on=today, suggested=suggested,
            left_out=left_out,
        )  # fmt: skip

    async def list_smes_needing_finance(
        self, query: Envelope[c.ListSmesNeedingFinance]
    ) -> c.SmesNeedingFinancePage:
        """This region's SMEs with a need: to its staff all of them, to a finance partner only
        those that consented (asked of the registry now, so a consent withdrawn is honoured at
        once); nobody else."""
        actor = query.actor
        if actor is not None:
            check_finance_partner(actor)
            check_home_staff(actor, self.region)
        partner = actor is not None and actor.role == "partner"
        q = query.data
        needs, cursor = await self.needs.page(q, q.limit, q.cursor)
        seen = await asyncio.gather(*(self._seen(n.sme) for n in needs))
        items = [
            c.SmeNeedingFinance(
                sme=n.sme,
                legal_name=s.legal_name,
                facts=s.facts,
                need=c.ListedFinanceNeed.model_validate(
                    n.model_dump(include=set(c.ListedFinanceNeed.model_fields))
                ),
                note=None if partner else n.note,
            )
            for n, s in zip(needs, seen, strict=True)
            if s is not None and (s.shown_to_finance_partners or not partner)
        ]
        return c.SmesNeedingFinancePage(items=items, next_cursor=cursor)

    async def _seen(self, sme: SmeRef) -> SmeSeen | None:
        try:
            return await self.smes.of(sme.sme_id)
        except Refused as refused:
            if refused.code == "not_found":  # erased meanwhile: not listed
                return None
            raise


def _no_need(sme: SmeRef) -> Refused:
    return Refused("not_found", f"SME {sme.key} has no finance need", sme=sme.key)
