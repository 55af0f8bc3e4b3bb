"""The SME import file that MAP offices and partner systems hand over (CSV, JSON or JSON Lines),
and how each of its rows becomes one ``register_sme`` command (or one row of a ``register_smes``
batch, whose row id is the same command id). Shared by the registry's command
line and the portal's upload, so that the same file loads the same way through either.

CSV columns are the fields of ``register_sme``; ``nace_codes``, ``clusters`` and ``keywords``
hold several values separated by semicolons; ``share_with_network`` is 1/true/yes; one year's
figures come as ``figure_year`` with ``staff_headcount``, ``turnover_eur``,
``balance_sheet_eur`` and ``export_share``."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from .registry import RegisterSme

_IMPORT_NAMESPACE = uuid.UUID("0f4a4c8e-5a0e-4c55-8f0e-2b7d9a1c6e33")
LIST_COLUMNS = ("nace_codes", "clusters", "keywords")
FIGURE_COLUMNS = ("staff_headcount", "turnover_eur", "balance_sheet_eur", "export_share")


def csv_row(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row's cells as the command's fields (lists split, the yes/no read, figures put
    together); a JSON record is given as it is."""
    for column in LIST_COLUMNS:
        if isinstance(row.get(column), str):
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


def command_id(row: RegisterSme) -> str:
    """The same row imported again is the same command; its content is part of the id, so an id
    guessed from the public registration number alone cannot be taken first with other data."""
    number = row.registration_number.upper().replace(" ", "")
    content = hashlib.sha256(row.model_dump_json().encode()).hexdigest()
    return str(uuid.uuid5(_IMPORT_NAMESPACE, f"{row.country}:{number}:{content}"))
