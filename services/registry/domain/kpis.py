"""The seed's indicators for a period: SMEs that reached each stage, and success stories."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from contracts import registry as c

STAGE_FIELDS = ("identified", "selected", "trained", "coached", "internationalised")


def kpis(
    region: str,
    period_from: date,
    period_to: date,
    smes: Iterable[c.SmeView],
    stories: Iterable[tuple[date, list[str]]],
) -> c.Kpis:
    total = c.KpiCounts()
    by_cluster: dict[str, c.KpiCounts] = {}

    def bump(clusters: list[str], field: str) -> None:
        for counts in [total, *(by_cluster.setdefault(k, c.KpiCounts()) for k in clusters)]:
            setattr(counts, field, getattr(counts, field) + 1)

    for sme in smes:
        reached = {
            change.to_stage
            for change in sme.stage_history
            if period_from <= change.at.date() <= period_to
        }
        for stage in STAGE_FIELDS:
            if stage in reached:
                bump(sme.clusters, stage)
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
