"""Bulk loading through the bus, shared by `mapnet registry import` and `mapnet events import`:
rows are read from CSV or JSON with their line numbers, each becomes one command, and every row
that cannot be loaded is reported with its line and the reason, never skipped silently."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from contracts.errors import Refused
from mapnet.runtime.bus import BusClient

Row = dict[str, Any]
RowOrProblem = tuple[int, Row | str]


@dataclass
class Report:
    loaded: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)


def split_lists(row: Row, columns: Iterable[str]) -> Row:
    """CSV cells holding lists are separated by semicolons."""
    for column in columns:
        if isinstance(row.get(column), str):
            row[column] = [part.strip() for part in row[column].split(";") if part.strip()]
    return row


def read_rows(
    path: Path, shape_csv_row: Callable[[Row], Row] = lambda r: r
) -> Iterator[RowOrProblem]:
    """(line, row) for each record; a row that cannot even be read is a message instead."""
    if path.suffix.lower() == ".json":
        try:
            records = json.loads(path.read_text())
        except ValueError as exc:
            yield 0, f"not JSON: {exc}"
            return
        if not isinstance(records, list):
            yield 0, "a JSON import is a list of records"
            return
        for index, record in enumerate(records, start=1):
            yield index, record if isinstance(record, dict) else f"item {index} is not an object"
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, raw in enumerate(csv.DictReader(handle), start=2):
            row = {k: v for k, v in raw.items() if k and v not in (None, "")}
            yield line, shape_csv_row(row)


def describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


async def load(
    rows: Iterable[RowOrProblem],
    send: Callable[[Row], Awaitable[str]],
    progress: Callable[[], Any] | None = None,
) -> Report:
    """``send`` validates one row, sends its command and returns the id of what it loaded."""
    report = Report()
    for line, row in rows:
        if isinstance(row, str):
            report.rejected.append((line, row))
            continue
        try:
            report.loaded.append((line, await send(row)))
        except ValidationError as exc:
            report.rejected.append((line, describe(exc)))
        except Refused as refusal:
            detail = ", ".join(f"{k}={v}" for k, v in refusal.details.items() if k != "fields")
            fields = "; ".join(
                f"{f['field']}: {f['message']}" for f in refusal.details.get("fields", [])
            )
            reason = f"{refusal.code}: {refusal.message} {fields or detail}".strip()
            report.rejected.append((line, reason))
        if progress:
            progress()
    return report


class Loader(Protocol):
    def __call__(
        self,
        client: BusClient,
        region: str,
        rows: Iterable[RowOrProblem],
        progress: Callable[[], Any] | None = None,
    ) -> Awaitable[Report]: ...


def run(nats_url: str, region: str, noun: str, rows: list[RowOrProblem], loader: Loader) -> Report:
    """Run a loader with a progress bar on stderr, then list every rejected row."""
    console = Console(stderr=True)

    async def go() -> Report:
        client = await BusClient.connect(nats_url, region=region, source=f"mapnet/{region}/import")
        try:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"loading {noun}", total=len(rows))
                return await loader(client, region, rows, lambda: progress.advance(task))
        finally:
            await client.close()

    report = asyncio.run(go())
    for line, reason in report.rejected:
        console.print(f"[red]line {line}[/red]: {reason}", highlight=False)
    console.print(f"{len(report.loaded)} {noun} loaded, {len(report.rejected)} rows rejected")
    return report
