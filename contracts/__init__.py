"""MAPnet's shared contracts: envelope, errors, subjects, and every service's messages."""

from . import events, finance, guide, health, matching, notify, registry, reports
from .envelope import (
    ERROR_TYPE,
    Envelope,
    ErrorBody,
    ErrorCode,
    ErrorReply,
    FieldError,
    Payload,
    new_id,
    utcnow,
)
from .operations import CATALOGUE, Operation, operations_of
from .subjects import subject

__all__ = [
    "CATALOGUE",
    "ERROR_TYPE",
    "Envelope",
    "ErrorBody",
    "ErrorCode",
    "ErrorReply",
    "FieldError",
    "Operation",
    "Payload",
    "events",
    "finance",
    "guide",
    "health",
    "matching",
    "new_id",
    "notify",
    "operations_of",
    "registry",
    "reports",
    "subject",
    "utcnow",
]
