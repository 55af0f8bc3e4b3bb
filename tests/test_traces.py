"""One trace from a command to the consumers of the events it caused, through the outbox, on
real servers (an in-memory span exporter): the caller's span, the events service's handler,
the relay's publish of the event it stored, and the registry's consumer of that event share
one trace id, each under the one before; log lines written in a span carry its trace id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts import events as ev
from mapnet.runner import Assembly
from mapnet.runtime import tracing
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from tests.helpers import eventually
from tests.three_regions import an_entry


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.use(None)


def _in_trace(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context and s.context.trace_id == trace_id
    ]


async def test_a_command_and_the_events_it_causes_are_one_trace(
    settings: Settings, region: str, client: BusClient, spans: InMemorySpanExporter
) -> None:
    async with Assembly(settings, ["events", "registry"], [region]):
        tracer = tracing.provider().get_tracer("tests")  # type: ignore[union-attr]
        with tracer.start_as_current_span("operator publishes an entry") as root:
            await client.call(ev.PUBLISH_EVENT, an_entry("Traced conference"), region)
        trace_id = root.get_span_context().trace_id

        found = await eventually(
            lambda: _value(_in_trace(spans, trace_id)),
            until=lambda found: any(s.name.startswith("registry__") for s in found),
        )
    by_id = {s.context.span_id: s for s in found if s.context}
    names = [s.name for s in found]
    handler = next(s for s in found if "publish_event" in s.name and s.kind.name == "CONSUMER")
    relay = next(
        s for s in found if s.name == f"outbox publish {ev.EVENT_PUBLISHED.subject(region)}"
    )
    consumer = next(s for s in found if s.name.startswith("registry__events_event_published"))
    # Each under the one before: the caller, the handler, the relay's publish, the consumer.
    assert handler.parent is not None and handler.parent.span_id == root.get_span_context().span_id
    assert relay.parent is not None and relay.parent.span_id == handler.context.span_id, names
    assert consumer.parent is not None and consumer.parent.span_id == relay.context.span_id, names
    assert set(by_id) >= {handler.context.span_id, relay.context.span_id}


async def _value(x: list[ReadableSpan]) -> list[ReadableSpan]:
    return x


def test_a_log_line_written_in_a_span_carries_its_trace_id(
    spans: InMemorySpanExporter,
) -> None:
    tracer = tracing.provider().get_tracer("tests")  # type: ignore[union-attr]
    assert "trace_id" not in tracing.trace_id(None, "info", {})
    with tracer.start_as_current_span("a step") as step:
        line = tracing.trace_id(None, "info", {"event": "something_done"})
    assert line["trace_id"] == format(step.get_span_context().trace_id, "032x")
