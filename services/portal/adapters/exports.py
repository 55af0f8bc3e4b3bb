"""Tables as files to download: CSV and XLSX (openpyxl). A text cell that a spreadsheet would run
as a formula (``= + - @``, or a tab or carriage return) is kept as text in both, by the
runtime's one rule (``mapnet.runtime.spreadsheet.safe_cell``); numbers stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from mapnet.runtime.spreadsheet import safe_cell

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel's own limit on a sheet's name, and the characters it refuses in one.
_SHEET_NAME = 31
_NOT_IN_SHEET_NAMES = str.maketrans({c: " " for c in "[]:*?/\\"})


@dataclass(frozen=True)
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


def _number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def csv_bytes(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in table.headers])
    writer.writerows([safe_cell(v) for v in row] for row in table.rows)
    # With a byte order mark: Excel reads UTF-8 (names like Müller OÜ) only with one.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(*tables: Table) -> bytes:
    """One sheet per table; every text cell written as text (never a formula), numbers as
    numbers."""
    book = Workbook(write_only=True)
    for table in tables:
        sheet = book.create_sheet(table.title.translate(_NOT_IN_SHEET_NAMES)[:_SHEET_NAME])
        for row in [table.headers, *table.rows]:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value if _number(value) else safe_cell(value))
                if not _number(value):
                    cell.data_type = "s"  # openpyxl takes a text starting with = as a formula
                cells.append(cell)
            sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
