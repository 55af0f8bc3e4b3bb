"""What a partner system may subscribe to, and how it names it: the short name of an event
(``event_published``) or the CloudEvents ``type`` it sees in every delivered body
(``eu.mapnet.events.event_published.v1``). No I/O."""

from __future__ import annotations

from typing import Any

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts.errors import Refused
from contracts.operations import Operation

# Public facts, no personal data.
WEBHOOK_EVENTS: tuple[Operation[Any, Any], ...] = (
    ev.EVENT_PUBLISHED,
    ev.EVENT_CANCELLED,
    rg.PROFILE_PUBLISHED,
    rg.PROFILE_WITHDRAWN,
    rg.SUCCESS_STORY_PUBLISHED,
    mt.SCHEDULE_PUBLISHED,
)
_BY_NAME = {op.name: op.name for op in WEBHOOK_EVENTS} | {op.type: op.name for op in WEBHOOK_EVENTS}


def event_names(types: list[str]) -> list[str]:
    """The short names of the event types a subscription asks for; refused, naming each one,
    if any is not an event partners may subscribe to."""
    unknown = [t for t in types if t not in _BY_NAME]
    if unknown:
        raise Refused(
            "validation_failed",
            f"no webhook delivers {', '.join(unknown)}",
            fields=[
                {"field": f"data.event_types.{types.index(t)}",
                 "message": f"one of {', '.join(sorted(_BY_NAME))}", "type": "event_type"}
                for t in unknown
            ],
        )  # fmt: skip
    return sorted({_BY_NAME[t] for t in types})
