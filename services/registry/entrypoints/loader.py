"""Loading SMEs in bulk through the bus: `mapnet registry import FILE` and the demo data.

Each row becomes one register_sme command whose id is derived from the row's country and
registration number, so importing the same file again neither loses nor doubles anything: the
registry answers a repeated command with its first answer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from contracts import registry as c
from contracts import registry_file
from mapnet.runtime import importer
from mapnet.runtime.bus import BusClient
from mapnet.runtime.importer import Report, Row, RowOrProblem


def read_rows(path: Path, notes: list[str] | None = None) -> Iterator[RowOrProblem]:
    return importer.read_rows(path, registry_file.csv_row, notes)


async def load(
    client: BusClient,
    region: str,
    rows: Iterable[RowOrProblem],
    progress: Any = None,
    rejected: Any = None,
) -> Report:
    async def register(row: Row) -> str:
        sme = c.RegisterSme.model_validate(row)
        view = await client.call(c.REGISTER_SME, sme, region, id=registry_file.command_id(sme))
        return view.sme_id

    return await importer.load(rows, register, progress, rejected)
