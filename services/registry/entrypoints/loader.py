"""Loading SMEs in bulk through the bus: `mapnet registry import FILE` and the demo data.

Each row becomes one register_sme command whose id is derived from the row's country and
registration number, so importing the same file again neither loses nor doubles anything: the
registry answers a repeated command with its first answer."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contracts import registry as c
from contracts.errors import Refused
from mapnet.bus import BusClient

_IMPORT_NAMESPACE = uuid.UUID("0f4a4c8e-5a0e-4c55-8f0e-2b7d9a1c6e33")
LIST_COLUMNS = ("nace_codes", "clusters", "keywords")
FIGURE_COLUMNS = ("staff_headcount", "turnover_eur", "balance_sheet_eur", "export_share")


@dataclass
class Report:
    loaded: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)


def command_id(row: c.RegisterSme) -> str:
    key = f"{row.country}:{row.registration_number.upper().replace(' ', '')}"
    return str(uuid.uuid5(_IMPORT_NAMESPACE, key))


def _csv_row(raw: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {k: v for k, v in raw.items() if k and v not in (None, "")}
    for column in LIST_COLUMNS:
        if column in row:
            row[column] = [part.strip() for part in row[column].split(";") if part.strip()]
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


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line, row) for each record; a row that cannot even be read is a message instead."""
    if path.suffix.lower() == ".json":
        try:
            records = json.loads(path.read_text())
        except ValueError as exc:
            yield 0, f"not JSON: {exc}"
            return
        if not isinstance(records, list):
            yield 0, "a JSON import is a list of SMEs"
            return
        for index, record in enumerate(records, start=1):
            yield index, record if isinstance(record, dict) else f"item {index} is not an object"
        return
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, raw in enumerate(csv.DictReader(handle), start=2):
            yield line, _csv_row(raw)


def describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )


async def load(
    client: BusClient,
    region: str,
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    progress: Any = None,
) -> Report:
    report = Report()
    for line, row in rows:
        if isinstance(row, str):
            report.rejected.append((line, row))
            continue
        try:
            sme = c.RegisterSme.model_validate(row)
            view = await client.call(c.REGISTER_SME, sme, region, id=command_id(sme))
        except ValidationError as exc:
            report.rejected.append((line, describe(exc)))
        except Refused as refusal:
            detail = ", ".join(f"{k}={v}" for k, v in refusal.details.items() if k != "fields")
            report.rejected.append((line, f"{refusal.code}: {refusal.message} {detail}".strip()))
        else:
            report.loaded.append((line, view.sme_id))
        if progress:
            progress()
    return report
