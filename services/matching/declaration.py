"""The matching service declares itself to the runtime (entry point ``mapnet.services:
matching``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mapnet.runtime.declaration import ServiceDeclaration

if TYPE_CHECKING:
    from mapnet.runtime.service import Runtime


def _build(rt: Runtime) -> None:
    from .entrypoints.bus import build

    build(rt)


SERVICE = ServiceDeclaration(
    name="matching",
    summary="Partner search, meeting requests and the schedules of brokerage events",
    build=_build,
    record_fields=("sme_id", "event_id", "meeting_id"),
)
