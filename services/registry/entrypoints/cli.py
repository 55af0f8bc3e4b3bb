"""`mapnet registry …` commands and the registry's part of `mapnet demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapnet.runtime import importer
from mapnet.runtime.importer import Report
from mapnet.runtime.settings import Settings

from .demo import demo_smes
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
    report = importer.run(url, home, "SMEs", list(read_rows(file)), load)
    if report.rejected:
        raise typer.Exit(1)


def load_demo(nats_url: str, region: str) -> Report:
    return importer.run(nats_url, region, "SMEs", list(enumerate(demo_smes(), start=1)), load)
