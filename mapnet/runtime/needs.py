"""What a service does on NATS while it runs, learnt from the contracts, its declaration and the
routes it builds: the requests it answers, the events it publishes, the durable consumers it
keeps, the operations of other services it asks. The region's server gives the service's own
user these rights and no others (mapnet/federation/accounts.py), so nothing is kept by hand."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from contracts.operations import CATALOGUE, Operation, operations_of

from . import mongo
from .declaration import declaration
from .service import Runtime
from .settings import Settings
from .subscriptions import Consumed

# The routes are built only to be looked at: a region name and a database nobody reaches.
_LOOK_REGION = "needs"
_NO_DATABASE = "mongodb://127.0.0.1:1"


@dataclass(frozen=True)
class ServiceNeeds:
    service: str
    consumed: tuple[Consumed, ...]
    asks: tuple[Operation[Any, Any], ...]

    @property
    def publishes_events(self) -> bool:
        """It has events of its own: its stream, and a hand in the region's common streams."""
        return any(op.kind == "event" for op in operations_of(self.service))

    @property
    def reads_network(self) -> bool:
        """It reads what other regions share: its process keeps the region's network stream."""
        return any(c.network for c in self.consumed)


@cache
def needs(service: str) -> ServiceNeeds:
    declared = declaration(service)
    # Defaults, not the environment: what a service may do does not depend on where the
    # configuration is written.
    config = declared.settings.model_construct() if declared.settings is not None else None
    rt = Runtime(
        region=_LOOK_REGION,
        service=service,
        settings=Settings.model_construct(),
        mongo=mongo.client(_NO_DATABASE),
        config=config,
        record_fields=declared.record_fields,
    )
    declared.build_routes(rt)
    return ServiceNeeds(
        service=service,
        consumed=tuple(rt.consumed),
        asks=tuple(CATALOGUE[key] for key in declared.asks),
    )
