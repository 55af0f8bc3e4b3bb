"""Who may change which calendar entry: rules that depend on the entry, checked by the
handlers after the runtime has checked the role (contracts/access.py). No I/O."""

from __future__ import annotations

from contracts import events as c
from contracts.access import STAFF, Actor
from contracts.common import SmeRef
from contracts.errors import Refused, forbidden_field


def check_organiser(actor: Actor | None, event_id: str) -> None:
    """An organiser changes only the events given to them."""
    if actor is not None and actor.role == "organiser" and event_id not in (actor.event_ids or []):
        raise Refused("forbidden", f"event {event_id} is not one of this organiser's", id=event_id)


def check_home_staff(actor: Actor | None, region: str) -> None:
    """Staff act on their own region's calendar and registrations, not on another region's."""
    if actor is not None and actor.role in STAFF and actor.region != region:
        raise Refused(
            "forbidden", f"staff of {actor.region} act only in their own region, not in {region}"
        )


def check_registrant(actor: Actor | None, data: c.RegisterParticipant, region: str) -> None:
    """Who registers whom: a company's contact registers themself (the address they act as)
    for their own SME; an organiser only at their events; staff of another region only people
    of their own region's SMEs. This region's staff register anyone."""
    if actor is None:
        return
    if actor.role == "sme":
        own = data.sme is not None and (data.sme.sme_id, data.sme.region) == (
            actor.sme_id,
            actor.region,
        )
        if not own:
            raise _not_yours("data.sme", f"a contact registers only for their own SME "
                             f"({actor.region}:{actor.sme_id})")  # fmt: skip
        if str(data.email).strip().lower() != actor.id.strip().lower():
            raise _not_yours("data.email", "a contact registers only themself")
    elif actor.role == "organiser":
        check_organiser(actor, data.event_id)
    elif _staff_elsewhere_for_others(actor, data.sme, region):
        raise _not_yours(
            "data.sme", f"staff of {actor.region} register only their own region's SMEs"
        )


def check_may_cancel(actor: Actor | None, event_id: str, sme: SmeRef | None, region: str) -> None:
    """A contact cancels only their own SME's registrations; an organiser only at their
    events; staff of another region only their own region's SMEs'."""
    if actor is None:
        return
    if actor.role == "sme":
        if sme is None or (sme.sme_id, sme.region) != (actor.sme_id, actor.region):
            raise Refused("forbidden", "a contact cancels only their own SME's registrations")
    elif actor.role == "organiser":
        check_organiser(actor, event_id)
    elif _staff_elsewhere_for_others(actor, sme, region):
        raise Refused(
            "forbidden",
            f"staff of {actor.region} cancel only their own region's SMEs' registrations",
        )


def check_sme_reader(actor: Actor | None, sme: SmeRef, region: str) -> None:
    """An SME's registrations are listed to its own contacts and this region's staff."""
    if actor is None or actor.role == "service":
        return
    if actor.role in STAFF:
        check_home_staff(actor, region)
    elif actor.role != "sme" or (sme.sme_id, sme.region) != (actor.sme_id, actor.region):
        raise forbidden_field("a contact lists only their own SME's registrations", "data.sme")


def check_ical_reader(actor: Actor | None, email: str, region: str) -> None:
    """A person's registrations are theirs: by address they are listed to that person (any
    role but a partner system), to this region's staff and to MAPnet's services, nobody else."""
    if actor is None or actor.role == "service":
        return
    if actor.role in STAFF and actor.region == region:
        return
    if actor.role != "partner" and actor.id.strip().lower() == email.strip().lower():
        return
    raise forbidden_field(
        "a person's registrations are listed only to them, and to this region's staff",
        "data.email",
    )


def _staff_elsewhere_for_others(actor: Actor, sme: SmeRef | None, region: str) -> bool:
    """Staff of another region acting for someone not of one of their own region's SMEs."""
    elsewhere = actor.role in STAFF and actor.region != region
    return elsewhere and (sme is None or sme.region != actor.region)


def _not_yours(field: str, message: str) -> Refused:
    return forbidden_field(message, field)
