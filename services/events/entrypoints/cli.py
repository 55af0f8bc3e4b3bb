"""`mapnet events …` commands and the calendar part of `mapnet demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapnet.runtime import importer
from mapnet.runtime.importer import Report, RowOrProblem
from mapnet.runtime.settings import Settings

from .demo import demo_calendar
from .loader import Defaults, loader, read_rows

app = typer.Typer(help="The joint marketing calendar", no_args_is_help=True)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV, JSON or .ics")],
    region: Annotated[str | None, typer.Option(help="Region that publishes the entries")] = None,
    partner: Annotated[
        str | None, typer.Option(help="Publisher id for rows without partner_id (and .ics)")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Kind for entries that name none")] = None,
    country: Annotated[str | None, typer.Option(help="Country for entries that name none")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone for entries that name none")
    ] = None,
) -> None:
    """Load calendar entries; bad records are reported with line (or VEVENT number) and the
    field at fault. Importing again updates the same entries, never adds copies."""
    url, home = Settings().nats_url_for(region)
    defaults = Defaults(partner, kind, country, timezone)
    notes: list[str] = []
    rows = read_rows(file, notes)
    total = None if file.suffix.lower() in (".ics", ".ical", ".ifb") else importer.count_lines(file)
    report = importer.run(url, home, "calendar entries", rows, loader(defaults), total, notes)
    if report.rejected:
        raise typer.Exit(1)


def load_demo(nats_url: str, region: str) -> Report:
    rows: list[RowOrProblem] = list(enumerate(demo_calendar(region), start=1))
    return importer.run(nats_url, region, "calendar entries", rows, loader(Defaults()), len(rows))
