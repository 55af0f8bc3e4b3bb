"""What the runtime's routes share: where an operation's subject is, how AsyncAPI describes
it, and the attributes of a service's runtime that its request and event routes use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faststream.nats import NatsRouter
from nats.js import JetStreamContext

from contracts.operations import Operation
from contracts.subjects import inbox_prefix

if TYPE_CHECKING:
    from .audit import AuditLog
    from .mongo import Database
    from .settings import Settings

# Region placeholder used when the routers are built only to export the AsyncAPI document.
SPEC_REGION = "{region}"


def address(op: Operation[Any, Any], region: str) -> str:
    if region == SPEC_REGION:
        return f"mapnet.{region}.{op.service}.{op.kind}.{op.name}"
    return op.subject(region)


def service_inbox(region: str, service: str) -> str:
    """A service's inbox prefix: the replies to its own requests and JetStream's deliveries to
    its consumers, and nothing else its user may hear. Under the region's prefix, so that
    answers from other regions still find their way back through the hub."""
    return f"{inbox_prefix(region)}.{service}"


def described(op: Operation[Any, Any]) -> str:
    if op.kind == "event":
        if op.network:
            return f"{op.summary}. Shared: copied into every other region of the network."
        return op.summary
    text = op.summary
    if op.network:
        text += ". Other regions may send this across the hub"
    return f"{text}. Roles that may send it: {', '.join(op.roles)}."


class Routes:
    """The part of a service's runtime its routes need (see service.Runtime)."""

    region: str
    service: str
    settings: Settings
    router: NatsRouter
    source: str
    log: Any
    audit: AuditLog
    js: JetStreamContext | None
    reads_network: bool
    consumed: list[Any]
    record_fields: tuple[str, ...]
    rules: dict[str, Any]
    metrics: Any  # metrics.Metrics when the process serves /metrics, else None

    @property
    def db(self) -> Database:
        raise NotImplementedError

    @property
    def queue(self) -> str:
        return f"{self.region}-{self.service}"
