"""The reports' service layer: who may ask for which report, the inputs fetched, the domain's
report made and rendered (in a worker thread: drawing and typesetting take a second or more, and
the service's other requests go on meanwhile)."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime

from contracts import reports as c
from contracts.access import STAFF, Actor
from contracts.envelope import Envelope, utcnow
from contracts.errors import Refused

from ..adapters import report_render
from ..adapters.report_inputs import ReportInputs
from ..domain.report import (
    Feedback,
    MonitoringReport,
    Period,
    Quote,
    RegionFigures,
    Scope,
    monitoring_report,
)
from ..domain.report_cluster import (
    ClusterEvent,
    ClusterMeetings,
    ClusterReport,
    ClusterSme,
    cluster_report,
)

MAX_DAYS = 3660
OFFERS = {"business_offer", "technology_offer"}
# matplotlib's state is one per process: one report is drawn at a time.
_drawing = threading.Lock()


def _invalid(field: str, message: str) -> Refused:
    return Refused(
        "validation_failed",
        f"data.{field}: {message}",
        fields=[{"field": f"data.{field}", "message": message, "type": "value_error"}],
    )


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _counts_in(
    snapshots: Sequence[c.FiguresSnapshot], period: Period
) -> tuple[list[c.FiguresSnapshot], c.FiguresSnapshot | None, c.FiguresSnapshot | None]:
    """A region's snapshots of the months the period touches, its last one up to the period's
    end, and its last one before the period (meetings are counted to date: their difference
    is the period's)."""
    first, last = _month(period.start), _month(period.end)
    ordered = sorted(snapshots, key=lambda s: s.month)
    inside = [s for s in ordered if first <= s.month <= last]
    until_end = [s for s in ordered if s.month <= last]
    before = [s for s in ordered if s.month < first]
    return inside, until_end[-1] if until_end else None, before[-1] if before else None


def region_figures(
    region: str, snapshots: Sequence[c.FiguresSnapshot], period: Period, cluster: str | None = None
) -> RegionFigures:
    """One region's counts of a period (of one cluster, if named) from its monthly snapshots."""
    inside, at_end, before = _counts_in(snapshots, period)

    def counts(s: c.FiguresSnapshot) -> c.FigureCounts:
        return s.total if cluster is None else s.by_cluster.get(cluster, c.FigureCounts())

    def meetings(s: c.FiguresSnapshot | None) -> c.MeetingFigures:
        if s is None:
            return c.MeetingFigures()
        if cluster is None:
            return s.meetings_to_date
        return s.meetings_by_cluster_to_date.get(cluster, c.MeetingFigures())

    def by_region(s: c.FiguresSnapshot | None) -> dict[str, c.MeetingFigures]:
        return {} if s is None else s.meetings_by_region_to_date

    def across(s: c.FiguresSnapshot | None) -> c.MeetingFigures | None:
        return c.MeetingFigures() if s is None else s.meetings_across_regions_to_date

    def total(name: str) -> int:
        return sum(getattr(counts(s), name) for s in inside)

    now, then = meetings(at_end), meetings(before)
    moved = {
        k: getattr(now, k) - getattr(then, k)
        for k in ("contacts_brokered", "meetings_held", "cooperation_possible")
    }
    partners_now, partners_then = by_region(at_end), by_region(before)
    cooperation = {
        other: figures.contacts_brokered
        - partners_then.get(other, c.MeetingFigures()).contacts_brokered
        for other, figures in partners_now.items()
    }
    # Trans-national: meetings between SMEs of two regions, each once (a meeting between
    # two guests' SMEs is in both their rows of the matrix).
    across_now, across_then = across(at_end), across(before)
    if across_now is not None and across_then is not None:
        abroad = across_now.contacts_brokered - across_then.contacts_brokered
    else:  # a snapshot made before matching counted them: the matrix's row without its own cell
        abroad = sum(n for other, n in cooperation.items() if other != region)
    return RegionFigures(
        region=region,
        indicators={
            "trained_smes": total("trained"),
            "brokerage_events": total("brokerage_events"),
            "training_courses": total("training_courses"),
            "market_access_points": 1 if snapshots else 0,
            "success_stories": total("success_stories"),
            "contacts_brokered": abroad,
            "bilateral_meetings": moved["meetings_held"],
            "trade_show_presentations": total("trade_show_presentations"),
        },
        funnel={s: total(s) for s in ("identified", "selected", "trained", "coached")}
        | {"internationalised": total("internationalised")},
        meetings=moved,
        cooperation={k: v for k, v in cooperation.items() if v} if cluster is None else {},
    )


def snapshot_feedback(
    region: str, snapshots: Sequence[c.FiguresSnapshot], period: Period
) -> Feedback:
    """One region's survey answers of a period as its monthly snapshots count them (the months
    the period touches): no words, so no quotes."""
    inside, _, _ = _counts_in(snapshots, period)
    ratings: Counter[int] = Counter()
    obstacles: Counter[tuple[str, str]] = Counter()
    occasions: dict[str, Counter[int]] = defaultdict(Counter)
    answers = 0
    for s in inside:
        f = s.feedback
        answers += f.answers
        ratings.update({int(r): n for r, n in f.ratings.items()})
        for occasion, rated in f.by_occasion.items():
            occasions[occasion].update({int(r): n for r, n in rated.ratings.items()})
        for market, named in f.obstacles.items():
            obstacles.update({(market, o): n for o, n in named.items()})
    by_occasion: dict[str, tuple[int, float | None]] = {}
    for kind, counted in occasions.items():
        n_all = sum(counted.values())
        mean = sum(r * n for r, n in counted.items()) / n_all if n_all else None
        by_occasion[kind] = (n_all, mean)
    return Feedback(
        region=region,
        answers=answers,
        ratings=dict(ratings),
        by_occasion=by_occasion,
        obstacles=dict(obstacles),
        words=False,
    )


def network_feedback(
    by_region: Mapping[str, Sequence[c.FiguresSnapshot]],
    period: Period,
    region: str,
    own: c.FeedbackSummary | None = None,
) -> list[Feedback]:
    """Every region's answers of a period as its snapshots count them; the asking ``region``'s
    with the quotes of its own answers (``own``): words are not shared."""
    counted = [snapshot_feedback(r, ss, period) for r, ss in sorted(by_region.items())]
    if own is None:
        return counted
    mine = next((f for f in counted if f.region == region), Feedback(region=region))
    quoted = replace(mine, quotes=feedback_of(own).quotes, words=True)
    return [f for f in counted if f.region != region] + [quoted]


def feedback_of(summary: c.FeedbackSummary) -> Feedback:
    return Feedback(
        region=summary.region,
        answers=summary.answers,
        ratings={int(r): n for r, n in summary.ratings.items()},
        by_occasion={k: (v.answers, v.rating_mean) for k, v in summary.by_occasion.items()},
        obstacles={(o.market, o.obstacle): o.count for o in summary.obstacles},
        quotes=tuple(
            Quote(q.text, q.occasion_kind, q.market, q.rating, q.answered_on)
            for q in summary.quotes
        ),
    )


class Reports:
    def __init__(
        self, inputs: ReportInputs, region: str, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.inputs = inputs
        self.region = region
        self.clock = clock

    def _checked(self, query: c.ReportRequest, actor: Actor | None) -> tuple[Scope, Period]:
        if query.period_to < query.period_from:
            raise _invalid("period_to", "the period ends before it starts")
        period = Period(query.period_from, query.period_to)
        if period.days > MAX_DAYS:
            raise _invalid("period_to", f"a report covers {MAX_DAYS} days at most")
        if query.format != "csv" and query.table is not None:
            raise _invalid("table", "a single table is a CSV (format csv)")
        region = query.region or self.region
        # Staff report on their own region, and on the whole network from their own region's
        # service: the network's figures are every region's snapshots (counts only), its
        # feedback and quotes are the answering region's own, so theirs. Other regions'
        # reports are the steering group's (and the operator's).
        own = region == actor.region if actor is not None else True
        if query.network:
            own = actor is None or actor.region == self.region
        if actor is not None and actor.role in STAFF and not own:
            raise Refused(
                "forbidden",
                "staff report on their own region or, from their region's service, the whole "
                "network; other regions' reports are the steering group's",
                role=actor.role,
                region=region,
                network=query.network,
            )
        return Scope(region, query.network), period

    async def monitoring(self, query: Envelope[c.GetMonitoringReport]) -> c.RenderedReport:
        scope, period = self._checked(query.data, query.actor)
        before = period.previous()
        wanted = None if scope.network else scope.region
        snapshots = await self.inputs.snapshots(wanted, _month(period.end))
        by_region: dict[str, list[c.FiguresSnapshot]] = {}
        for s in snapshots:
            by_region.setdefault(s.region, []).append(s)
        figures = [region_figures(r, ss, period) for r, ss in sorted(by_region.items())]
        earlier = [region_figures(r, ss, before) for r, ss in sorted(by_region.items())]
        # Answers are counted in every region's snapshots; their words are not shared, so
        # the quotes are this region's own: its live answers for its own report, and beside
        # the network's counts for the network's.
        feedback: list[Feedback] = []
        previous_feedback: list[Feedback] = []
        if scope.network:
            own = await self.inputs.feedback(period.start, period.end)
            feedback = network_feedback(by_region, period, self.region, own)
            previous_feedback = network_feedback(by_region, before, self.region)
        elif scope.region == self.region:
            now, then = await asyncio.gather(
                self.inputs.feedback(period.start, period.end),
                self.inputs.feedback(before.start, before.end),
            )
            feedback, previous_feedback = [feedback_of(now)], [feedback_of(then)]
        else:  # another region's: its snapshots' counts
            feedback = [snapshot_feedback(scope.region, by_region.get(scope.region, []), period)]
            previous_feedback = [
                snapshot_feedback(scope.region, by_region.get(scope.region, []), before)
            ]
        report = monitoring_report(
            scope,
            period,
            self.clock(),
            [f for f in figures if f.region == scope.region or scope.network],
            [f for f in earlier if f.region == scope.region or scope.network],
            feedback,
            previous_feedback,
        )
        return await self._rendered(report, query.data)

    async def cluster(self, query: Envelope[c.GetClusterReport]) -> c.RenderedReport:
        scope, period = self._checked(query.data, query.actor)
        cluster = query.data.cluster
        wanted = None if scope.network else scope.region
        snapshots, entries = await asyncio.gather(
            self.inputs.snapshots(wanted, _month(period.end)),
            self.inputs.cluster_events(cluster, period.start, period.end, wanted),
        )
        read = None
        if scope.region == self.region and not scope.network and query.actor is not None:
            read = await self.inputs.cluster_smes(cluster, query.actor)
        summaries, views = read if read is not None else ([], [])
        profiles = {v.sme_id: v.profiles for v in views}
        by_region: dict[str, list[c.FiguresSnapshot]] = {}
        for s in snapshots:
            by_region.setdefault(s.region, []).append(s)
        figures = [region_figures(r, ss, period, cluster) for r, ss in by_region.items()]
        # Every SME counts; the keywords are those of the profiles it publishes to others (a
        # private profile's never reach a report that is printed and passed on).
        shown = {
            sme_id: [p for p in found if p.status == "published" and p.visibility != "private"]
            for sme_id, found in profiles.items()
        }
        smes = [
            ClusterSme(
                v.region,
                v.country,
                v.size_class,
                v.growth_class,
                tuple(k for p in shown.get(v.sme_id, []) if p.type in OFFERS for k in p.keywords),
                tuple(
                    k for p in shown.get(v.sme_id, []) if p.type not in OFFERS for k in p.keywords
                ),
            )
            for v in summaries
        ]
        meetings = ClusterMeetings(
            steps={k: sum(f.meetings.get(k, 0) for f in figures) for k in figures[0].meetings}
            if figures
            else {},
            outcomes={},
            by_region={f.region: f.meetings.get("contacts_brokered", 0) for f in figures},
        )
        held = meetings.steps.get("meetings_held", 0)
        possible = meetings.steps.get("cooperation_possible", 0)
        meetings.outcomes.update(
            {"cooperation_possible": possible, "no_cooperation_yet": max(held - possible, 0)}
        )
        events = [
            ClusterEvent(e.title, e.kind, e.starts_at_utc.date(), e.country, e.region)
            for e in entries
        ]
        stories = sum(f.indicators.get("success_stories", 0) for f in figures)
        report = cluster_report(
            cluster,
            scope,
            period,
            self.clock(),
            smes,
            meetings,
            events,
            [],
            stories,
            read is not None,
            keywords_of=len(views),
        )
        return await self._rendered(report, query.data)

    async def _rendered(
        self, report: MonitoringReport | ClusterReport, query: c.ReportRequest
    ) -> c.RenderedReport:
        tables = list(report.tables())
        if query.table is not None and query.table not in tables:
            raise _invalid("table", f"the report has no table {query.table}; it has {tables}")

        def render() -> report_render.Rendered:
            with _drawing:
                return report_render.rendered(report, query.format, query.table)

        out = await asyncio.to_thread(render)
        binary = out.media_type in ("application/pdf", "application/zip")
        return c.RenderedReport(
            title=report.title,
            region=None if report.scope.network else report.scope.region,
            regions=list(report.regions) if isinstance(report, MonitoringReport) else [],
            period_from=report.period.start,
            period_to=report.period.end,
            made_at=report.made_at,
            format=query.format,
            media_type=out.media_type,
            filename=out.filename,
            tables=tables,
            text=None if binary else out.content.decode(),
            content=base64.b64encode(out.content).decode() if binary else None,
        )
