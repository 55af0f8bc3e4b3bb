"""structlog JSON logs: every line carries region, service and correlation id."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from mapnet.runtime import tracing

_REQUIRED = ("region", "service", "correlation_id")


def _ensure_keys(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in _REQUIRED:
        event.setdefault(key, None)
    return event


def configure(level: str = "INFO") -> None:
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _ensure_keys,
        tracing.trace_id,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get(**bound: Any) -> Any:
    return structlog.get_logger().bind(**bound)


bound = structlog.contextvars.bound_contextvars
