"""CloudEvents 1.0 structured envelope and the typed error reply every MAPnet message uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .access import Actor
from .ids import REGION_PATTERN, RegionId

__all__ = ["REGION_PATTERN", "Actor", "RegionId"]

DataT = TypeVar("DataT")

SPEC_VERSION: Literal["1.0"] = "1.0"
ERROR_TYPE = "eu.mapnet.error.v1"


# The longest text a field takes unless it says otherwise (ids, names, reasons): a request
# costs what its bounds allow, never what a sender chooses to send.
MAX_TEXT = 1000


class Payload(BaseModel):
    """Base of every `data` model: unknown fields are refused so a typo never passes silently,
    and no text is longer than its field allows (``MAX_TEXT`` unless the field says)."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, str_max_length=MAX_TEXT, defer_build=True
    )


class Envelope(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 structured-mode JSON document with MAPnet's two extension attributes."""

    # Other CloudEvents extension attributes (traceparent, …) are kept, not refused.
    model_config = ConfigDict(extra="allow", defer_build=True)

    specversion: Literal["1.0"] = SPEC_VERSION
    id: str = Field(min_length=1, max_length=200, description="Unique per source; idempotency key")
    source: str = Field(min_length=1, description="mapnet/<region>/<service> or a partner's URI")
    type: str = Field(min_length=1, description="eu.mapnet.<service>.<name>.v1")
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str = Field(min_length=1, max_length=200)
    region: RegionId = Field(
        description="Where the message belongs: for an event, the region it happened in; for a "
        "command or query, the region it is addressed to (the subject's region, also on a "
        "request sent to another region; the sender is in source and actor.region); for a "
        "reply, the region that answers"
    )
    actor: Actor | None = Field(
        default=None,
        description="Who a command or query acts for (extension attribute); see contracts/access",
    )
    data: DataT


ErrorCode = Literal[
    "invalid_json",
    "unknown_type",
    "validation_failed",
    "invalid_cursor",
    "not_found",
    "conflict",
    "duplicate",
    "id_reused",
    "forbidden",
    "not_implemented",
    "region_unavailable",
    "not_home",
    "internal",
]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. data.legal_name")
    message: str
    type: str


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorReply(BaseModel):
    """`data` of a reply that refuses a command or query."""

    error: ErrorBody


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)
