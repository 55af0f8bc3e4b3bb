"""The facts page put together from the registry's answers: the facts the region's staff
recorded (trade show presentations, introductions to large companies, science parks'
agreements), each as one row to show, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts import registry as rg
from contracts import reports as rp
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

    async def figures_again(self, actor: Actor, on: date) -> str | None:
        """After a fact of the day ``on`` was withdrawn: the month's figures, if the region
        published them already (they count it still), published again without it; the month
        so published, or None. A month not published yet will leave it out by itself."""
        month = on.strftime("%Y-%m")
        held: rp.FiguresPage = await self.call(
            rp.LIST_FIGURES,
            rp.ListFigures(region=actor.region, month_from=month, month_to=month, limit=1),
            actor,
        )
        if not held.items:
            return None
        await self.call(rp.PUBLISH_FIGURES, rp.PublishFigures(month=month), actor)
        return month
