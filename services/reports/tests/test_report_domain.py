"""The monitoring and cluster reports computed from plain inputs: no servers."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.reports.domain.report import (
    Feedback,
    Period,
    Quote,
    RegionFigures,
    Scope,
    monitoring_report,
)
from services.reports.domain.report_cluster import (
    ClusterEvent,
    ClusterMeetings,
    ClusterSme,
    ClusterStory,
    cluster_report,
)

YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))
MADE = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)


def figures(region: str, n: int, **cooperation: int) -> RegionFigures:
    return RegionFigures(
        region,
        indicators={
            "trained_smes": 10 * n,
            "bilateral_meetings": 50 * n,
            "market_access_points": 1,
        },
        funnel={"identified": 20 * n, "trained": 10 * n, "internationalised": n},
        meetings={
            "contacts_brokered": 60 * n,
            "meetings_held": 50 * n,
            "cooperation_possible": 7 * n,
        },
        cooperation=cooperation,
    )


def said(region: str, ratings: dict[int, int], **obstacles: int) -> Feedback:
    """Answers of meetings; obstacles as market_obstacle=count."""
    count = sum(ratings.values())
    mean = sum(r * n for r, n in ratings.items()) / count
    return Feedback(
        region,
        count,
        ratings,
        {"meeting": (count, mean)},
        {tuple(k.split("_", 1)): n for k, n in obstacles.items()},  # type: ignore[misc]
        (Quote("Met a distributor", "meeting", "DE", 5, date(2026, 2, 1)),)
        if region == "tallinn"
        else (),
    )


def test_the_period_before_a_calendar_year_is_the_year_before_else_as_long_just_before() -> None:
    assert YEAR.previous() == Period(date(2025, 1, 1), date(2025, 12, 31))
    assert Period(date(2026, 3, 1), date(2026, 3, 10)).previous() == Period(
        date(2026, 2, 19), date(2026, 2, 28)
    )


def test_network_report_adds_the_regions_up_and_draws_recommendations() -> None:
    now = [figures("tallinn", 1, berlin=4), figures("berlin", 2, tallinn=4, helsinki=1)]
    before = [figures("tallinn", 2), figures("berlin", 2)]
    feedback = [
        said("tallinn", {5: 1, 2: 1}, DE_regulation_and_certification=2, DE_tax=1),
        said("berlin", {4: 1}, FI_language_and_culture=1),
    ]
    earlier = [said("tallinn", {4: 1}, DE_regulation_and_certification=1)]
    report = monitoring_report(
        Scope("tallinn", network=True), YEAR, MADE, now, before, feedback, earlier
    )
    reached = {t.key: t.reached for t in report.targets}
    assert reached["trained_smes"] == 30 and reached["market_access_points"] == 2
    assert {t.key for t in report.targets if t.met} == {"trained_smes", "bilateral_meetings"}
    assert report.funnel["identified"] == 60 and report.meetings["meetings_held"] == 150
    assert report.outcomes == {"cooperation_possible": 21, "no_cooperation_yet": 129}
    assert report.cooperation[("berlin", "tallinn")] == 4
    assert report.cooperation_regions == ("berlin", "helsinki", "tallinn")
    assert report.satisfaction.answers == 3 and report.satisfaction.mean == 3.67
    assert report.satisfaction.by_occasion == {"meeting": (3, 3.67)}
    de = [o for o in report.obstacles if o.market == "DE"]
    assert [(o.obstacle, o.count, o.previous) for o in de] == [
        ("regulation_and_certification", 2, 1),
        ("tax", 1, 0),
    ]
    assert [q.text for q in report.quotes] == ["Met a distributor"]
    assert report.recommendations[0].startswith("DE: regulation and certification")
    assert any(r.startswith("Brokerage events: 0 reached") for r in report.recommendations)
    trained = next(t for t in report.trends if t.label == "Trained SMEs")
    assert (trained.current, trained.previous) == (30, 40)
    tables = report.tables()
    assert tables["cooperation"].rows[0] == ("berlin", 0, 1, 4)
    assert ("Trained SMEs", "≥ 30", 30, "yes", 100) in tables["targets"].rows


def test_cluster_report_counts_smes_keywords_events_stories_and_pairs() -> None:
    smes = [
        ClusterSme("tallinn", "EE", "micro", "gazelle", ("Lasers", "optics"), ("distribution",)),
        ClusterSme("tallinn", "EE", "small", "neither", ("lasers",), ()),
        ClusterSme("berlin", "DE", "small", "unknown", ("sensors",), ("lasers",)),
    ]
    meetings = ClusterMeetings(
        {"requested": 5, "held": 3},
        {"cooperation_possible": 2},
        {"berlin": 3, "tallinn": 4},
    )
    events = [
        ClusterEvent("Photonics days", "brokerage_event", date(2026, 5, 1), "EE", "tallinn"),
        ClusterEvent("Old", "conference", date(2025, 5, 1), "EE", "tallinn"),
    ]
    stories = [ClusterStory("Laser deal", date(2026, 6, 1), "tallinn", "licence")]
    report = cluster_report(
        "photonics", Scope("tallinn"), YEAR, MADE, smes, meetings, events, stories
    )
    assert report.smes == 3 and report.by_country == {"EE": 2, "DE": 1}
    assert report.by_size == {"micro": 1, "small": 2}
    assert report.offers[0] == ("lasers", 2)
    assert [e.title for e in report.events] == ["Photonics days"]
    assert report.cooperating == [("tallinn", 4), ("berlin", 3)]
    assert set(report.tables()) >= {"by_country", "offers", "seeks", "events", "stories"}
