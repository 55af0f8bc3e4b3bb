"""Who may act for which participant and event: rules that depend on the request, checked by the
handlers after the runtime has checked the role (contracts/access.py). No I/O."""

from __future__ import annotations

from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused


def check_acts_for(actor: Actor | None, ref: SmeRef | None, field: str) -> None:
    """A company's contact asks, answers, cancels and reads only as their own SME."""
    if actor is None or actor.role != "sme":
        return
    if ref is None or ref.sme_id != actor.sme_id or ref.region != actor.region:
        raise Refused(
            "forbidden",
            f"a contact acts only for their own SME ({actor.region}:{actor.sme_id})",
            fields=[{"field": f"data.{field}", "message": "not your SME", "type": "forbidden"}],
        )


def check_organiser(actor: Actor | None, event_id: str) -> None:
    """An organiser runs only the events given to them."""
    if actor is not None and actor.role == "organiser" and event_id not in (actor.event_ids or []):
        raise Refused("forbidden", f"event {event_id} is not one of this organiser's", id=event_id)
