"""Traces (OpenTelemetry): a command, the events it causes, the consumers in other services and
the mail that follows are one trace.

The trace context travels as W3C ``traceparent``: in the headers of a request (BusClient) and,
for an event, in its envelope (the CloudEvents distributed-tracing extension). The envelope is
what the outbox stores, so the context survives the write, a crash and the relay, which puts it
back in the headers it publishes with and opens a span of its own under it. FastStream's
telemetry middleware opens each handler's span from those headers.

Exported by OTLP over HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the SDK reads its usual
``OTEL_*`` variables); otherwise nothing is traced and nothing is added to any message.
Every log line written inside a span carries its ``trace_id``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

TRACEPARENT = "traceparent"

_provider: TracerProvider | None = None


def configure(service_name: str) -> TracerProvider | None:
    """The process's tracer provider, exporting by OTLP, if an endpoint is configured."""
    global _provider
    if _provider is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _provider = provider
    return _provider


def use(provider: TracerProvider | None) -> None:
    """Trace into this provider (tests: an in-memory exporter), or stop tracing (None)."""
    global _provider
    _provider = provider


def provider() -> TracerProvider | None:
    return _provider


def current_traceparent() -> str | None:
    """The current span's context as a traceparent, when tracing and inside a span."""
    if _provider is None:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def inject(headers: dict[str, str]) -> dict[str, str]:
    if (traceparent := current_traceparent()) is not None:
        headers[TRACEPARENT] = traceparent
    return headers


@contextmanager
def span_under(name: str, traceparent: str | None, **attributes: Any) -> Iterator[None]:
    """A span continuing the trace ``traceparent`` names (the relay's publish of an event)."""
    if _provider is None or traceparent is None:
        yield
        return
    parent = propagate.extract({TRACEPARENT: traceparent})
    tracer = _provider.get_tracer("mapnet")
    with tracer.start_as_current_span(name, context=parent, attributes=attributes):
        yield


def trace_id(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: the trace id of the span the line is written in."""
    if _provider is not None:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event.setdefault("trace_id", format(context.trace_id, "032x"))
    return event
