"""Notify service: email, partner webhooks and digests."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field, HttpUrl

from .common import Page
from .envelope import Payload
from .operations import command, event, query

Channel = Literal["email", "webhook"]
Frequency = Literal["immediately", "digest", "never"]


class SubscribeWebhook(Payload):
    partner_id: str = Field(min_length=1)
    url: HttpUrl
    secret: str = Field(min_length=16, description="Shared secret for the HMAC-SHA256 signature")
    event_types: list[str] = Field(default_factory=list, description="Empty: all")
    regions: list[str] = Field(default_factory=list)
    clusters: list[str] = Field(default_factory=list)


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
    language: str = "en"
    kinds: dict[str, Frequency] = Field(default_factory=dict)


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
    recipient: str
    status: Literal["sent", "failed", "pending"]
    attempts: int
    last_error: str = ""
    at: datetime


class DeliveryPage(Payload):
    items: list[Delivery]
    next_cursor: str | None = None


class NotificationOutcome(Payload):
    delivery: Delivery
    region: str


S = "notify"
SUBSCRIBE_WEBHOOK = command(
    S, "subscribe_webhook", SubscribeWebhook, WebhookSubscription, "Subscribe a partner URL"
)
UNSUBSCRIBE_WEBHOOK = command(
    S, "unsubscribe_webhook", UnsubscribeWebhook, WebhookSubscription, "Stop a subscription"
)
SET_PREFERENCES = command(S, "set_preferences", SetPreferences, Preferences, "Mail preferences")
LIST_DELIVERIES = query(S, "list_deliveries", ListDeliveries, DeliveryPage, "What was sent")

NOTIFICATION_SENT = event(S, "notification_sent", NotificationOutcome, "A notification was sent")
NOTIFICATION_FAILED = event(S, "notification_failed", NotificationOutcome, "A delivery gave up")
