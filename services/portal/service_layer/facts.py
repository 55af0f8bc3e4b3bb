"""The facts page put together from the registry's answers: the facts the region's staff
recorded (trade show presentations, introductions to large companies, science parks'
agreements), each as one row to show, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts import registry as rg
from contracts.access import Actor

from .guide import Call

OUTCOMES: tuple[rg.IntroductionOutcome, ...] = (
    "pending", "meeting_held", "cooperation_agreed", "not_pursued"
)  # fmt: skip


@dataclass(frozen=True)
class FactRow:
    fact_id: str
    kind: str
    on: date
    what: str  # the show, the company, the parties
    where: str  # the market(s)
    sme_id: str | None
    outcome: str | None
    fact: rg.Fact


def row(fact: rg.Fact) -> FactRow:
    if fact.kind == "trade_show_presentation":
        what, where = fact.show, fact.country or ""
    elif fact.kind == "company_introduction":
        what, where = fact.company, fact.country or ""
    else:
        what, where = ", ".join(fact.parties), ", ".join(fact.countries)
    return FactRow(fact.fact_id, fact.kind, fact.happened_on, what, where, fact.sme_id,
                   fact.outcome, fact)  # fmt: skip


class Facts:
    def __init__(self, call: Call) -> None:
        self.call = call

    async def rows(self, actor: Actor, cursor: str | None) -> tuple[list[FactRow], str | None]:
        page: rg.FactPage = await self.call(
            rg.LIST_FACTS, rg.ListFacts(limit=50, cursor=cursor), actor
        )
        return [row(f) for f in page.items], page.next_cursor
