"""A region's figures of a month from what its services answer: counts only. No I/O.

Counts leave the region; names, e-mail addresses and ids of SMEs or people never do. The
registry's and matching's indicators are already counts by cluster, market and region; a
snapshot is made of those fields only (each model here forbids any other), so whatever else a
service's answer might one day carry stays behind."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Literal

from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as c
from contracts.errors import Refused, conflict

FIGURE_FIELDS = tuple(c.FigureCounts.model_fields)
MEETING_FIELDS = tuple(c.MeetingFigures.model_fields)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_days(month: str) -> tuple[date, date]:
    """The first and last day of a month YYYY-MM."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def previous_month(day: date) -> str:
    first = date(day.year, day.month, 1)
    return month_of(date.fromordinal(first.toordinal() - 1))


def check_has_begun(month: str, today: date) -> None:
    if month_days(month)[0] > today:
        raise Refused(
            "validation_failed",
            f"{month} has not begun",
            fields=[{"field": "data.month", "message": "a month to come", "type": "month"}],
        )


def check_version(month: str, version: int) -> None:
    """A month published the most times the contract allows is not published again (the
    snapshot could not be told to the network)."""
    if version > c.MAX_FIGURES_VERSION:
        raise conflict(
            f"{month} was published {c.MAX_FIGURES_VERSION} times, the most it may be",
            version=c.MAX_FIGURES_VERSION,
        )


def check_months(month_from: str | None, month_to: str | None) -> None:
    if month_from and month_to and month_to < month_from:
        raise Refused(
            "validation_failed",
            "month_to is before month_from",
            fields=[{"field": "data.month_to", "message": "before month_from", "type": "month"}],
        )


def _figures(counts: rg.KpiCounts) -> c.FigureCounts:
    given = counts.model_dump()
    return c.FigureCounts(**{name: given.get(name, 0) for name in FIGURE_FIELDS})


def _meetings(counts: mt.MeetingCounts) -> c.MeetingFigures:
    given = counts.model_dump()
    return c.MeetingFigures(**{name: given.get(name, 0) for name in MEETING_FIELDS})


def _count(given: dict[str, int]) -> dict[str, int]:
    return {k: n for k, n in given.items() if n}


def feedback_figures(summary: c.FeedbackSummary) -> c.FeedbackFigures:
    """The counts of a feedback summary: answers, ratings (overall and by occasion), obstacles
    per market. Its quotes stay behind: words are the region's own."""
    obstacles: dict[str, dict[c.Obstacle, int]] = {}
    for o in summary.obstacles:
        obstacles.setdefault(o.market, {})[o.obstacle] = o.count
    return c.FeedbackFigures(
        surveys=summary.surveys,
        answers=summary.answers,
        ratings=_count(summary.ratings),
        by_occasion={
            kind: c.OccasionRatings(
                surveys=figures.surveys, answers=figures.answers, ratings=_count(figures.ratings)
            )
            for kind, figures in summary.by_occasion.items()
            if figures.surveys or figures.answers
        },
        obstacles=obstacles,
    )


def snapshot(
    region: str,
    month: str,
    version: int,
    made_at: datetime,
    kpis: rg.Kpis,
    meetings: mt.MeetingKpis | None,
    feedback: c.FeedbackSummary | None = None,
) -> c.FiguresSnapshot:
    """The month's snapshot; ``meetings`` or ``feedback`` None: matching or the feedback did
    not answer (said in ``missing``)."""
    missing: list[Literal["registry", "matching", "feedback"]] = []
    if meetings is None:
        missing.append("matching")
    if feedback is None:
        missing.append("feedback")
    return c.FiguresSnapshot(
        region=region,
        month=month,
        version=version,
        made_at=made_at,
        total=_figures(kpis.total),
        by_cluster={k: _figures(v) for k, v in kpis.by_cluster.items()},
        by_market={k: _figures(v) for k, v in kpis.by_market.items()},
        meetings_to_date=_meetings(meetings.total) if meetings else c.MeetingFigures(),
        meetings_by_region_to_date=(
            {k: _meetings(v) for k, v in meetings.by_region.items()} if meetings else {}
        ),
        meetings_by_cluster_to_date=(
            {k: _meetings(v) for k, v in meetings.by_cluster.items()} if meetings else {}
        ),
        meetings_across_regions_to_date=(
            (_meetings(meetings.across_regions) if meetings.across_regions else None)
            if meetings
            else c.MeetingFigures()
        ),
        feedback=feedback_figures(feedback) if feedback else c.FeedbackFigures(),
        missing=missing,
    )


def network_total(snapshots: list[c.FiguresSnapshot]) -> c.FigureCounts:
    """The sum of the regions' counts (the month's, or a period's snapshots)."""
    return c.FigureCounts(
        **{name: sum(getattr(s.total, name) for s in snapshots) for name in FIGURE_FIELDS}
    )
