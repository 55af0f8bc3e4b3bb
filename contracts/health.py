"""The health query every service answers."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field

from .access import EVERYONE
from .envelope import Payload
from .operations import Operation, query


class HealthCheck(Payload):
    """Asks a service how it is; carries nothing."""


class Dependency(Payload):
    ok: bool
    detail: str = ""


class HealthStatus(Payload):
    service: str
    version: str
    region: str
    status: Literal["ok", "degraded", "starting"] = Field(
        description="starting: the process answers health but may not yet take every request"
    )
    nats: Dependency
    mongo: Dependency
    instance: str = Field(description="Which process answered: host and pid")
    http_url: str | None = Field(
        default=None, description="Where the service serves HTTP, if it does (the portal)"
    )


@cache
def health_query(service: str) -> Operation[HealthCheck, HealthStatus]:
    """The health query of one service (declared once, whatever asks for it first)."""
    return query(
        service,
        "health",
        HealthCheck,
        HealthStatus,
        f"Health of the {service} service",
        roles=EVERYONE,
        network=True,
    )
