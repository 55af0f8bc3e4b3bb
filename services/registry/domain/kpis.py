"""The seed's indicators for a period: SMEs that reached each stage, and success stories."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

from contracts import registry as c

STAGE_FIELDS = ("identified", "selected", "trained", "coached", "internationalised")


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
) -> c.Kpis:
    total = c.KpiCounts()
    by_cluster: dict[str, c.KpiCounts] = {}

    def bump(clusters: list[str], field: str) -> None:
        for counts in [total, *(by_cluster.setdefault(k, c.KpiCounts()) for k in clusters)]:
            setattr(counts, field, getattr(counts, field) + 1)

    for journey in journeys:
        reached = {stage for stage, at in journey.reached if period_from <= at.date() <= period_to}
        for stage in STAGE_FIELDS:
            if stage in reached:
                bump(journey.clusters, stage)
    for happened_on, clusters in stories:
        if period_from <= happened_on <= period_to:
            bump(clusters, "success_stories")
    return c.Kpis(
        region=region,
        period_from=period_from,
        period_to=period_to,
        total=total,
        by_cluster=dict(sorted(by_cluster.items())),
    )
