"""Who may see and change which SME: rules that depend on the record, checked by the handlers
after the runtime has checked the role (contracts/access.py). No I/O."""

from __future__ import annotations

from datetime import date

from contracts import registry as c
from contracts.access import STAFF, Actor
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


def check_home_staff(actor: Actor | None, home_region: str) -> None:
    """Staff read and change only their own region's SMEs."""
    if actor is not None and actor.role in STAFF and actor.region != home_region:
        raise Refused("forbidden", f"staff of {actor.region} act only on their own region's SMEs")


def as_seen_by(actor: Actor | None, view: c.SmeView, today: date) -> c.SmeView:
    """A contact sees another SME only as another region does: an SME that shares with the
    network, its public data and its published profiles that are not private. Never its
    contacts, figures, VAT id, address, coaching journey (its notes), nor the figures behind
    its size and growth classes; an SME that does not share is not shown at all."""
    if actor is None or actor.role != "sme" or actor.sme_id == view.sme_id:
        return view
    if not view.share_with_network:
        raise Refused(
            "forbidden",
            f"SME {view.sme_id} does not share its profile with the network",
            id=view.sme_id,
        )
    shown = [
        p for p in view.profiles
        if p.status == "published" and p.visibility != "private" and p.expires_on >= today
    ]  # fmt: skip
    return view.model_copy(
        update={
            "contacts": [],
            "figures": [],
            "vat_id": None,
            "address": "",
            "founded_on": None,
            "stage_history": [],
            "size_class": view.size_class.model_copy(update={"reasons": []}),
            "growth_class": view.growth_class.model_copy(update={"reasons": []}),
            "profiles": shown,
            "near_duplicates": [],
        }
    )


def seen_in_search(actor: Actor | None) -> str | None:
    """Whose SMEs a contact finds besides those shared with the network: its own (None: the
    searcher sees every SME of the region)."""
    if actor is not None and actor.role == "sme":
        return actor.sme_id or ""
    return None
