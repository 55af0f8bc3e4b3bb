"""The registry declares itself to the runtime (entry point ``mapnet.services: registry``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mapnet.runtime.declaration import ServiceDeclaration

if TYPE_CHECKING:
    import typer

    from mapnet.runtime.service import Runtime


def _build(rt: Runtime) -> None:
    from .entrypoints.bus import build

    build(rt)


def _cli() -> typer.Typer:
    from .entrypoints.cli import app

    return app


def _demo(nats_url: str, region: str) -> Any:
    from .entrypoints.cli import load_demo

    return load_demo(nats_url, region)


SERVICE = ServiceDeclaration(
    name="registry",
    summary="The SME registry: SMEs, contacts, cooperation profiles, coaching, success stories",
    build=_build,
    cli=_cli,
    demo=_demo,
    record_fields=("sme_id",),
)
