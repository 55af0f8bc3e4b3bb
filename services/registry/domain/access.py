"""Who may see and change which SME: rules that depend on the record, checked by the handlers
after the runtime has checked the role (contracts/access.py). No I/O."""

from __future__ import annotations

from contracts import registry as c
from contracts.access import Actor
from contracts.errors import Refused


def check_may_change(actor: Actor | None, sme_id: str, home_region: str) -> None:
    """A contact changes only the SME they act for; staff only the SMEs of their own region."""
    if actor is None:
        return
    if actor.role == "sme" and actor.sme_id != sme_id:
        raise Refused("forbidden", f"this contact does not act for SME {sme_id}", id=sme_id)
    if actor.role in ("map_admin", "map_staff") and actor.region != home_region:
        raise Refused(
            "forbidden",
            f"staff of {actor.region} change only their own region's SMEs, not {home_region}'s",
            id=sme_id,
        )


def as_seen_by(actor: Actor | None, view: c.SmeView) -> c.SmeView:
    """A contact sees another SME only as the network does: without its contact persons."""
    if actor is not None and actor.role == "sme" and actor.sme_id != view.sme_id:
        return view.model_copy(update={"contacts": []})
    return view
