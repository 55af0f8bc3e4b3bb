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


def conflict(message: str, **details: Any) -> Refused:
    return Refused("conflict", message, **details)
