"""Who a request acts for, and whether that role may send it: checked once, here, before any
handler runs (contracts/access.py says who may do what).

A region's NATS server has two accounts. Its services, the portal and the command line are
users of ``MAPNET``; they say whom they act for in the envelope's ``actor``. Partner systems are
users of ``PARTNERS``, which imports only the commands and queries partners may send, with
``share: true``: the server then stamps each request's ``Nats-Request-Info`` header with the
account and user it came from, replacing any such header the client sent. A partner's actor is
that stamp, never what the request says."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from contracts.access import Actor, PartnerKind
from contracts.envelope import Envelope
from contracts.errors import Refused
from contracts.operations import Operation

SERVICES_ACCOUNT = "MAPNET"
PARTNERS_ACCOUNT = "PARTNERS"
# Finance partners (`mapnet partner add --kind finance`) are users of an account of their own,
# importing the same operations: the server's stamp names the account, so a partner's kind is
# the server's word, as its name is.
FINANCE_PARTNERS_ACCOUNT = "FINANCE_PARTNERS"
PARTNER_ACCOUNTS: dict[PartnerKind, str] = {
    "general": PARTNERS_ACCOUNT,
    "finance": FINANCE_PARTNERS_ACCOUNT,
}
# The hub's account of each region's requests (mapnet/federation/config.py): REGION_TALLINN.
REGION_ACCOUNT_PREFIX = "REGION_"
REQUEST_INFO = "Nats-Request-Info"


def _stamp(headers: Mapping[str, str] | None) -> dict[str, Any]:
    info = (headers or {}).get(REQUEST_INFO)
    if not info:
        return {}
    try:
        stamp: Any = json.loads(info)
    except ValueError:
        return {}
    return stamp if isinstance(stamp, dict) else {}


def stamped_partner(headers: Mapping[str, str] | None) -> str | None:
    """The partner user the server says sent this request across the import, if it did."""
    stamp = _stamp(headers)
    if stamp.get("acc") in PARTNER_ACCOUNTS.values():
        user = stamp.get("user")
        return str(user) if user else None
    return None


def stamped_partner_kind(headers: Mapping[str, str] | None) -> PartnerKind | None:
    """The kind of partner the server says sent this request: the account its user is in."""
    account = _stamp(headers).get("acc")
    return next((kind for kind, acc in PARTNER_ACCOUNTS.items() if acc == account), None)


def stamped_region(headers: Mapping[str, str] | None) -> str | None:
    """The region the hub says sent this request across from its account, if it came so.

    Only the hub stamps a request that crosses from one region's account into another's; in
    this region, only its own trusted processes (the services, the portal, the command line)
    could write such a header themselves, and partners' headers are replaced by their own
    account's stamp."""
    account = str(_stamp(headers).get("acc") or "")
    if account.startswith(REGION_ACCOUNT_PREFIX):
        return account.removeprefix(REGION_ACCOUNT_PREFIX).lower() or None
    return None


def acting(
    op: Operation[Any, Any],
    msg: Envelope[Any],
    headers: Mapping[str, str] | None,
    region: str,
) -> Envelope[Any]:
    """The request as it is handled: its actor the stamped partner, or the one it names (from
    the region's own account); refused if it names none or the role may not send it."""
    partner = stamped_partner(headers)
    origin = stamped_region(headers)
    if origin is not None and origin != region:
        _from_another_region(op, msg, origin)
    if partner is not None:
        kind = stamped_partner_kind(headers)
        stamped = Actor(id=partner, role="partner", region=region, partner_kind=kind)
        msg = msg.model_copy(update={"actor": stamped})
    elif msg.actor is not None and msg.actor.role == "partner":
        # A partner is only ever who the server says it is: a request that names one without
        # the stamp did not come through the partners' account, whoever sent it.
        raise Refused(
            "forbidden",
            "a partner's request is known by the server's stamp; this one has none",
            role="partner",
        )
    elif msg.actor is not None and msg.actor.partner_kind is not None:
        # A partner's kind, as its name, is only ever the server's stamp.
        msg = msg.model_copy(update={"actor": msg.actor.model_copy(update={"partner_kind": None})})
    actor = msg.actor
    if actor is None:
        raise Refused(
            "validation_failed",
            "the request does not say whom it acts for",
            fields=[{"field": "actor", "message": "Field required", "type": "missing"}],
        )
    if actor.role not in op.roles:
        raise Refused(
            "forbidden",
            f"the role {actor.role} may not {op.name.replace('_', ' ')}",
            role=actor.role,
            allowed=list(op.roles),
        )
    return msg


# Who another region's request may act as: its people (a company's contact, for an SME of
# that region) and its staff, for them. Not an organiser (its ``event_ids`` would be the other
# region's word about this region's events), not a service, operator or official (nobody here
# vouches for them), not a partner (only this region's server makes a partner).
ROLES_FROM_ANOTHER_REGION: frozenset[str] = frozenset({"sme", "map_staff", "map_admin"})


def _from_another_region(op: Operation[Any, Any], msg: Envelope[Any], origin: str) -> None:
    """A request another region sent: it reaches only the network operations, and acts only for
    that region's people, as one of them or their staff, whatever its actor says."""
    if not op.network:
        raise Refused(
            "forbidden",
            f"{op.name} is not open to other regions",
            from_region=origin,
        )
    if msg.actor is not None and msg.actor.role not in ROLES_FROM_ANOTHER_REGION:
        raise Refused(
            "forbidden",
            f"a request from region {origin} acts as one of its people or their staff, not "
            f"as {msg.actor.role}",
            from_region=origin,
            role=msg.actor.role,
            allowed=sorted(ROLES_FROM_ANOTHER_REGION),
        )
    if msg.actor is not None and msg.actor.region != origin:
        raise Refused(
            "forbidden",
            f"a request from region {origin} acts only for {origin}'s people, not "
            f"for {msg.actor.region}'s",
            from_region=origin,
            actor_region=msg.actor.region,
        )


def command_key(msg: Envelope[Any], item_id: str | None = None) -> str:
    """What makes a command the same command again: who sent it and its id. A record id derived
    from it cannot be taken by someone else sending the same id first. ``item_id``: the id of
    one item of a batch command in its place (the same item sent again by the same caller, in
    any batch or as a command of its own with that id, is then the same)."""
    actor = msg.actor
    caller = f"{actor.role}:{actor.id}" if actor else msg.source
    return f"{caller}|{msg.id if item_id is None else item_id}"


def payload_digest(msg: Envelope[Any]) -> str:
    """The command's content: the same id with other content is not a repeat."""
    return hashlib.sha256(msg.data.model_dump_json().encode()).hexdigest()


def id_reused(msg: Envelope[Any]) -> Refused:
    return Refused(
        "id_reused",
        f"command id {msg.id} was used before for other content; a repeat must be the same "
        "command, a new command needs a new id",
        id=msg.id,
    )
