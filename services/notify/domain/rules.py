"""Who hears about what, and how: preferences and consent, unsubscribe tokens, webhook filters
and signatures, retry timing. No I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
from dataclasses import dataclass, field
from typing import Any

from contracts.access import Actor
from contracts.errors import Refused, forbidden_field

# Everything but the digest goes out at once unless the person chose otherwise.
DEFAULT_FREQUENCY = {"weekly_digest": "never"}
# Mails about a person's own account, which they asked for: no preference stops them.
ACCOUNT_KINDS = ("invitation", "password_reset")


@dataclass(frozen=True)
class Person:
    email: str
    name: str = ""
    language: str = "en"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar"
    data: bytes


@dataclass
class Mail:
    kind: str
    person: Person
    context: dict[str, Any]
    attachments: list[Attachment] = field(default_factory=list)
    # SMEs (region:sme_id) whose people the mail quotes by name or words: an erasure of one
    # takes the text out of the mails kept, and stops those not yet sent.
    about: tuple[str, ...] = ()
    # The SME (region:sme_id) whose contact the person is, when notify found them among its
    # contacts (a survey, a profile's expiry) rather than through a registration: an erasure
    # of the SME, or of the contact, finds and forgets them by it.
    contact_of: str = ""


def frequency(kind: str, preferences: dict[str, Any] | None) -> str:
    """immediately, digest or never, for one kind of mail to one person."""
    if kind in ACCOUNT_KINDS:
        return "immediately"
    if preferences is not None and not preferences.get("consent", True):
        return "never"
    chosen = (preferences or {}).get("kinds", {}).get(kind)
    return chosen or DEFAULT_FREQUENCY.get(kind, "immediately")


def unsubscribe_token(secret: str, email: str) -> str:
    """Good for one purpose (stopping mail to this address) and for as long as the secret: a
    new secret makes every earlier link stale."""
    signed = f"unsubscribe:{email.lower()}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()[:32]


def delivery_id(event_id: str, channel: str, recipient: str) -> str:
    """The same event, channel and recipient always give the same delivery: sent once."""
    return hashlib.sha256(f"{event_id}|{channel}|{recipient.lower()}".encode()).hexdigest()[:32]


def partners_may_hear(event_name: str, data: dict[str, Any]) -> bool:
    """A partner system hears only what the network may see: a profile of an SME that shares
    with the network, and not a private one (the registry records every profile published,
    whatever its visibility, for its own region's use)."""
    if event_name == "profile_published":
        sme, profile = data.get("sme") or {}, data.get("profile") or {}
        return bool(sme.get("share_with_network")) and profile.get("visibility") != "private"
    return True


def subscription_matches(
    subscription: dict[str, Any], event_name: str, region: str, clusters: list[str]
) -> bool:
    types, regions, wanted = (
        subscription.get("event_types") or [],
        subscription.get("regions") or [],
        subscription.get("clusters") or [],
    )
    return (
        (not types or event_name in types)
        and (not regions or region in regions)
        and (not wanted or bool(set(wanted) & set(clusters)))
    )


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", as in the Mapnet-Signature header."""
    signed = f"{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


STANDARD_SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of a subscription's secret under Standard Webhooks: a ``whsec_<base64>``
    secret is the base64 bytes it names (what the partner's library decodes); any other secret
    is its UTF-8 bytes, so ``Webhook(secret.encode())`` verifies it."""
    if secret.startswith(STANDARD_SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(STANDARD_SECRET_PREFIX) :] + "==", validate=False)
        except binascii.Error:
            pass  # refused at subscription; an older stored one falls back to its bytes
    return secret.encode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of the Standard Webhooks specification."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def retry_delay(attempts: int, base_s: float, cap_s: float = 600.0) -> float:
    """Exponential back-off with full jitter: spreads retries of many deliveries apart."""
    return random.uniform(0, min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def next_attempt_in(
    attempts: int, age_s: float, *, permanent: bool, base_s: float, give_up_s: float
) -> float | None:
    """After a failed attempt (the ``attempts``-th), seconds until the next one; None to give
    up: the failure is permanent (a refused address, a cancelled subscription) or the next try
    would come after the give-up time, counted from when the delivery was queued."""
    if permanent:
        return None
    delay = retry_delay(attempts, base_s)
    return None if age_s + delay > give_up_s else delay


def clusters_of(data: dict[str, Any]) -> list[str]:
    """Clusters an event is about, wherever its payload keeps them."""
    for path in (("clusters",), ("sme", "clusters")):
        value: Any = data
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, list):
            return [str(v) for v in value]
    return []


def check_own(actor: Actor | None, email: str, region: str) -> None:
    """A person's mail preferences are their own to read and set; this region's staff and
    services may for anyone (staff of another region for nobody here)."""
    if actor is None or actor.role in ("service", "operator"):
        return
    if actor.role in ("map_admin", "map_staff"):
        if actor.region != region:
            raise Refused(
                "forbidden",
                f"staff of {actor.region} read and set mail preferences of {region}'s people "
                "only as their own",
            )
        return
    if actor.id.strip().lower() != email.strip().lower():
        raise Refused("forbidden", "a person reads and sets only their own mail preferences")


def check_home_staff(actor: Actor | None, region: str) -> None:
    """Staff act on their own region's people only."""
    if actor is not None and actor.role in ("map_admin", "map_staff") and actor.region != region:
        raise Refused("forbidden", f"staff of {actor.region} act only on their own region's people")


def check_subscriber(actor: Actor | None, partner_id: str) -> None:
    """A partner system subscribes and unsubscribes only as itself: the user name the server
    stamped on its request, whatever the request names. MAP admins may for any partner."""
    if actor is not None and actor.role == "partner" and actor.id != partner_id:
        raise forbidden_field(
            f"partner {actor.id} holds only its own webhook subscriptions, not {partner_id}'s",
            "data.partner_id",
            partner_id=partner_id,
        )


def check_room_for_webhook(partner_id: str, held: int, most: int) -> None:
    """One partner's subscriptions are capped: each one costs a call per matching event."""
    if held >= most:
        raise Refused(
            "conflict",
            f"partner {partner_id} holds {held} active webhook subscriptions, the most allowed; "
            "stop one first",
            partner_id=partner_id,
            held=held,
            limit=most,
        )
