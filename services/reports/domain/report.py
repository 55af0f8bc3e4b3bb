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
MEETING_STEPS: tuple[str, ...] = ("requested", "accepted", "declined", "cancelled", "held")
OUTCOMES: tuple[str, ...] = (
    "did_not_take_place",
    "insufficient_interest",
    "informative_no_cooperation",
    "cooperation_possible",
)
OBSTACLES: dict[str, str] = {
    "regulation_certification": "Regulation and certification",
    "company_registration": "Company registration",
    "tax": "Tax",
    "finance": "Finance",
    "language_culture": "Language and culture",
    "finding_partners": "Finding partners",
    "public_procurement": "Public procurement",
    "other": "Other",
}
# What a MAP can do about an obstacle: the recommendation names it beside the count.
REMEDIES: dict[str, str] = {
    "regulation_certification": "publish the market's product rules and certification steps "
    "in the guide and broker contacts with its notified bodies",
    "company_registration": "add a step-by-step registration article and a contact at the "
    "market's business register",
    "tax": "arrange a tax and VAT clinic with the market's chamber",
    "finance": "link the SMEs with the finance offers for export and the market's funders",
    "language_culture": "offer a business-culture course and interpreters at brokerage events",
    "finding_partners": "hold a brokerage event or road show with the market's cluster",
    "public_procurement": "train SMEs on the market's tender portals and joint bids",
    "other": "read the SMEs' own words in the answers and follow up in coaching",
}
OCCASIONS: dict[str, str] = {
    "meeting": "Brokerage meeting",
    "event": "Event",
    "course": "Training course",
    "coaching": "Coaching stage",
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
class Obstacle:
    obstacle: str
    market: str


@dataclass(frozen=True)
class Answer:
    """One survey answer as the report needs it: no person, no company name. ``quote`` is the
    answer's free text only when its author allowed quoting (else None)."""

    region: str
    occasion: str
    answered_on: date
    rating: int
    obstacles: tuple[Obstacle, ...] = ()
    quote: str | None = None
    sme_country: str = ""


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
class Quote:
    text: str
    occasion: str
    sme_country: str
    rating: int


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
                ("step", "meetings"),
                [(step, self.meetings.get(step, 0)) for step in MEETING_STEPS],
            ),
            "outcomes": Table(
                "Meeting outcomes",
                ("outcome", "meetings"),
                [(o.replace("_", " "), self.outcomes.get(o, 0)) for o in OUTCOMES],
            ),
            "cooperation": Table(
                "Cooperation between regions (meetings brokered, by the SMEs' regions)",
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
                ("quote", "occasion", "sme_country", "rating"),
                [
                    (q.text, OCCASIONS.get(q.occasion, q.occasion), q.sme_country, q.rating)
                    for q in self.quotes
                ],
            ),
        }


def summed(figures: Iterable[RegionFigures], region: str) -> RegionFigures:
    """Several regions' (or months') counts added up, under one name."""
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for one in figures:
        for part in ("indicators", "funnel", "meetings", "outcomes", "cooperation"):
            totals[part].update(getattr(one, part))
    return RegionFigures(
        region=region,
        indicators=dict(totals["indicators"]),
        funnel=dict(totals["funnel"]),
        meetings=dict(totals["meetings"]),
        outcomes=dict(totals["outcomes"]),
        cooperation=dict(totals["cooperation"]),
    )


def _mean(ratings: Sequence[int]) -> float | None:
    return round(sum(ratings) / len(ratings), 2) if ratings else None


def satisfaction(answers: Sequence[Answer]) -> Satisfaction:
    by_occasion: dict[str, list[int]] = defaultdict(list)
    for a in answers:
        by_occasion[a.occasion].append(a.rating)
    ordered = [o for o in OCCASIONS if o in by_occasion] + sorted(
        o for o in by_occasion if o not in OCCASIONS
    )
    ratings = [a.rating for a in answers]
    return Satisfaction(
        answers=len(answers),
        mean=_mean(ratings),
        by_rating={r: ratings.count(r) for r in range(1, 6)},
        by_occasion={o: (len(by_occasion[o]), _mean(by_occasion[o])) for o in ordered},
    )


def obstacle_counts(answers: Iterable[Answer]) -> Counter[tuple[str, str]]:
    """(market, obstacle) -> how many answers named it (an answer counts once per pair)."""
    counted: Counter[tuple[str, str]] = Counter()
    for a in answers:
        counted.update({(o.market, o.obstacle) for o in a.obstacles})
    return counted


def frequent_obstacles(
    answers: Sequence[Answer], previous: Sequence[Answer], per_market: int = 3
) -> list[ObstacleRow]:
    """The most frequent obstacles of each market (most named first; markets by how often
    their obstacles were named), with the previous period's count of the same pair."""
    now, before = obstacle_counts(answers), obstacle_counts(previous)
    answers_in: Counter[str] = Counter()
    for a in answers:
        answers_in.update({o.market for o in a.obstacles})
    by_market: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (market, obstacle), count in now.items():
        by_market[market].append((obstacle, count))
    rows: list[ObstacleRow] = []
    markets = sorted(by_market, key=lambda m: (-sum(c for _, c in by_market[m]), m))
    for market in markets:
        top = sorted(by_market[market], key=lambda oc: (-oc[1], oc[0]))[:per_market]
        rows += [
            ObstacleRow(
                market,
                obstacle,
                OBSTACLES.get(obstacle, obstacle),
                count,
                before.get((market, obstacle), 0),
                answers_in[market],
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
            f"({row.count} of {row.answers_in_market} answers naming the market; {change}). "
            f"Recommended: {REMEDIES.get(row.obstacle, REMEDIES['other'])}."
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
                f"{OCCASIONS.get(occasion, occasion)}s were rated {mean} of 5 on average "
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
    answers: Sequence[Answer],
    previous_answers: Sequence[Answer],
) -> MonitoringReport:
    """The report for one region (``figures`` holds its counts alone) or the network (every
    region's): figures are added up, answers counted, recommendations drawn."""
    name = "network" if scope.network else scope.region
    total, before = summed(figures, name), summed(previous_figures, name)
    in_period = [a for a in answers if period.holds(a.answered_on)]
    before_answers = [a for a in previous_answers if period.previous().holds(a.answered_on)]
    targets = target_rows(total)
    regions = tuple(sorted({f.region for f in figures}))
    partners = {other for f in figures for other in f.cooperation}
    matrix_regions = tuple(sorted(set(regions) | partners))
    cooperation = {
        (f.region, other): count for f in figures for other, count in f.cooperation.items()
    }
    sat = satisfaction(in_period)
    obstacles = frequent_obstacles(in_period, before_answers)
    trends = trend_rows(total, before)
    return MonitoringReport(
        scope=scope,
        period=period,
        previous_period=period.previous(),
        made_at=made_at,
        regions=regions,
        targets=targets,
        funnel={s: total.funnel.get(s, 0) for s in STAGES},
        meetings={s: total.meetings.get(s, 0) for s in MEETING_STEPS},
        outcomes={o: total.outcomes.get(o, 0) for o in OUTCOMES},
        cooperation_regions=matrix_regions,
        cooperation=cooperation,
        satisfaction=sat,
        obstacles=obstacles,
        trends=trends,
        quotes=[
            Quote(a.quote, a.occasion, a.sme_country, a.rating)
            for a in sorted(in_period, key=lambda a: (a.answered_on, a.occasion))
            if a.quote
        ],
        recommendations=recommendations(targets, obstacles, trends, sat),
    )
