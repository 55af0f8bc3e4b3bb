"""Loading SMEs in bulk through the bus: `mapnet registry import FILE` and the demo data.

Rows go to the registry in register_smes batches (importer.BATCH_ROWS at a time). Each row's
id is derived from the row's country, registration number and content, so importing the same
file again neither loses nor doubles anything: the registry answers a row registered before
with its SME, and a batch sent before (the same rows, the same batch id) with its first answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from contracts import registry as c
from contracts import registry_file
from contracts.errors import Refused
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
    def prepare(row: Row) -> c.SmeRow:
        sme = c.RegisterSme.model_validate(row)
        return c.SmeRow(id=registry_file.command_id(sme), sme=sme)

    async def register(batch: list[c.SmeRow]) -> list[importer.RowFate]:
        # The same rows are the same batch: a batch sent again is answered as it was first.
        batch_id = str(uuid.uuid5(_BATCH_NAMESPACE, "|".join(row.id for row in batch)))
        data = c.RegisterSmes(rows=batch)
        wait_s = importer.BATCH_TIMEOUT_S
        answer = await importer.sent_again_if_unanswered(
            lambda: client.call(c.REGISTER_SMES, data, region, id=batch_id, timeout_s=wait_s)
        )
        return [_fate(result) for result in answer.rows]

    return await importer.load_in_batches(rows, prepare, register, progress, rejected, size=_size)


_BATCH_NAMESPACE = uuid.UUID("3c1e5f0a-8d2b-4f7e-9b61-0a4d2c9e7f15")


def _size(row: c.SmeRow) -> int:
    return len(row.sme.model_dump_json())


def _fate(result: c.SmeRowResult) -> importer.RowFate:
    """A row's outcome as the report tells it: the SME's id, or its refusal as register_sme
    would have raised it."""
    if result.error is not None:
        return Refused(result.error.code, result.error.message, **result.error.details)
    assert result.sme_id is not None
    return result.sme_id
