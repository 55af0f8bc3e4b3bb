"""`mapnet registry …` commands and the registry's part of `mapnet demo`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from mapnet.runtime import importer
from mapnet.runtime.bus import BusClient
from mapnet.runtime.importer import Report
from mapnet.runtime.settings import Settings

from .demo import demo_smes
from .demo_journey import load_journey
from .loader import load, read_rows

app = typer.Typer(help="The SME registry", no_args_is_help=True)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON")],
    region: Annotated[str | None, typer.Option(help="Home region of the SMEs")] = None,
) -> None:
    """Load SMEs from CSV or JSON; bad rows are reported with line and reason. Importing the same
    file again neither loses nor doubles anything."""
    url, home = Settings().nats_url_for(region)
    notes: list[str] = []
    rows = read_rows(file, notes)
    total = importer.count_lines(file)
    report = importer.run(url, home, "SMEs", rows, load, total, notes)
    if report.rejected:
        raise typer.Exit(1)


def load_demo(nats_url: str, region: str) -> Report:
    """The demo's SMEs, then their profiles, journeys, stories and facts (demo_journey)."""
    smes = list(enumerate(demo_smes(), start=1))
    report = importer.run(nats_url, region, "SMEs", smes, load, len(smes))
    asyncio.run(_journey(nats_url, region))
    return report


async def _journey(nats_url: str, region: str) -> None:
    client = await BusClient.connect(
        nats_url, region=region, source=f"mapnet/{region}/demo", role="map_admin"
    )
    try:
        await load_journey(client, region)
    finally:
        await client.close()
