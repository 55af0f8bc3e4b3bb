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

from contracts.access import Actor
from contracts.envelope import Envelope
from contracts.errors import Refused
from contracts.operations import Operation

SERVICES_ACCOUNT = "MAPNET"
PARTNERS_ACCOUNT = "PARTNERS"
REQUEST_INFO = "Nats-Request-Info"


def stamped_partner(headers: Mapping[str, str] | None) -> str | None:
    """The partner user the server says sent this request across the import, if it did."""
    info = (headers or {}).get(REQUEST_INFO)
    if not info:
        return None
    try:
        stamp: Any = json.loads(info)
    except ValueError:
        return None
    if isinstance(stamp, dict) and stamp.get("acc") == PARTNERS_ACCOUNT:
        user = stamp.get("user")
        return str(user) if user else None
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
    if partner is not None:
        msg = msg.model_copy(update={"actor": Actor(id=partner, role="partner", region=region)})
    elif msg.actor is not None and msg.actor.role == "partner":
        # A partner is only ever who the server says it is: a request that names one without
        # the stamp did not come through the partners' account, whoever sent it.
        raise Refused(
            "forbidden",
            "a partner's request is known by the server's stamp; this one has none",
            role="partner",
        )
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


def command_key(msg: Envelope[Any]) -> str:
    """What makes a command the same command again: who sent it and its id. A record id derived
    from it cannot be taken by someone else sending the same id first."""
    actor = msg.actor
    caller = f"{actor.role}:{actor.id}" if actor else msg.source
    return f"{caller}|{msg.id}"


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
