"""`mapnet registry …` commands and `mapnet demo`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from mapnet.bus import BusClient

from .demo import demo_smes
from .loader import Report, load, read_rows

app = typer.Typer(help="The SME registry", no_args_is_help=True)
console = Console(stderr=True)


async def _load(nats_url: str, region: str, rows: list[tuple[int, Any]]) -> Report:
    client = await BusClient.connect(nats_url, source=f"mapnet/{region}/registry-import")
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("registering SMEs", total=len(rows))
            return await load(client, region, rows, lambda: progress.advance(task))
    finally:
        await client.close()


def run_load(nats_url: str, region: str, rows: list[tuple[int, Any]]) -> Report:
    report = asyncio.run(_load(nats_url, region, rows))
    for line, reason in report.rejected:
        console.print(f"[red]line {line}[/red]: {reason}")
    console.print(f"{len(report.loaded)} SMEs loaded, {len(report.rejected)} rows rejected")
    return report


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON")],
    region: Annotated[str | None, typer.Option(help="Home region of the SMEs")] = None,
) -> None:
    """Load SMEs from CSV or JSON; bad rows are reported with line and reason. Importing the same
    file again neither loses nor doubles anything."""
    from mapnet.cli import nats_url_for

    url, home = nats_url_for(region)
    report = run_load(url, home, list(read_rows(file)))
    if report.rejected:
        raise typer.Exit(1)


def load_demo(nats_url: str, region: str) -> Report:
    return run_load(nats_url, region, list(enumerate(demo_smes(), start=1)))
