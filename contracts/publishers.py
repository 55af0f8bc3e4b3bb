"""Under whose name a record is published: a partner system only under its own (the name the
server stamped on its request), a region's MAP under ``map-<region>``. Calendar entries and
finance offers both follow it."""

from __future__ import annotations

from .access import Actor
from .errors import forbidden_field


def map_publisher(region: str) -> str:
    """The publisher id under which a region's MAP itself publishes calendar entries and
    finance offers (the portal's staff, the demo). Partner names like it are refused at
    ``mapnet partner add``, or a partner of that name would own the MAP's records."""
    return f"map-{region}"


def check_partner_acts_as_itself(
    actor: Actor | None, partner_id: str, field: str = "data.partner_id"
) -> None:
    """A partner system publishes, changes and withdraws only under its own partner id: the
    one the server stamped on its request (``actor.id``), never another publisher's.
    ``field``: where the command names the publisher."""
    if actor is not None and actor.role == "partner" and actor.id != partner_id:
        raise forbidden_field(
            f"partner {actor.id} may publish only as partner_id {actor.id!r}",
            field,
            partner_id=partner_id,
        )
