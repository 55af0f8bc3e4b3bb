"""The audit trail every service keeps: each command it accepted, and each request it refused
for a reason other than bad input, with who sent it. Read with ``list_audit`` (each service
answers for its own trail)."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import AwareDatetime, Field

from .access import Actor
from .common import Page
from .envelope import ErrorCode, Payload
from .operations import Operation, query


class ListAudit(Page):
    record_id: str | None = Field(default=None, max_length=200, description="About this record")
    actor_id: str | None = Field(default=None, max_length=200, description="Sent by this actor")
    period_from: AwareDatetime | None = None
    period_to: AwareDatetime | None = None


class AuditEntry(Payload):
    at: AwareDatetime
    service: str
    operation: str
    actor: Actor | None = Field(
        description="Who the request says acted (the runtime believes it only from the region's "
        "own account). Personal data in it is gone after an erasure"
    )
    connection: str | None = Field(
        default=None,
        description="What the NATS server vouched for about the connection the request came "
        "on: PARTNERS/<user> for a partner system (the server's stamp); none for the region's "
        "own services, the portal and the command line",
    )
    record_id: str | None = None
    outcome: Literal["accepted", "pending"] | ErrorCode = Field(
        description="pending: the command was received and its entry written before it ran, "
        "but its outcome was not recorded (the service failed in between); it may have been "
        "carried out"
    )
    reason: str = ""
    correlationid: str
    command_id: str


class AuditPage(Payload):
    items: list[AuditEntry]
    next_cursor: str | None = None


@cache
def audit_query(service: str) -> Operation[ListAudit, AuditPage]:
    """The audit trail of one service (declared once, whatever asks for it first)."""
    return query(
        service,
        "list_audit",
        ListAudit,
        AuditPage,
        f"The {service} service's audit trail, newest first",
        roles=("map_admin", "operator"),
    )
