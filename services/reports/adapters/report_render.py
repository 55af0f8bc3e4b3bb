"""A report as HTML (Jinja2 templates, charts as SVG), PDF (WeasyPrint) and CSV (each table one
file; every table together as a zip of them)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from mapnet.runtime.spreadsheet import safe_cell

from ..domain.report import MEETING_LABELS, OBSTACLES, STAGES, MonitoringReport, Table
from ..domain.report_cluster import ClusterReport
from . import report_charts

Format = Literal["html", "html_fragment", "pdf", "csv"]
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Rendered:
    media_type: str
    filename: str
    content: bytes


class UnknownTable(ValueError):
    def __init__(self, table: str, known: list[str]) -> None:
        super().__init__(f"no table {table!r}; the report has {', '.join(known)}")
        self.table, self.known = table, known


def monitoring_charts(report: MonitoringReport) -> dict[str, str]:
    obstacles = report.obstacles[:12]
    sat = report.satisfaction
    return {
        "targets": report_charts.against_targets(
            [t.label for t in report.targets],
            [t.reached for t in report.targets],
            [t.target_value for t in report.targets],
        ),
        "funnel": report_charts.bars(list(STAGES), [report.funnel[s] for s in STAGES], "SMEs"),
        "meetings": report_charts.bars(
            [MEETING_LABELS[k] for k in report.meetings], list(report.meetings.values())
        ),
        "cooperation": report_charts.matrix(report.cooperation_regions, report.cooperation),
        "ratings": report_charts.bars(
            [f"rating {r}" for r in sat.by_rating], list(sat.by_rating.values()), "answers"
        ),
        "obstacles": report_charts.bars(
            [f"{o.market}: {OBSTACLES.get(o.obstacle, o.obstacle)}" for o in obstacles],
            [o.count for o in obstacles],
            "answers naming it",
        ),
    }


def cluster_charts(report: ClusterReport) -> dict[str, str]:
    return {
        "by_country": report_charts.bars(
            list(report.by_country), list(report.by_country.values()), "SMEs"
        )
    }


def _body(report: MonitoringReport | ClusterReport, made_by: str | None) -> Markup:
    if isinstance(report, MonitoringReport):
        template, charts = "monitoring_body.html", monitoring_charts(report)
    else:
        template, charts = "cluster_body.html", cluster_charts(report)
    return Markup(
        _env.get_template(template).render(
            report=report, tables=report.tables(), charts=charts, made_by=made_by
        )
    )


def _footer(report: MonitoringReport | ClusterReport) -> str:
    """The page footer's words, inside a CSS string: only characters that cannot end it."""
    text = f"{report.title}, {report.period.start} to {report.period.end}"
    return re.sub(r"[^\w ,.:()/-]", " ", text)


def html(report: MonitoringReport | ClusterReport, made_by: str | None = None) -> str:
    """A whole HTML document, as printed."""
    return _env.get_template("document.html").render(
        report=report, body=_body(report, made_by), footer=_footer(report)
    )


def html_fragment(report: MonitoringReport | ClusterReport, made_by: str | None = None) -> str:
    """The report's section, for a page of the portal to hold."""
    return str(_body(report, made_by))


def pdf(report: MonitoringReport | ClusterReport, made_by: str | None = None) -> bytes:
    from weasyprint import HTML  # imported when a PDF is asked for: it loads Pango

    document: bytes = HTML(string=html(report, made_by), base_url=str(TEMPLATES)).write_pdf()
    return document


# A spreadsheet opening the CSV runs a cell that starts with one of these as a formula
# (=HYPERLINK(...), +cmd|...): SMEs' words, event titles and keywords reach these cells.


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in table.headers])
    writer.writerows([safe_cell(v) for v in row] for row in table.rows)
    return out.getvalue()


def tables_zip(tables: dict[str, Table]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, table in tables.items():
            # Fixed times: the same report zips to the same bytes.
            info = zipfile.ZipInfo(f"{key}.csv", date_time=(2000, 1, 1, 0, 0, 0))
            archive.writestr(info, table_csv(table))
    return out.getvalue()


def file_stem(report: MonitoringReport | ClusterReport) -> str:
    kind = "monitoring" if isinstance(report, MonitoringReport) else f"cluster-{report.cluster}"
    scope = "network" if report.scope.network else report.scope.region
    stem = f"{kind}-{scope}-{report.period.start}-{report.period.end}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem)


def rendered(
    report: MonitoringReport | ClusterReport,
    form: Format,
    table: str | None = None,
    made_by: str | None = None,
) -> Rendered:
    """The report in one format; CSV: the one table named, else every table in a zip."""
    stem = file_stem(report)
    if form == "pdf":
        return Rendered("application/pdf", f"{stem}.pdf", pdf(report, made_by))
    if form == "html":
        return Rendered("text/html", f"{stem}.html", html(report, made_by).encode())
    if form == "html_fragment":
        return Rendered("text/html", f"{stem}.html", html_fragment(report, made_by).encode())
    tables = report.tables()
    if table is None:
        return Rendered("application/zip", f"{stem}-csv.zip", tables_zip(tables))
    if table not in tables:
        raise UnknownTable(table, list(tables))
    return Rendered("text/csv", f"{stem}-{table}.csv", table_csv(tables[table]).encode())
