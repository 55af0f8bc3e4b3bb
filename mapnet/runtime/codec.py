"""Envelope codec: build, encode and decode CloudEvents envelopes and typed error replies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contracts.envelope import (
    ERROR_TYPE,
    Envelope,
    ErrorBody,
    ErrorCode,
    ErrorReply,
    new_id,
    utcnow,
)
from contracts.operations import Operation
from mapnet.runtime import tracing

M = TypeVar("M", bound=BaseModel)

# Held here because pydantic caches a parametrised generic only weakly: without a strong
# reference the class was collected and built again (a tenth of a refusal's CPU).
ErrorEnvelope = Envelope[ErrorReply]


def source(region: str, service: str) -> str:
    return f"mapnet/{region}/{service}"


def make_envelope(
    op: Operation[M, Any],
    data: M,
    *,
    region: str,
    source: str,
    correlationid: str | None = None,
    subject: str | None = None,
    id: str | None = None,
    **extensions: Any,
) -> Envelope[M]:
    ident = id or new_id()
    if "traceparent" not in extensions and (traceparent := tracing.current_traceparent()):
        extensions["traceparent"] = traceparent  # CloudEvents' distributed tracing extension
    return op.envelope(
        id=ident,
        source=source,
        type=op.type,
        time=utcnow(),
        subject=subject,
        correlationid=correlationid or ident,
        region=region,
        data=data,
        **extensions,
    )


def reply_envelope(
    op: Operation[Any, Any], data: BaseModel, *, region: str, source: str, correlationid: str
) -> bytes:
    assert op.reply_envelope is not None, f"{op.name} has no reply"
    env = op.reply_envelope(
        id=new_id(),
        source=source,
        type=op.reply_type,
        time=utcnow(),
        correlationid=correlationid,
        region=region,
        data=data,
    )
    return encode(env)


def error_envelope(
    body: ErrorBody, *, region: str, source: str, correlationid: str | None = None
) -> bytes:
    ident = new_id()
    env = ErrorEnvelope(
        id=ident,
        source=source,
        type=ERROR_TYPE,
        time=utcnow(),
        correlationid=correlationid or ident,
        region=region,
        data=ErrorReply(error=body),
    )
    return encode(env)


def encode(model: BaseModel) -> bytes:
    return model.model_dump_json(exclude_none=False).encode()


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(body)"


def explain_invalid(raw: bytes, exc: ValidationError, skip_loc: int = 0) -> ErrorBody:
    """Turn a validation failure of a request body into the typed error a client can act on.

    ``skip_loc`` drops leading parts of the error location that name the handler's parameter
    rather than the document.
    """
    try:
        json.loads(raw)
    except RecursionError:
        return too_deep()
    except (ValueError, UnicodeDecodeError) as bad_json:
        return ErrorBody(
            code="invalid_json",
            message=f"the body is not JSON: {bad_json}",
            details={"fields": [{"field": "(body)", "message": str(bad_json), "type": "json"}]},
        )
    fields = [
        {
            "field": _field_path(tuple(err["loc"][skip_loc:])),
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    unknown_type = any(f["field"] == "type" for f in fields)
    return invalid_fields(fields, "unknown_type" if unknown_type else "validation_failed")


def invalid_fields(
    fields: list[dict[str, str]], code: ErrorCode = "validation_failed"
) -> ErrorBody:
    """The refusal that names every bad field: ``fields`` as (field, message, type)."""
    names = ", ".join(sorted({f["field"] for f in fields}))
    return ErrorBody(code=code, message=f"invalid fields: {names}", details={"fields": fields})


def with_rule_problems(
    body: ErrorBody, raw: bytes, rules: Callable[[Any], list[dict[str, str]]]
) -> ErrorBody:
    """The schema's refusal with the problems a service's own rules find in the same body."""
    try:
        data = json.loads(raw).get("data")
        found = rules(data) if isinstance(data, dict) else []
    except Exception:
        return body
    fields = list(body.details.get("fields", []))
    named = {f["field"] for f in fields}
    fields += [f for f in found if f["field"] not in named]
    return invalid_fields(fields, body.code)


def too_deep() -> ErrorBody:
    """The answer to a body nested deeper than Python's parser goes: not JSON we read."""
    reason = "the body nests arrays or objects too deeply to be read"
    return ErrorBody(
        code="invalid_json",
        message=f"the body is not JSON: {reason}",
        details={"fields": [{"field": "(body)", "message": reason, "type": "json"}]},
    )


def correlation_id_of(raw: bytes) -> str | None:
    """The correlation id of a request that could not be decoded, if it can be read at all."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    value = doc.get("correlationid") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def decode(op: Operation[M, Any], raw: bytes) -> Envelope[M]:
    """Decode and validate one message of an operation; raises ValidationError."""
    return op.envelope.model_validate_json(raw)


def is_error(reply: dict[str, Any]) -> bool:
    return reply.get("type") == ERROR_TYPE or "error" in (reply.get("data") or {})
