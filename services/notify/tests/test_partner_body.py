"""A partner's webhook body is the event without MAPnet's own extension attributes."""

from __future__ import annotations

import json

from contracts import events as ev
from contracts.envelope import Envelope
from mapnet.runtime.codec import encode

from ..service_layer.handlers import partner_body

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_the_trace_context_stays_inside_mapnet() -> None:
    raw = {
        "specversion": "1.0", "id": "e1", "source": "mapnet/tallinn/events",
        "type": "mapnet.tallinn.events.event_cancelled", "time": "2026-12-05T10:00:00Z",
        "region": "tallinn", "correlationid": "c1", "traceparent": TRACE,
        "data": {"event_id": "tallinn-1", "reason": "weather", "region": "tallinn"},
    }  # fmt: skip
    event = Envelope[ev.EventCancelled].model_validate(raw)
    assert TRACE in encode(event).decode()  # MAPnet's own copy keeps it
    body = json.loads(partner_body(event))
    assert "traceparent" not in body
    assert body["id"] == "e1" and body["data"]["event_id"] == "tallinn-1"
    assert body == {k: v for k, v in json.loads(encode(event)).items() if k != "traceparent"}
