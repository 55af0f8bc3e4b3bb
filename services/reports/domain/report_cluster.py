"""The cluster report, computed from plain inputs: one cluster's SMEs (by country, size and growth
class, what they offer and seek), its meetings and their outcomes, its events and success stories,
and the regions that cooperate most in it. No I/O here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from .report import MEETING_STEPS, OUTCOMES, Period, Scope, Table

SIZE_CLASSES = ("micro", "small", "medium", "not_sme", "unknown")
GROWTH_CLASSES = ("gazelle", "high_growth", "neither", "unknown")
TOP_KEYWORDS = 15


@dataclass(frozen=True)
class ClusterSme:
    """An SME of the cluster without its name: where it is, its classes, the keywords of the
    profiles it publishes (offers: business and technology offers; seeks: the requests)."""

    region: str
    country: str
    size_class: str
    growth_class: str
    offers: tuple[str, ...] = ()
    seeks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterEvent:
    title: str
    kind: str
    starts_on: date
    country: str
    region: str


@dataclass(frozen=True)
class ClusterStory:
    title: str
    happened_on: date
    region: str
    agreement_type: str


@dataclass(frozen=True)
class ClusterMeetings:
    """The cluster's meetings: counts by step and outcome, and the contacts each region's SMEs
    of the cluster were brokered (with SMEs of any region)."""

    steps: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    by_region: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterReport:
    cluster: str
    scope: Scope
    period: Period
    made_at: datetime
    smes: int
    by_country: dict[str, int]
    by_size: dict[str, int]
    by_growth: dict[str, int]
    offers: list[tuple[str, int]]
    seeks: list[tuple[str, int]]
    meetings: dict[str, int]
    outcomes: dict[str, int]
    events: list[ClusterEvent]
    stories: list[ClusterStory]
    story_count: int
    cooperating: list[tuple[str, int]]
    smes_known: bool = True
    # How many of the SMEs' profiles the keywords come from (the first ones read, at most a
    # few hundred; every SME is counted in the other tables).
    keywords_of: int = 0

    @property
    def title(self) -> str:
        return f"Cluster report: {self.cluster}, {self.scope.name}"

    def tables(self) -> dict[str, Table]:
        return {
            "by_country": Table(
                "SMEs by country", ("country", "smes"), list(self.by_country.items())
            ),
            "by_size": Table(
                "SMEs by size class", ("size_class", "smes"), list(self.by_size.items())
            ),
            "by_growth": Table(
                "SMEs by growth class", ("growth_class", "smes"), list(self.by_growth.items())
            ),
            "offers": Table("What they offer (top keywords)", ("keyword", "smes"), self.offers),
            "seeks": Table("What they seek (top keywords)", ("keyword", "smes"), self.seeks),
            "meetings": Table("Meetings", ("step", "meetings"), list(self.meetings.items())),
            "outcomes": Table(
                "Meeting outcomes",
                ("outcome", "meetings"),
                [(k.replace("_", " "), v) for k, v in self.outcomes.items()],
            ),
            "events": Table(
                "Events",
                ("date", "kind", "title", "country", "region"),
                [
                    (
                        e.starts_on.isoformat(),
                        e.kind.replace("_", " "),
                        e.title,
                        e.country,
                        e.region,
                    )
                    for e in self.events
                ],
            ),
            "stories": Table(
                "Success stories",
                ("date", "title", "agreement", "region"),
                [
                    (
                        s.happened_on.isoformat(),
                        s.title,
                        s.agreement_type.replace("_", " "),
                        s.region,
                    )
                    for s in self.stories
                ],
            ),
            "cooperating": Table(
                "Regions that cooperate most (contacts brokered for their SMEs of the cluster)",
                ("region", "contacts_brokered"),
                list(self.cooperating),
            ),
        }


def _keywords(lists: Sequence[tuple[str, ...]]) -> list[tuple[str, int]]:
    """How many SMEs name each keyword (case folded), most named first."""
    counted: Counter[str] = Counter()
    for words in lists:
        counted.update({w.strip().lower() for w in words if w.strip()})
    return sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_KEYWORDS]


def _ordered(counted: Counter[str], order: Sequence[str]) -> dict[str, int]:
    return {k: counted[k] for k in order if counted[k]} | {
        k: counted[k] for k in sorted(counted) if k not in order
    }


def cluster_report(
    cluster: str,
    scope: Scope,
    period: Period,
    made_at: datetime,
    smes: Sequence[ClusterSme],
    meetings: ClusterMeetings,
    events: Sequence[ClusterEvent],
    stories: Sequence[ClusterStory],
    story_count: int | None = None,
    smes_known: bool = True,
    keywords_of: int | None = None,
) -> ClusterReport:
    """``story_count``: the success stories counted in the figures when their titles are not
    at hand (else the stories given); ``smes_known``: False when the SMEs could not be read
    (a role that may not list them)."""
    by_country = Counter(s.country for s in smes)
    return ClusterReport(
        cluster=cluster,
        scope=scope,
        period=period,
        made_at=made_at,
        smes=len(smes),
        by_country=dict(sorted(by_country.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_size=_ordered(Counter(s.size_class for s in smes), SIZE_CLASSES),
        by_growth=_ordered(Counter(s.growth_class for s in smes), GROWTH_CLASSES),
        offers=_keywords([s.offers for s in smes]),
        seeks=_keywords([s.seeks for s in smes]),
        meetings={k: meetings.steps.get(k, 0) for k in MEETING_STEPS},
        outcomes={k: meetings.outcomes.get(k, 0) for k in OUTCOMES},
        events=sorted(
            (e for e in events if period.holds(e.starts_on)), key=lambda e: (e.starts_on, e.title)
        ),
        stories=(
            told := sorted(
                (s for s in stories if period.holds(s.happened_on)),
                key=lambda s: (s.happened_on, s.title),
            )
        ),
        story_count=len(told) if story_count is None else story_count,
        smes_known=smes_known,
        keywords_of=len(smes) if keywords_of is None else keywords_of,
        cooperating=sorted(
            ((r, n) for r, n in meetings.by_region.items() if n), key=lambda rn: (-rn[1], rn[0])
        )[:10],
    )
