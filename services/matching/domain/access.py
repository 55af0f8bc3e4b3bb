"""Who may act for which participant and event: rules that depend on the request, checked by the
handlers after the runtime has checked the role (contracts/access.py). No I/O."""

from __future__ import annotations

from contracts.access import STAFF, Actor
from contracts.common import SmeRef
from contracts.errors import Refused, forbidden_field


def check_acts_for(actor: Actor | None, ref: SmeRef | None, field: str) -> None:
    """A company's contact asks, answers, cancels and reads only as their own SME."""
    if actor is None or actor.role != "sme":
        return
    if ref is None or ref.sme_id != actor.sme_id or ref.region != actor.region:
        raise forbidden_field(
            f"a contact acts only for their own SME ({actor.region}:{actor.sme_id})",
            f"data.{field}",
            "not your SME",
        )


def check_organiser(actor: Actor | None, event_id: str) -> None:
    """An organiser runs only the events given to them."""
    if actor is not None and actor.role == "organiser" and event_id not in (actor.event_ids or []):
        raise Refused("forbidden", f"event {event_id} is not one of this organiser's", id=event_id)


def check_home_staff(actor: Actor | None, region: str) -> None:
    """Staff run only their own region's brokerage events and read only its meetings."""
    if actor is not None and actor.role in STAFF and actor.region != region:
        raise Refused(
            "forbidden", f"staff of {actor.region} act only in their own region, not in {region}"
        )


def check_staff_for(actor: Actor | None, ref: SmeRef | None, field: str, region: str) -> None:
    """Staff of another region (a request across the network) act only for their own region's
    SMEs; this region's staff for any participant."""
    if actor is None or actor.role not in STAFF or actor.region == region:
        return
    if ref is None or ref.region != actor.region:
        raise forbidden_field(
            f"staff of {actor.region} act here only for their own region's SMEs",
            f"data.{field}",
            "not your region's",
        )


def check_kpis_reader(actor: Actor | None, event_id: str | None) -> None:
    """An organiser reads the figures of their own events only, one at a time."""
    if actor is None or actor.role != "organiser":
        return
    if event_id is None:
        raise forbidden_field(
            "an organiser reads the figures of one of their events (data.event_id)",
            "data.event_id",
            "name your event",
        )
    check_organiser(actor, event_id)
