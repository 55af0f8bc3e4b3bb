"""The monitoring report made from three regions' monthly snapshots (as list_figures answers
them) and a feedback summary, rendered: every figure equals a sum made here from the snapshots,
the PDF's text (pypdf) holds the targets, the figures and the recommendations and no name, and
its first pages are drawn to PNG (pdftoppm) under test-artifacts/reports/."""

from __future__ import annotations

import base64
import csv
import io
import shutil
import subprocess
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from contracts import reports as c
from services.reports.adapters import report_render
from services.reports.domain.report import (
    TARGETS,
    MonitoringReport,
    Period,
    Scope,
    Table,
    monitoring_report,
)
from services.reports.service_layer.report import feedback_of, region_figures

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "reports"
YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))
MADE = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
REGIONS = ("berlin", "helsinki", "tallinn")


def snapshot(region: str, month: str, n: int, to_date: int) -> c.FiguresSnapshot:
    """Month ``month`` of a region: n of each count, and meetings counted to date."""
    others = [r for r in REGIONS if r != region]
    return c.FiguresSnapshot(
        region=region,
        month=month,
        version=1,
        made_at=MADE,
        total=c.FigureCounts(
            identified=4 * n,
            selected=3 * n,
            trained=2 * n,
            coached=n,
            internationalised=n,
            success_stories=n,
            trade_show_presentations=n,
            brokerage_events=1,
            training_courses=1,
        ),
        by_cluster={"photonics": c.FigureCounts(trained=n)},
        meetings_to_date=c.MeetingFigures(
            contacts_brokered=3 * to_date, meetings_held=2 * to_date, cooperation_possible=to_date
        ),
        meetings_by_region_to_date={
            region: c.MeetingFigures(contacts_brokered=to_date),
            others[0]: c.MeetingFigures(contacts_brokered=to_date),
            others[1]: c.MeetingFigures(contacts_brokered=to_date),
        },
    )


def snapshots(region: str, weight: int) -> list[c.FiguresSnapshot]:
    # December 2025 is before the period: its meetings to date are not the period's.
    return [
        snapshot(region, "2025-12", weight, 10 * weight),
        snapshot(region, "2026-03", weight, 15 * weight),
        snapshot(region, "2026-09", 2 * weight, 40 * weight),
    ]


FEEDBACK = c.FeedbackSummary(
    region="tallinn",
    from_date=YEAR.start,
    to_date=YEAR.end,
    surveys=9,
    answers=6,
    rating_mean=3.5,
    ratings={"2": 1, "3": 2, "4": 2, "5": 1},
    by_occasion={"meeting": c.OccasionFigures(surveys=9, answers=6, rating_mean=3.5)},
    obstacles=[
        c.ObstacleCount(market="DE", obstacle="regulation_and_certification", count=4),
        c.ObstacleCount(market="DE", obstacle="tax", count=1),
        c.ObstacleCount(market="FI", obstacle="language_and_culture", count=2),
    ],
    quotes=[
        c.Quote(
            text="The MAP found us a distributor in Hamburg",
            market="DE",
            occasion_kind="meeting",
            rating=5,
            answered_on=date(2026, 5, 2),
        )
    ],
)


def network_report() -> MonitoringReport:
    by_region = {r: snapshots(r, w) for r, w in zip(REGIONS, (1, 2, 3), strict=True)}
    figures = [region_figures(r, ss, YEAR) for r, ss in by_region.items()]
    before = [region_figures(r, ss, YEAR.previous()) for r, ss in by_region.items()]
    return monitoring_report(
        Scope("tallinn", network=True), YEAR, MADE, figures, before, [feedback_of(FEEDBACK)], []
    )


def test_network_figures_are_the_sum_of_the_regions_snapshots() -> None:
    report = network_report()
    in_year = {
        r: [s for s in snapshots(r, w) if s.month.startswith("2026")]
        for r, w in zip(REGIONS, (1, 2, 3), strict=True)
    }
    every = [s for ss in in_year.values() for s in ss]
    last = {r: ss[-1] for r, ss in in_year.items()}
    before = {r: snapshots(r, w)[0] for r, w in zip(REGIONS, (1, 2, 3), strict=True)}
    abroad = sum(
        last[r].meetings_by_region_to_date[o].contacts_brokered
        - before[r].meetings_by_region_to_date[o].contacts_brokered
        for r in REGIONS
        for o in REGIONS
        if o != r
    )
    expected = {
        "trained_smes": sum(s.total.trained for s in every),
        "brokerage_events": sum(s.total.brokerage_events for s in every),
        "training_courses": sum(s.total.training_courses for s in every),
        "market_access_points": 3,
        "success_stories": sum(s.total.success_stories for s in every),
        "contacts_brokered": abroad,
        "bilateral_meetings": sum(
            last[r].meetings_to_date.meetings_held - before[r].meetings_to_date.meetings_held
            for r in REGIONS
        ),
        "trade_show_presentations": sum(s.total.trade_show_presentations for s in every),
    }
    assert {t.key: t.reached for t in report.targets} == expected
    assert report.funnel == {
        k: sum(getattr(s.total, k) for s in every)
        for k in ("identified", "selected", "trained", "coached", "internationalised")
    }
    # The matrix: each region's row holds its contacts with each region in the period.
    assert report.cooperation[("tallinn", "berlin")] == 3 * (40 - 10)


def test_the_pdf_holds_targets_figures_recommendations_and_no_names() -> None:
    report = network_report()
    rendered = report_render.rendered(report, "pdf")
    assert rendered.media_type == "application/pdf"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf_path = ARTIFACTS / "monitoring-network.pdf"
    pdf_path.write_bytes(rendered.content)
    text = " ".join(
        (page.extract_text() or "") for page in PdfReader(io.BytesIO(rendered.content)).pages
    )
    text = " ".join(text.split())
    for target in TARGETS:
        assert target.label in text and target.shown in text
    for row in report.targets:
        assert f"{row.label} {row.target} {row.reached} " in text
    assert "Policy recommendations" in text
    for said in report.recommendations:
        assert " ".join(said.split()[:6]) in text
    assert "DE: regulation and certification is the obstacle SMEs met most" in text
    assert "The MAP found us a distributor in Hamburg" in text  # quoted with consent
    assert "Monitoring report: the network" in text and "2026-01-01 to 2026-12-31" in text
    assert "2027-01-04 08:00 UTC" in text  # when it was made
    assert "@" not in text  # no address of anyone

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian's poppler-utils) is not installed: `make browser` adds it")
    for old in ARTIFACTS.glob("monitoring-network-page-*.png"):
        old.unlink()
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "3", str(pdf_path),
         str(ARTIFACTS / "monitoring-network-page")],
        check=True,
        timeout=120,
    )  # fmt: skip
    pages = sorted(ARTIFACTS.glob("monitoring-network-page-*.png"))
    assert len(pages) == 3 and all(p.stat().st_size > 10_000 for p in pages)


def test_every_table_is_a_csv_and_the_html_names_period_scope_and_time() -> None:
    report = network_report()
    zipped = report_render.rendered(report, "csv")
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        names = archive.namelist()
        targets = list(csv.reader(io.StringIO(archive.read("targets.csv").decode())))
    assert names == [f"{k}.csv" for k in report.tables()]
    assert targets[0] == ["indicator", "target", "reached", "met", "per_cent_of_target"]
    assert len(targets) == 1 + len(TARGETS)
    one = report_render.rendered(report, "csv", "obstacles")
    assert one.content.decode().splitlines()[1] == "DE,Regulation and certification,4,0,up"
    with pytest.raises(report_render.UnknownTable):
        report_render.rendered(report, "csv", "nothing")
    page = report_render.html(report)
    assert "The network (berlin, helsinki, tallinn)" in page
    assert "2026-01-01 to 2026-12-31" in page and "2027-01-04 08:00 UTC" in page
    assert page.count("data:image/svg+xml;base64,") >= 5
    svg = base64.b64decode(page.split("data:image/svg+xml;base64,")[1].split('"')[0])
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg


def test_csv_cells_a_spreadsheet_would_run_as_formulas_stay_text() -> None:
    """An SME's quoted words (or a keyword, an event's title) that start like a formula are
    kept as text in every CSV; numbers, negative ones too, stay numbers."""
    words = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx"]
    table = Table("Quotes", ("quote", "rating"), [(w, 5) for w in words] + [("fine words", -1)])
    rows = list(csv.reader(io.StringIO(report_render.table_csv(table))))
    assert [r[0] for r in rows[1:]] == [f"'{w}" for w in words] + ["fine words"]
    assert [r[1] for r in rows[1:]] == ["5"] * len(words) + ["-1"]
    said = FEEDBACK.model_copy(
        update={"quotes": [FEEDBACK.quotes[0].model_copy(update={"text": "=1+1"})]}
    )
    by_region = {r: snapshots(r, w) for r, w in zip(REGIONS, (1, 2, 3), strict=True)}
    figures = [region_figures(r, ss, YEAR) for r, ss in by_region.items()]
    report = monitoring_report(
        Scope("tallinn", network=True), YEAR, MADE, figures, [], [feedback_of(said)], []
    )
    quotes = report_render.rendered(report, "csv", "quotes").content.decode()
    assert "'=1+1" in quotes and "\n=1+1" not in quotes
