"""What the finance link asks the registry of its region over the bus: an SME's facts for
eligibility (size class, growth class, coaching stage, country), its name, and whether it
consented to be shown to finance partners. Asked each time, never copied: the registry's word
is the current one, and an erased SME is simply not found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client as NATS

from contracts import finance as c
from contracts import registry as rg
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient


@dataclass(frozen=True)
class SmeSeen:
    legal_name: str
    facts: c.SmeFinanceFacts
    shown_to_finance_partners: bool


class SmeFacts:
    def __init__(self, connection: Callable[[], NATS | None], region: str, source: str) -> None:
        """``connection``: the service's NATS connection once it is started."""
        self._connection = connection
        self.region = region
        self.source = source

    async def of(self, sme_id: str) -> SmeSeen:
        """The SME as its registry says now; refused not_found if it has none of that id, and
        region_unavailable if the registry does not answer."""
        nc = self._connection()
        if nc is None:
            raise Refused("region_unavailable", "the guide is not connected yet")
        bus = BusClient(nc, source=self.source, role="service")
        view = await bus.call(rg.GET_SME, rg.GetSme(sme_id=sme_id), self.region)
        facts = c.SmeFinanceFacts(
            country=view.country,
            size_class=view.size_class.value,
            growth_class=view.growth_class.value,
            stage=view.stage,
        )
        return SmeSeen(view.legal_name, facts, view.show_to_finance_partners)
