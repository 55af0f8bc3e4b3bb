"""How a service makes itself known to the runtime, the CLI, the supervisor, `mapnet status`, the
local test network and the hub's permissions: one ``ServiceDeclaration`` per service package,
registered as a Python entry point in the ``mapnet.services`` group of its distribution::

    [project.entry-points."mapnet.services"]
    registry = "services.registry.declaration:SERVICE"

The runtime imports no service by name; it reads this table. A fifth service is a new package
and one such line."""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic_settings import BaseSettings

import contracts  # noqa: F401  (every operation of contracts/ is in the catalogue)
from contracts.audit import audit_query
from contracts.health import health_query
from contracts.operations import CATALOGUE

if TYPE_CHECKING:
    import typer

    from .service import Runtime

ENTRY_POINT_GROUP = "mapnet.services"


class DeclarationError(RuntimeError):
    """An entry point of the ``mapnet.services`` group that does not declare a service."""


@dataclass(frozen=True)
class ServiceDeclaration:
    """Where a callable is asked for, a ``"package.module:name"`` string names it instead, and
    is imported only when used: `mapnet status` imports no service's routes or CLI code."""

    name: str
    summary: str
    # Registers the service's routes, consumers, publishers and start/stop hooks on its runtime.
    build: Callable[[Runtime], None] | str
    # The service's own settings (read from the environment), if it has any.
    settings: type[BaseSettings] | None = None
    # `mapnet <name> …` sub-commands (or `mapnet <cli_name> …`): a typer app.
    cli: typer.Typer | str | None = None
    cli_name: str | None = None
    # Loads the service's part of the demo data set into a running region (NATS URL, region).
    demo: Callable[[str, str], Any] | str | None = None
    # Services whose demo data this one's builds on (loaded first).
    demo_after: tuple[str, ...] = ()
    # Fields of its commands and answers that name the record they are about: cached answers
    # about a record are found (and forgotten, on erasure) by it.
    record_fields: tuple[str, ...] = ()
    # The commands and queries of other services it sends while it runs (operation keys,
    # ``"<service>.<kind>.<name>"`` of contracts/), in its own region: its NATS user may publish
    # these and no others (mapnet/federation/accounts.py). What its command line and demo data
    # send goes as the operator, not as the service.
    asks: tuple[str, ...] = ()

    def build_routes(self, rt: Runtime) -> None:
        _resolved(self.build)(rt)

    def commands(self) -> typer.Typer | None:
        return None if self.cli is None else _resolved(self.cli)

    def load_demo(self, nats_url: str, region: str) -> None:
        if self.demo is not None:
            _resolved(self.demo)(nats_url, region)


def _resolved(target: Any) -> Any:
    return pkgutil.resolve_name(target) if isinstance(target, str) else target


@cache
def declared() -> dict[str, ServiceDeclaration]:
    """Every installed service, by name, in name order."""
    found: dict[str, ServiceDeclaration] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        declaration = point.load()
        if not isinstance(declaration, ServiceDeclaration) or declaration.name != point.name:
            raise DeclarationError(
                f"entry point {point.name} = {point.value} is not the ServiceDeclaration "
                f"of a service named {point.name!r}"
            )
        _check_asks(declaration)
        found[point.name] = declaration
        health_query(point.name)  # every service answers its health query …
        audit_query(point.name)  # … and keeps an audit trail
    return dict(sorted(found.items()))


def _check_asks(declaration: ServiceDeclaration) -> None:
    wrong = [
        key for key in declaration.asks if key not in CATALOGUE or CATALOGUE[key].kind == "event"
    ]
    if wrong:
        raise DeclarationError(
            f"service {declaration.name} asks {wrong}: not commands or queries of contracts/"
        )


def service_names() -> list[str]:
    return list(declared())


def declaration(name: str) -> ServiceDeclaration:
    try:
        return declared()[name]
    except KeyError:
        raise DeclarationError(
            f"no service {name!r} is installed; installed: {', '.join(declared())}"
        ) from None
