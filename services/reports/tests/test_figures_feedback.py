"""The SMEs' feedback in the monthly figures (issue 30): each region's snapshot counts its
survey answers (answers, ratings by value and occasion, obstacles per market) without a word of
them, and a network report's satisfaction and obstacles are the sums over the regions'
snapshots; the quotes are the asking region's own, and the report says so."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as c
from services.reports.adapters import report_render
from services.reports.domain import figures
from services.reports.domain.report import Period, Scope, monitoring_report
from services.reports.service_layer.report import (
    network_feedback,
    region_figures,
    snapshot_feedback,
)

MADE = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
HALF = Period(date(2026, 1, 1), date(2026, 6, 30))
WORDS = "Our distributor in Hamburg came from the MAP"


def meetings(region: str) -> mt.MeetingKpis:
    none = mt.MeetingCounts(contacts_brokered=0, meetings_held=0, cooperation_possible=0)
    return mt.MeetingKpis(region=region, total=none, by_region={}, by_cluster={})


Answer = tuple[str, int, list[tuple[str, str]]]  # occasion, rating, [(market, obstacle)]


def summary(region: str, month: str, answers: list[Answer]) -> c.FeedbackSummary:
    """A feedback summary of a month as the feedback part makes it."""
    first, last = figures.month_days(month)
    ratings = Counter(r for _, r, _ in answers)
    named = Counter(pair for _, _, pairs in answers for pair in pairs)
    return c.FeedbackSummary(
        region=region,
        from_date=first,
        to_date=last,
        surveys=len(answers) + 1,
        answers=len(answers),
        rating_mean=None,
        ratings={str(r): ratings.get(r, 0) for r in range(1, 6)},
        by_occasion={
            kind: c.OccasionFigures(
                surveys=sum(k == kind for k, _, _ in answers),
                answers=sum(k == kind for k, _, _ in answers),
                rating_mean=None,
                ratings={
                    str(r): sum(k == kind and x == r for k, x, _ in answers) for r in range(1, 6)
                },
            )
            for kind in c.OCCASION_KINDS
        },
        obstacles=[c.ObstacleCount(market=m, obstacle=o, count=n) for (m, o), n in named.items()],
        quotes=[
            c.Quote(text=WORDS, market="DE", occasion_kind="meeting", rating=5, answered_on=first)
        ],
    )


# Each region's answers by month: what the test counts itself.
ANSWERS = {
    "berlin": {
        "2026-02": [("meeting", 5, [("SE", "tax")]), ("event", 2, [])],
        "2026-05": [("meeting", 4, [("SE", "tax"), ("FI", "finance")])],
    },
    "riga": {"2026-03": [("coaching_stage", 1, [("DE", "company_registration")])]},
    "tallinn": {
        "2025-12": [("meeting", 3, [("SE", "tax")])],  # before the period: the trend's
        "2026-06": [("meeting", 5, [("DE", "company_registration"), ("SE", "tax")])],
    },
}


def snapshot(region: str, month: str) -> c.FiguresSnapshot:
    kpis = rg.Kpis(region=region, period_from=HALF.start, period_to=HALF.end,
                   total=rg.KpiCounts(), by_cluster={})  # fmt: skip
    made = summary(region, month, ANSWERS[region][month])
    return figures.snapshot(region, month, 1, MADE, kpis, meetings(region), made)


def test_a_snapshot_counts_the_months_answers_and_keeps_no_word() -> None:
    shot = snapshot("berlin", "2026-05")
    assert shot.feedback.answers == 1 and shot.feedback.ratings == {"4": 1}
    assert shot.feedback.by_occasion["meeting"].ratings == {"4": 1}
    assert shot.feedback.obstacles == {"SE": {"tax": 1}, "FI": {"finance": 1}}
    assert shot.missing == []
    assert WORDS not in shot.model_dump_json() and "Hamburg" not in json.dumps(
        shot.model_dump(mode="json")
    )
    kpis = rg.Kpis(region="berlin", period_from=HALF.start, period_to=HALF.end,
                   total=rg.KpiCounts(), by_cluster={})  # fmt: skip
    without = figures.snapshot("berlin", "2026-05", 1, MADE, kpis, meetings("berlin"))
    assert without.missing == ["feedback"] and without.feedback == c.FeedbackFigures()


def test_the_networks_satisfaction_and_obstacles_are_the_sums_of_the_snapshots() -> None:
    by_region = {r: [snapshot(r, m) for m in months] for r, months in ANSWERS.items()}
    # A network report asked in tallinn: every region's counts from its snapshots, tallinn's
    # quotes (of its own answers, asked live) beside its counts.
    own = summary("tallinn", "2026-06", ANSWERS["tallinn"]["2026-06"])
    said = network_feedback(by_region, HALF, "tallinn", own)
    before = network_feedback(by_region, HALF.previous(), "tallinn")
    report = monitoring_report(
        Scope("tallinn", network=True), HALF, MADE,
        [region_figures(r, ss, HALF) for r, ss in by_region.items()], [], said, before,
    )  # fmt: skip

    inside = [a for months in ANSWERS.values() for m, aa in months.items() if m >= "2026-01"
              for a in aa]  # fmt: skip
    assert report.satisfaction.answers == len(inside) == 5
    assert report.satisfaction.by_rating == {
        r: sum(x == r for _, x, _ in inside) for r in range(1, 6)
    }
    assert report.satisfaction.mean == round(sum(x for _, x, _ in inside) / len(inside), 2)
    meetings = [x for k, x, _ in inside if k == "meeting"]
    assert report.satisfaction.by_occasion["meeting"] == (
        3,
        pytest.approx(sum(meetings) / 3, abs=0.01),
    )
    named = Counter(pair for _, _, pairs in inside for pair in pairs)
    assert {(o.market, o.obstacle): o.count for o in report.obstacles} == dict(named)
    se_tax = next(o for o in report.obstacles if (o.market, o.obstacle) == ("SE", "tax"))
    assert (se_tax.count, se_tax.previous) == (3, 1)  # December's is the previous period's
    assert report.feedback_regions == ("berlin", "riga", "tallinn")
    assert report.quoted_regions == ("tallinn",) and [q.text for q in report.quotes] == [WORDS]
    html = report_render.rendered(report, "html").content.decode()
    assert "Quoted from the answers given in tallinn only, the region that made this report" in html


def test_another_regions_report_counts_its_snapshots_and_quotes_nothing() -> None:
    shots = [snapshot("berlin", m) for m in ANSWERS["berlin"]]
    said = snapshot_feedback("berlin", shots, HALF)
    report = monitoring_report(Scope("berlin"), HALF, MADE, [region_figures("berlin", shots, HALF)],
                               [], [said], [])  # fmt: skip
    assert report.satisfaction.answers == 3 and report.quotes == [] and report.quoted_regions == ()
    html = report_render.rendered(report, "html").content.decode()
    assert "No words are quoted: an answer's words stay in its region" in html
