"""Loading SMEs in bulk through the bus: `mapnet registry import FILE` and the demo data.

Each row becomes one register_sme command whose id is derived from the row's country and
registration number, so importing the same file again neither loses nor doubles anything: the
registry answers a repeated command with its first answer."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from contracts import registry as c
from mapnet.runtime import importer
from mapnet.runtime.bus import BusClient
from mapnet.runtime.importer import Report, Row, RowOrProblem

_IMPORT_NAMESPACE = uuid.UUID("0f4a4c8e-5a0e-4c55-8f0e-2b7d9a1c6e33")
LIST_COLUMNS = ("nace_codes", "clusters", "keywords")
FIGURE_COLUMNS = ("staff_headcount", "turnover_eur", "balance_sheet_eur", "export_share")


def command_id(row: c.RegisterSme) -> str:
    """The same row imported again is the same command; its content is part of the id, so an id
    guessed from the public registration number alone cannot be taken first with other data."""
    number = row.registration_number.upper().replace(" ", "")
    content = hashlib.sha256(row.model_dump_json().encode()).hexdigest()
    return str(uuid.uuid5(_IMPORT_NAMESPACE, f"{row.country}:{number}:{content}"))


def _csv_row(row: Row) -> Row:
    importer.split_lists(row, LIST_COLUMNS)
    if "share_with_network" in row:
        row["share_with_network"] = row["share_with_network"].strip().lower() in {
            "1",
            "true",
            "yes",
        }
    if "figure_year" in row:
        figure = {"year": row.pop("figure_year")}
        figure |= {col: row.pop(col) for col in FIGURE_COLUMNS if col in row}
        row["figures"] = [figure]
    return row


def read_rows(path: Path, notes: list[str] | None = None) -> Iterator[RowOrProblem]:
    return importer.read_rows(path, _csv_row, notes)


async def load(
    client: BusClient,
    region: str,
    rows: Iterable[RowOrProblem],
    progress: Any = None,
    rejected: Any = None,
) -> Report:
    async def register(row: Row) -> str:
        sme = c.RegisterSme.model_validate(row)
        view = await client.call(c.REGISTER_SME, sme, region, id=command_id(sme))
        return view.sme_id

    return await importer.load(rows, register, progress, rejected)
