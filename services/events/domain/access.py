"""Who may change which calendar entry: rules that depend on the entry, checked by the
handlers after the runtime has checked the role (contracts/access.py). No I/O."""

from __future__ import annotations

from contracts.access import Actor
from contracts.errors import Refused


def check_publisher(actor: Actor | None, partner_id: str) -> None:
    """A partner system publishes and cancels entries only under its own partner id (the one
    the server stamped on its request), never another publisher's."""
    if actor is not None and actor.role == "partner" and actor.id != partner_id:
        raise Refused(
            "forbidden",
            f"partner {actor.id} may publish only as partner_id {actor.id!r}",
            fields=[{"field": "data.partner_id", "message": "not yours", "type": "forbidden"}],
            partner_id=partner_id,
        )


def check_organiser(actor: Actor | None, event_id: str) -> None:
    """An organiser changes only the events given to them."""
    if actor is not None and actor.role == "organiser" and event_id not in (actor.event_ids or []):
        raise Refused("forbidden", f"event {event_id} is not one of this organiser's", id=event_id)
