"""Notify service: email, partner webhooks and digests."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field, HttpUrl, field_validator

from .access import EVERYONE, PEOPLE, STAFF
from .common import SINGLE_LINE, Accepted, Keyword, LanguageCode, Page, SmeRef
from .envelope import Payload
from .operations import command, event, query

Channel = Literal["email", "webhook"]
Frequency = Literal["immediately", "digest", "never"]
MailKind = Literal[
    "registration_confirmed",
    "registration_waitlisted",
    "event_cancelled",
    "meeting_requested",
    "meeting_accepted",
    "meeting_declined",
    "schedule_published",
    "meeting_moved",
    "meeting_reminder",
    "participants_message",
    "profile_expiring",
    "article_review_due",
    "survey_opened",
    "weekly_digest",
]

AccountMailKind = Literal["invitation", "password_reset"]

WebhookKind = Literal[
    "event_published",
    "event_cancelled",
    "profile_published",
    "profile_withdrawn",
    "success_story_published",
    "schedule_published",
]


class SubscribeWebhook(Payload):
    partner_id: str = Field(min_length=1)
    url: HttpUrl
    secret: str = Field(
        min_length=16,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Shared secret of the signatures. `whsec_<base64>` (as Standard Webhooks "
        "libraries generate) is used as that specification says; any other secret's UTF-8 "
        "bytes are the HMAC key",
    )
    event_types: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Events to deliver, by short name (event_published) or CloudEvents type "
        "(eu.mapnet.events.event_published.v1): event_published, event_cancelled, "
        "profile_published, profile_withdrawn, success_story_published, schedule_published. "
        "Empty: all of them",
    )
    regions: list[str] = Field(default_factory=list, max_length=20)
    clusters: list[Keyword] = Field(default_factory=list, max_length=20)

    @field_validator("secret")
    @classmethod
    def _standard_secret_is_base64(cls, secret: str) -> str:
        if secret.startswith("whsec_"):
            try:
                key = base64.b64decode(secret[len("whsec_") :], validate=True)
            except binascii.Error:
                raise ValueError("a whsec_ secret must be base64") from None
            if len(key) < 16:
                raise ValueError("a whsec_ secret must hold at least 16 bytes")
        return secret


class SendAccountMail(Payload):
    """A mail about a person's own account, sent whatever their mail preferences say (they
    asked for it, or staff invited them): the link is the portal's, good once."""

    kind: AccountMailKind
    email: EmailStr
    name: str = Field(default="", max_length=200)
    language: LanguageCode = "en"
    link: HttpUrl = Field(description="Where the person sets their password")
    expires_at: datetime = Field(description="When the link stops working")
    role: str = Field(default="", max_length=40, description="With an invitation: as what")
    region: str = Field(default="", max_length=40, description="The MAP that sends it")


class WebhookSubscription(Payload):
    subscription_id: str
    partner_id: str
    url: HttpUrl
    event_types: list[str]
    regions: list[str]
    clusters: list[str]


class UnsubscribeWebhook(Payload):
    subscription_id: str


class SetPreferences(Payload):
    email: EmailStr
    language: LanguageCode = "en"
    kinds: dict[MailKind, Frequency] = Field(
        default_factory=dict,
        description="Per kind of mail; unlisted kinds are sent at once, the weekly digest only "
        "when asked for",
    )
    consent: bool = Field(default=True, description="False stops every mail at once")


class GetPreferences(Payload):
    email: EmailStr


class Unsubscribe(Payload):
    email: EmailStr
    token: str = Field(description="From the unsubscribe link of any mail")


class ForgetPerson(Payload):
    email: EmailStr
    reason: str = Field(min_length=1)


class SendDigest(Payload):
    period: str | None = Field(default=None, description="e.g. 2026-W48; default: this week")


class DigestSent(Payload):
    period: str
    recipients: int


class Preferences(SetPreferences):
    version: int


class ListDeliveries(Page):
    channel: Channel | None = None
    status: Literal["sent", "failed", "pending"] | None = None
    recipient: str | None = None


class Delivery(Payload):
    delivery_id: str
    event_id: str
    channel: Channel
    kind: MailKind | AccountMailKind | WebhookKind = Field(
        description="The mail, or the event a webhook told"
    )
    recipient: str
    status: Literal["sent", "failed", "pending"]
    attempts: int
    last_error: str = ""
    at: datetime


class DeliveryPage(Payload):
    items: list[Delivery]
    next_cursor: str | None = None


class NotificationOutcome(Payload):
    delivery: Delivery = Field(
        description="In these events a mail's recipient is the SHA-256 (hex) of the address in "
        "lower case, never the address: the streams keep what they are sent"
    )
    region: str


S = "notify"
SUBSCRIBE_WEBHOOK = command(
    S,
    "subscribe_webhook",
    SubscribeWebhook,
    WebhookSubscription,
    "Subscribe a partner URL",
    roles=("map_admin", "partner"),
    refusals={
        "validation_failed": (
            "also: a URL that is not a public address or carries credentials (data.url), an "
            "unknown event type (data.event_types.<n>)"
        ),
        "forbidden": "a partner subscribes only as itself (data.partner_id = its user name)",
        "conflict": (
            "the partner holds the most active subscriptions allowed "
            "(MAPNET_WEBHOOKS_PER_PARTNER, details.limit); stop one first"
        ),
    },
)
UNSUBSCRIBE_WEBHOOK = command(
    S,
    "unsubscribe_webhook",
    UnsubscribeWebhook,
    WebhookSubscription,
    "Stop a subscription",
    roles=("map_admin", "partner"),
    refusals={
        "not_found": "no subscription with this id",
        "forbidden": "a partner removes only its own subscriptions",
    },
)
SET_PREFERENCES = command(
    S,
    "set_preferences",
    SetPreferences,
    Preferences,
    "Mail preferences",
    roles=PEOPLE,
    refusals={"forbidden": "a person sets only their own (staff anyone's of their region)"},
)
GET_PREFERENCES = query(
    S,
    "get_preferences",
    GetPreferences,
    Preferences,
    "A person's mail preferences (version 0: never set)",
    roles=(*PEOPLE, "service"),
    refusals={"forbidden": "a person reads only their own (staff anyone's of their region)"},
)
UNSUBSCRIBE = command(
    S,
    "unsubscribe",
    Unsubscribe,
    Preferences,
    "Stop all mail (link token)",
    roles=EVERYONE,
    refusals={"forbidden": "the token is not this address's, or not for this purpose"},
)


class MessageParticipants(Payload):
    """One mail from an event's organiser to its participants, as notify knows them from the
    events service: each as their mail preferences say, with the unsubscribe link of every mail."""

    event_id: str = Field(min_length=1, max_length=200)
    audience: Literal["confirmed", "waitlisted", "without_meetings"] = Field(
        description="confirmed: everyone with a seat; waitlisted: those waiting for one; "
        "without_meetings: the confirmed whose SME is not in data.with_meetings"
    )
    subject: str = Field(min_length=1, max_length=200, pattern=SINGLE_LINE)
    body: str = Field(min_length=1, max_length=10_000)
    with_meetings: list[SmeRef] = Field(
        default_factory=list,
        max_length=10_000,
        description="With without_meetings: the participants who have an accepted meeting (the "
        "portal reads them from matching); only the event's own people are ever written to",
    )


class ParticipantsMessaged(Payload):
    event_id: str
    addressed: int = Field(description="People it was for (each mailed as their preferences say)")


SEND_ACCOUNT_MAIL = command(
    S,
    "send_account_mail",
    SendAccountMail,
    Accepted,
    "Mail an invitation or a password reset link",
    roles=("service",),
)
MESSAGE_PARTICIPANTS = command(
    S,
    "message_participants",
    MessageParticipants,
    ParticipantsMessaged,
    "Mail an event's participants, its waitlist, or those without meetings",
    roles=(*STAFF, "organiser"),
    refusals={
        "not_found": "no such event here",
        "forbidden": "an organiser writes only to their events' people; staff only in their region",
    },
)
FORGET_PERSON = command(
    S,
    "forget_person",
    ForgetPerson,
    Accepted,
    "Erase a person, stop all",
    roles=("map_admin", "service"),
    refusals={"forbidden": "also: an admin of another region"},
)
SEND_DIGEST = command(
    S,
    "send_digest",
    SendDigest,
    DigestSent,
    "Send this week's digest now",
    roles=("map_admin", "operator", "service"),
)
LIST_DELIVERIES = query(
    S,
    "list_deliveries",
    ListDeliveries,
    DeliveryPage,
    "What was sent (a partner: the calls to its own webhooks only)",
    roles=(*STAFF, "partner"),
)

NOTIFICATION_SENT = event(S, "notification_sent", NotificationOutcome, "A notification was sent")
NOTIFICATION_FAILED = event(S, "notification_failed", NotificationOutcome, "A delivery gave up")
