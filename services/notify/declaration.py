"""The notify service declares itself to the runtime (entry point ``mapnet.services: notify``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mapnet.runtime.declaration import ServiceDeclaration

from .settings import NotifySettings

if TYPE_CHECKING:
    from mapnet.runtime.service import Runtime


def _build(rt: Runtime) -> None:
    from .entrypoints.bus import build

    build(rt)


SERVICE = ServiceDeclaration(
    name="notify",
    summary="Mail to people and signed webhooks to partner systems",
    build=_build,
    settings=NotifySettings,
    record_fields=("subscription_id",),
)
