"""The seed's indicators for a period: SMEs that reached each stage, and success stories."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import NamedTuple

from contracts import registry as c

STAGE_FIELDS = ("identified", "selected", "trained", "coached", "internationalised")


class Counted(NamedTuple):
    """One more of an indicator (a field of KpiCounts) on a day, for its clusters and markets:
    a fact staff recorded, a calendar entry of the region, an attendee checked in."""

    field: str
    on: date
    clusters: list[str]
    markets: list[str]


class Journey(NamedTuple):
    """What the indicators need of an SME: its clusters and when it reached which stage."""

    clusters: list[str]
    reached: list[tuple[str, datetime]]

    @classmethod
    def of(cls, sme: c.SmeView) -> Journey:
        return cls(sme.clusters, [(change.to_stage, change.at) for change in sme.stage_history])


def kpis(
    region: str,
    period_from: date,
    period_to: date,
    journeys: Iterable[Journey],
    stories: Iterable[tuple[date, list[str]]],
    counted: Iterable[Counted] = (),
) -> c.Kpis:
    total = c.KpiCounts()
    by_cluster: dict[str, c.KpiCounts] = {}
    by_market: dict[str, c.KpiCounts] = {}

    def bump(clusters: Sequence[str], field: str, markets: Sequence[str] = ()) -> None:
        # A cluster or market named twice is still one more, not two.
        for counts in [
            total,
            *(by_cluster.setdefault(k, c.KpiCounts()) for k in dict.fromkeys(clusters)),
            *(by_market.setdefault(m, c.KpiCounts()) for m in dict.fromkeys(markets)),
        ]:
            setattr(counts, field, getattr(counts, field) + 1)

    for journey in journeys:
        reached = {stage for stage, at in journey.reached if period_from <= at.date() <= period_to}
        for stage in STAGE_FIELDS:
            if stage in reached:
                bump(journey.clusters, stage)
    for happened_on, clusters in stories:
        if period_from <= happened_on <= period_to:
            bump(clusters, "success_stories")
    for one in counted:
        if period_from <= one.on <= period_to:
            bump(one.clusters, one.field, one.markets)
    return c.Kpis(
        region=region,
        period_from=period_from,
        period_to=period_to,
        total=total,
        by_cluster=dict(sorted(by_cluster.items())),
        by_market=dict(sorted(by_market.items())),
    )
