"""`mapnet events …` commands and the calendar part of `mapnet demo`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from contracts import events as c
from contracts.errors import Refused
from mapnet.runtime import importer
from mapnet.runtime.bus import BusClient
from mapnet.runtime.importer import Report, RowOrProblem
from mapnet.runtime.settings import Settings

from ..service_layer.handlers import entry_id
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
    """The demo calendar's entries that the region does not hold yet: its dates are counted
    from the day of the first load, and a later load (another day) leaves them, and what was
    built on them (registrations, a schedule), as they are."""
    missing = asyncio.run(_missing(nats_url, region, demo_calendar(region)))
    rows: list[RowOrProblem] = list(enumerate(missing, start=1))
    return importer.run(nats_url, region, "calendar entries", rows, loader(Defaults()), len(rows))


async def _missing(nats_url: str, region: str, entries: list[dict[str, Any]]) -> list[Any]:
    client = await BusClient.connect(nats_url, region=region, source=f"mapnet/{region}/demo")
    missing = []
    try:
        for entry in entries:
            event_id = entry_id(region, entry["partner_id"], entry["external_id"])
            try:
                await client.call(c.GET_EVENT, c.GetEvent(event_id=event_id), region)
            except Refused as refused:
                if refused.code != "not_found":
                    raise
                missing.append(entry)
    finally:
        await client.close()
    return missing
