"""Loading a calendar through the bus: `mapnet events import FILE` (CSV, JSON or .ics) and the
demo calendar. Each record becomes one publish_event under its publisher's partner id and
external id, so importing a file again updates entries instead of adding copies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import events as c
from mapnet.runtime import importer
from mapnet.runtime.bus import BusClient
from mapnet.runtime.importer import Report, Row, RowOrProblem

from ..adapters.ical import read_ics

_IMPORT_NAMESPACE = uuid.UUID("c1e6a0f4-8b2d-4d8e-9f3a-7a5b6c4d2e10")
LIST_COLUMNS = ("clusters", "topics")


@dataclass
class Defaults:
    """What a file may leave out: an .ics has no partner id, kind or country of its own."""

    partner_id: str | None = None
    kind: str | None = None
    country: str | None = None
    timezone: str | None = None

    def apply(self, row: Row) -> Row:
        for name in ("partner_id", "kind", "country", "timezone"):
            if row.get(name) in (None, "") and (value := getattr(self, name)):
                row[name] = value
        return row


def read_rows(path: Path, notes: list[str] | None = None) -> Iterable[RowOrProblem]:
    if path.suffix.lower() in (".ics", ".ical", ".ifb"):
        return read_ics(path.read_bytes())
    return importer.read_rows(path, lambda row: importer.split_lists(row, LIST_COLUMNS), notes)


def loader(defaults: Defaults) -> importer.Loader:
    async def load(
        client: BusClient,
        region: str,
        rows: Iterable[RowOrProblem],
        progress: Any = None,
        rejected: Any = None,
    ) -> Report:
        async def publish(row: Row) -> str:
            entry = c.PublishEvent.model_validate(defaults.apply(row))
            key = f"{entry.partner_id}:{entry.external_id}:{entry.model_dump_json()}"
            command_id = str(uuid.uuid5(_IMPORT_NAMESPACE, key))
            published = await client.call(c.PUBLISH_EVENT, entry, region, id=command_id)
            return published.event_id

        return await importer.load(rows, publish, progress, rejected)

    return load
