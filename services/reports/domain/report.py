"""The monitoring report, computed from plain inputs: each region's counts for the period (and
the period before, for trends) and the SMEs' survey answers. No I/O here: the service layer
fetches the inputs, the rendering turns the report into HTML, PDF, SVG and CSV.

The pilot's targets are the seed's (seed/basic-project-page.txt): they are the network's, so a
region's report shows its own contribution against them."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

Comparison = Literal["at_least", "exactly"]

STAGES: tuple[str, ...] = ("identified", "selected", "trained", "coached", "internationalised")
# What matching counts of meetings: accepted requests (contacts brokered), meetings that took
# place, and of those the ones whose outcome says cooperation is possible.
MEETING_STEPS: tuple[str, ...] = ("contacts_brokered", "meetings_held", "cooperation_possible")
MEETING_LABELS: dict[str, str] = {
    "contacts_brokered": "Contacts brokered (meetings accepted)",
    "meetings_held": "Meetings held",
    "cooperation_possible": "Cooperation possible",
}
OUTCOMES: tuple[str, ...] = ("cooperation_possible", "no_cooperation_yet")
OBSTACLES: dict[str, str] = {
    "regulation_and_certification": "Regulation and certification",
    "company_registration": "Company registration",
    "tax": "Tax",
    "finance": "Finance",
    "language_and_culture": "Language and culture",
    "finding_partners": "Finding partners",
    "public_procurement": "Public procurement",
    "other": "Other",
}
# What a MAP can do about an obstacle: the recommendation names it beside the count.
REMEDIES: dict[str, str] = {
    "regulation_and_certification": "publish the market's product rules and certification steps "
    "in the guide and broker contacts with its notified bodies",
    "company_registration": "add a step-by-step registration article and a contact at the "
    "market's business register",
    "tax": "arrange a tax and VAT clinic with the market's chamber",
    "finance": "link the SMEs with the finance offers for export and the market's funders",
    "language_and_culture": "offer a business-culture course and interpreters at brokerage events",
    "finding_partners": "hold a brokerage event or road show with the market's cluster",
    "public_procurement": "train SMEs on the market's tender portals and joint bids",
    "other": "read the SMEs' own words in the answers and follow up in coaching",
}
OCCASIONS: dict[str, str] = {
    "meeting": "Brokerage meeting",
    "event": "Event or course",
    "coaching_stage": "Coaching stage",
}


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    value: int
    comparison: Comparison

    def met_by(self, reached: int) -> bool:
        return reached >= self.value if self.comparison == "at_least" else reached == self.value

    @property
    def shown(self) -> str:
        return f"≥ {self.value}" if self.comparison == "at_least" else f"= {self.value}"


TARGETS: tuple[Target, ...] = (
    Target("trained_smes", "Trained SMEs", 30, "at_least"),
    Target("brokerage_events", "Brokerage events", 3, "at_least"),
    Target("training_courses", "International training courses", 3, "at_least"),
    Target("market_access_points", "Market access points", 10, "exactly"),
    Target("success_stories", "Success stories", 30, "at_least"),
    Target("contacts_brokered", "Trans-national contacts brokered", 300, "at_least"),
    Target("bilateral_meetings", "Bilateral meetings", 120, "at_least"),
    Target("trade_show_presentations", "SME presentations at trade shows", 30, "at_least"),
)
INDICATORS: tuple[str, ...] = tuple(t.key for t in TARGETS)


# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionFigures:
    """One region's counts for a period: the sum of its monthly snapshots. Counts only, no
    names. ``cooperation``: meetings brokered between this region's SMEs and each region's
    (this region too), by the other region."""

    region: str
    indicators: Mapping[str, int] = field(default_factory=dict)
    funnel: Mapping[str, int] = field(default_factory=dict)
    meetings: Mapping[str, int] = field(default_factory=dict)
    outcomes: Mapping[str, int] = field(default_factory=dict)
    cooperation: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Quote:
    """Words an SME allowed to be quoted, without who said them."""

    text: str
    occasion: str
    market: str | None
    rating: int
    answered_on: date


@dataclass(frozen=True)
class Feedback:
    """A region's survey answers of a period, counted: no person, no company. ``obstacles``:
    (market, obstacle) -> answers that named it; ``quotes`` only of answers that allowed it.
    A network report holds each region's counted from its snapshots (``words`` False), the
    asking region's with its own quotes."""

    region: str
    answers: int = 0
    ratings: Mapping[int, int] = field(default_factory=dict)
    by_occasion: Mapping[str, tuple[int, float | None]] = field(default_factory=dict)
    obstacles: Mapping[tuple[str, str], int] = field(default_factory=dict)
    quotes: tuple[Quote, ...] = ()
    # False: counted from a region's monthly snapshot, which carries no words (so no quotes).
    words: bool = True


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one (a year before a year)."""
        if (
            self.start.month == 1
            and self.start.day == 1
            and self.end == date(self.start.year, 12, 31)
        ):
            return Period(date(self.start.year - 1, 1, 1), date(self.start.year - 1, 12, 31))
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class Scope:
    """The report's subject: one region, or the network (the regions whose figures it holds)."""

    region: str
    network: bool = False

    @property
    def name(self) -> str:
        return "the network" if self.network else self.region


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetRow:
    key: str
    label: str
    target: str
    target_value: int
    reached: int
    met: bool
    share: int  # per cent of the target value
    at_least: bool = True


@dataclass(frozen=True)
class TrendRow:
    label: str
    current: int
    previous: int

    @property
    def change(self) -> int:
        return self.current - self.previous

    @property
    def direction(self) -> str:
        return "up" if self.change > 0 else "down" if self.change < 0 else "same"


@dataclass(frozen=True)
class ObstacleRow:
    market: str
    obstacle: str
    label: str
    count: int
    previous: int
    answers_in_market: int

    @property
    def direction(self) -> str:
        return (
            "up" if self.count > self.previous else "down" if self.count < self.previous else "same"
        )


@dataclass(frozen=True)
class Satisfaction:
    answers: int
    mean: float | None
    by_rating: dict[int, int]
    by_occasion: dict[str, tuple[int, float | None]]  # occasion -> (answers, mean)


@dataclass(frozen=True)
class Table:
    """A table as the HTML shows it and the CSV holds it."""

    title: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str | int | float, ...]]


@dataclass(frozen=True)
class MonitoringReport:
    scope: Scope
    period: Period
    previous_period: Period
    made_at: datetime
    regions: tuple[str, ...]
    feedback_regions: tuple[str, ...]
    quoted_regions: tuple[str, ...]  # whose answers' words it quotes (words stay in a region)
    targets: list[TargetRow]
    funnel: dict[str, int]
    meetings: dict[str, int]
    outcomes: dict[str, int]
    cooperation_regions: tuple[str, ...]
    cooperation: dict[tuple[str, str], int]
    satisfaction: Satisfaction
    obstacles: list[ObstacleRow]
    trends: list[TrendRow]
    quotes: list[Quote]
    recommendations: list[str]

    @property
    def title(self) -> str:
        return f"Monitoring report: {self.scope.name}"

    def tables(self) -> dict[str, Table]:
        """Every table of the report by a file-name-safe key, in the report's order."""
        regions = self.cooperation_regions
        s = self.satisfaction
        return {
            "targets": Table(
                "The pilot's targets and what was reached",
                ("indicator", "target", "reached", "met", "per_cent_of_target"),
                [
                    (t.label, t.target, t.reached, "yes" if t.met else "no", t.share)
                    for t in self.targets
                ],
            ),
            "funnel": Table(
                "Coaching funnel",
                ("stage", "smes"),
                [(stage, self.funnel.get(stage, 0)) for stage in STAGES],
            ),
            "meetings": Table(
                "Meetings",
                ("count", "meetings"),
                [(MEETING_LABELS[step], self.meetings.get(step, 0)) for step in MEETING_STEPS],
            ),
            "outcomes": Table(
                "Meeting outcomes",
                ("outcome", "meetings"),
                [(o.replace("_", " "), self.outcomes.get(o, 0)) for o in OUTCOMES],
            ),
            "cooperation": Table(
                "Cooperation between regions (contacts brokered between their SMEs; a row is "
                "the region whose figures count them)",
                ("region", *regions),
                [(a, *(self.cooperation.get((a, b), 0) for b in regions)) for a in regions],
            ),
            "satisfaction": Table(
                "Satisfaction (ratings 1 to 5)",
                ("occasion", "answers", "mean_rating"),
                [
                    (OCCASIONS.get(o, o), n, "" if m is None else m)
                    for o, (n, m) in s.by_occasion.items()
                ]
                + [("all", s.answers, "" if s.mean is None else s.mean)],
            ),
            "obstacles": Table(
                "Most frequent obstacles per market",
                ("market", "obstacle", "answers", "previous_period", "trend"),
                [(o.market, o.label, o.count, o.previous, o.direction) for o in self.obstacles],
            ),
            "trends": Table(
                "Trends against the previous period",
                ("indicator", "this_period", "previous_period", "change"),
                [(t.label, t.current, t.previous, t.change) for t in self.trends],
            ),
            "quotes": Table(
                "What SMEs said (quoted with their consent)",
                ("quote", "occasion", "market", "rating", "answered_on"),
                [
                    (
                        q.text,
                        OCCASIONS.get(q.occasion, q.occasion),
                        q.market or "",
                        q.rating,
                        q.answered_on.isoformat(),
                    )
                    for q in self.quotes
                ],
            ),
        }


def summed(figures: Iterable[RegionFigures], region: str) -> RegionFigures:
    """Several regions' (or months') counts added up, under one name."""
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for one in figures:
        for part in ("indicators", "funnel", "meetings", "cooperation"):
            totals[part].update(getattr(one, part))
    return RegionFigures(
        region=region,
        indicators=dict(totals["indicators"]),
        funnel=dict(totals["funnel"]),
        meetings=dict(totals["meetings"]),
        cooperation=dict(totals["cooperation"]),
    )


def feedback_summed(feedback: Iterable[Feedback], region: str) -> Feedback:
    """Several regions' answers counted together; a mean weighs each region by its answers."""
    answers = 0
    ratings: Counter[int] = Counter()
    obstacles: Counter[tuple[str, str]] = Counter()
    occasions: dict[str, list[tuple[int, float]]] = defaultdict(list)
    quotes: list[Quote] = []
    for one in feedback:
        answers += one.answers
        ratings.update(one.ratings)
        obstacles.update(one.obstacles)
        quotes += one.quotes
        for occasion, (count, mean) in one.by_occasion.items():
            occasions[occasion].append((count, mean if mean is not None else 0.0))
    by_occasion: dict[str, tuple[int, float | None]] = {}
    for occasion, parts in occasions.items():
        count = sum(n for n, _ in parts)
        by_occasion[occasion] = (
            count,
            round(sum(n * m for n, m in parts) / count, 2) if count else None,
        )
    return Feedback(region, answers, dict(ratings), by_occasion, dict(obstacles), tuple(quotes))


def satisfaction(feedback: Feedback) -> Satisfaction:
    ratings = {r: feedback.ratings.get(r, 0) for r in range(1, 6)}
    rated = sum(ratings.values())
    mean = round(sum(r * n for r, n in ratings.items()) / rated, 2) if rated else None
    ordered = [o for o in OCCASIONS if o in feedback.by_occasion] + sorted(
        o for o in feedback.by_occasion if o not in OCCASIONS
    )
    return Satisfaction(
        answers=feedback.answers,
        mean=mean,
        by_rating=ratings,
        by_occasion={o: feedback.by_occasion[o] for o in ordered},
    )


def frequent_obstacles(
    now: Mapping[tuple[str, str], int],
    before: Mapping[tuple[str, str], int],
    per_market: int = 3,
) -> list[ObstacleRow]:
    """The most frequent obstacles of each market (most named first; markets by how often
    their obstacles were named), with the previous period's count of the same pair."""
    by_market: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (market, obstacle), count in now.items():
        if count:
            by_market[market].append((obstacle, count))
    rows: list[ObstacleRow] = []
    markets = sorted(by_market, key=lambda m: (-sum(c for _, c in by_market[m]), m))
    for market in markets:
        named = sum(c for _, c in by_market[market])
        top = sorted(by_market[market], key=lambda oc: (-oc[1], oc[0]))[:per_market]
        rows += [
            ObstacleRow(
                market,
                obstacle,
                OBSTACLES.get(obstacle, obstacle),
                count,
                before.get((market, obstacle), 0),
                named,
            )
            for obstacle, count in top
        ]
    return rows


def recommendations(
    targets: Sequence[TargetRow],
    obstacles: Sequence[ObstacleRow],
    trends: Sequence[TrendRow],
    sat: Satisfaction,
) -> list[str]:
    """Policy recommendations drawn from the figures: each names the data it rests on."""
    said: list[str] = []
    seen_markets: set[str] = set()
    for row in obstacles:
        if row.market in seen_markets:
            continue  # the market's most frequent obstacle leads; the table lists the rest
        seen_markets.add(row.market)
        change = (
            f"up from {row.previous}"
            if row.count > row.previous
            else f"down from {row.previous}"
            if row.count < row.previous
            else "as in the previous period"
        )
        said.append(
            f"{row.market}: {row.label.lower()} is the obstacle SMEs met most in this market "
            f"(named {row.count} times of {row.answers_in_market} obstacles named for it; "
            f"{change}). Recommended: {REMEDIES.get(row.obstacle, REMEDIES['other'])}."
        )
    for t in targets:
        if not t.met and t.at_least:
            said.append(
                f"{t.label}: {t.reached} reached against a target of {t.target} "
                f"({t.share} %). Plan the remaining {t.target_value - t.reached} in the "
                f"next period."
            )
    for trend in trends:
        if trend.previous and trend.current < trend.previous * 0.8:
            said.append(
                f"{trend.label} fell from {trend.previous} to {trend.current} against the "
                f"previous period: ask the regions concerned why."
            )
    for occasion, (count, mean) in sat.by_occasion.items():
        if count and mean is not None and mean < 3:
            said.append(
                f"{OCCASIONS.get(occasion, occasion)}: rated {mean} of 5 on average "
                f"({count} answers): review how they are run."
            )
    return said


def target_rows(figures: RegionFigures) -> list[TargetRow]:
    rows = []
    for t in TARGETS:
        reached = figures.indicators.get(t.key, 0)
        rows.append(
            TargetRow(
                t.key,
                t.label,
                t.shown,
                t.value,
                reached,
                t.met_by(reached),
                round(100 * reached / t.value) if t.value else 0,
                t.comparison == "at_least",
            )
        )
    return rows


def trend_rows(current: RegionFigures, previous: RegionFigures) -> list[TrendRow]:
    labels = {t.key: t.label for t in TARGETS}
    return [
        TrendRow(labels[k], current.indicators.get(k, 0), previous.indicators.get(k, 0))
        for k in INDICATORS
    ]


def monitoring_report(
    scope: Scope,
    period: Period,
    made_at: datetime,
    figures: Sequence[RegionFigures],
    previous_figures: Sequence[RegionFigures],
    feedback: Sequence[Feedback],
    previous_feedback: Sequence[Feedback],
) -> MonitoringReport:
    """The report for one region (``figures`` holds its counts alone) or the network (every
    region's): figures are added up, answers counted, recommendations drawn."""
    name = "network" if scope.network else scope.region
    total, before = summed(figures, name), summed(previous_figures, name)
    said, said_before = feedback_summed(feedback, name), feedback_summed(previous_feedback, name)
    targets = target_rows(total)
    regions = tuple(sorted({f.region for f in figures}))
    partners = {other for f in figures for other in f.cooperation}
    matrix_regions = tuple(sorted(set(regions) | partners))
    cooperation = {
        (f.region, other): count for f in figures for other, count in f.cooperation.items()
    }
    sat = satisfaction(said)
    obstacles = frequent_obstacles(said.obstacles, said_before.obstacles)
    trends = trend_rows(total, before)
    held = total.meetings.get("meetings_held", 0)
    possible = total.meetings.get("cooperation_possible", 0)
    return MonitoringReport(
        scope=scope,
        period=period,
        previous_period=period.previous(),
        made_at=made_at,
        regions=regions,
        feedback_regions=tuple(sorted({f.region for f in feedback})),
        quoted_regions=tuple(sorted({f.region for f in feedback if f.words})),
        targets=targets,
        funnel={s: total.funnel.get(s, 0) for s in STAGES},
        meetings={s: total.meetings.get(s, 0) for s in MEETING_STEPS},
        outcomes={"cooperation_possible": possible, "no_cooperation_yet": max(held - possible, 0)},
        cooperation_regions=matrix_regions,
        cooperation=cooperation,
        satisfaction=sat,
        obstacles=obstacles,
        trends=trends,
        quotes=sorted(said.quotes, key=lambda q: (q.answered_on, q.occasion, q.text)),
        recommendations=recommendations(targets, obstacles, trends, sat),
    )
