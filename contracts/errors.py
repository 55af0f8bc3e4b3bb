"""The exception a domain or handler raises to refuse a request with a typed error."""

from __future__ import annotations

from typing import Any

from .envelope import ErrorBody, ErrorCode


class Refused(Exception):
    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.details = details

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, details=self.details)


def not_found(what: str, ident: str) -> Refused:
    return Refused("not_found", f"{what} {ident} does not exist", id=ident)


def forbidden_field(message: str, field: str, why: str = "not yours", **details: Any) -> Refused:
    """A refusal for reaching beyond one's own records, naming the field to blame as a
    validation error names its fields (``details.fields``)."""
    fields = [{"field": field, "message": why, "type": "forbidden"}]
    return Refused("forbidden", message, fields=fields, **details)


def conflict(message: str, **details: Any) -> Refused:
    return Refused("conflict", message, **details)
