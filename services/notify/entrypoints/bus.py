"""Notify service on the bus: its commands, the events of the other services it turns into mail
and webhook calls, and its periodic work (profile expiry notices)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from contracts import events as ev
from contracts import guide as gd
from contracts import matching as mt
from contracts import notify as c
from contracts import registry as rg
from contracts import reports as rp
from contracts.envelope import Envelope
from mapnet.runtime.service import Runtime

from ..adapters.directory import Directory
from ..adapters.mail import SmtpPool
from ..adapters.repository import DELIVERIES, NotifyStore
from ..adapters.webhooks import WebhookPoster
from ..service_layer.dispatcher import Dispatcher
from ..service_layer.handlers import Notifier
from ..settings import NotifySettings

Handler = Callable[[Envelope[Any]], Awaitable[None]]


def build(rt: Runtime) -> None:
    s = rt.config_as(NotifySettings)
    store = NotifyStore(rt.db)
    poster = WebhookPoster(s.webhook_timeout_s, s.webhook_allow_hosts)
    dispatcher = _dispatcher(rt, s, store, poster)
    directory = Directory(lambda: rt.nc, rt.region, rt.source)
    notifier = Notifier(
        rt.region, store, sender=s.mail_from, public_url=s.public_url, secret=s.notify_secret or "",
        admit=dispatcher.admit, withdraw=dispatcher.withdraw, lookup_event=directory.event,
        lookup_people=directory.registrations, lookup_message=directory.message,
        check_target=poster.check, webhooks_per_partner=s.webhooks_per_partner,
        lookup_rooms=directory.rooms,
    )  # fmt: skip
    rt.outbox_collections.append(DELIVERIES)

    async def sign_with_the_installations_secret() -> None:
        notifier.secret = s.notify_secret or await store.installation_secret()

    rt.startup += [store.create_indexes, sign_with_the_installations_secret, dispatcher.started]
    rt.shutdown.append(dispatcher.stop)
    _measured(rt, dispatcher)

    _on_the_clock(rt, s, notifier, directory)

    rt.handles(c.SUBSCRIBE_WEBHOOK)(notifier.subscribe_webhook)
    rt.handles(c.UNSUBSCRIBE_WEBHOOK)(notifier.unsubscribe_webhook)
    rt.handles(c.SET_PREFERENCES)(notifier.set_preferences)
    rt.handles(c.UNSUBSCRIBE)(notifier.unsubscribe)
    rt.handles(c.FORGET_PERSON)(notifier.forget_person)
    rt.handles(c.SEND_ACCOUNT_MAIL)(notifier.send_account_mail)
    rt.handles(c.MESSAGE_PARTICIPANTS)(notifier.message_participants)
    rt.handles(c.GET_PREFERENCES)(notifier.get_preferences)
    rt.handles(c.SEND_DIGEST)(notifier.send_digest)
    rt.handles(c.LIST_DELIVERIES)(notifier.list_deliveries)

    _mail_to_people(rt, notifier)

    async def on_survey_opened(event: Envelope[rp.SurveyOpened]) -> None:
        await notifier.on_survey_opened(event, directory.contacts)

    rt.consumes(rp.SURVEY_OPENED)(on_survey_opened)

    # Facts partner systems hear about too: each is also fanned out to the webhooks.
    tell: dict[Any, Handler] = {
        ev.EVENT_PUBLISHED: _data(notifier.on_event_published),
        ev.EVENT_CANCELLED: notifier.on_event_cancelled,
        mt.SCHEDULE_PUBLISHED: notifier.on_schedule_published,
        rg.PROFILE_PUBLISHED: _data(notifier.on_profile_published),
        rg.PROFILE_WITHDRAWN: lambda e: notifier.on_profile_withdrawn(e.data.profile_id),
        rg.SUCCESS_STORY_PUBLISHED: _nothing,
    }  # fmt: skip
    for op, handle in tell.items():
        rt.consumes(op)(_and_webhooks(notifier, handle))

    _forget_the_erased(rt, notifier)

    rt.publishes(c.NOTIFICATION_SENT, c.NOTIFICATION_FAILED)


def _measured(rt: Runtime, dispatcher: Dispatcher) -> None:
    """Notify's own series on /metrics, from the dispatcher's counts."""
    rt.measure(
        "mapnet_notify_queue",
        "Deliveries queued: in this process's hands to send now (sending), or waiting in the "
        "log for a retry (retrying, as the last scan counted)",
        dispatcher.queue_lengths, labels=("state",),
    )  # fmt: skip
    rt.measure(
        "mapnet_notify_failures",
        "Failed sends by channel and reason (timeout; refused: will not be retried; error)",
        dispatcher.failure_counts, labels=("channel", "reason"), kind="counter",
    )  # fmt: skip
    rt.measure(
        "mapnet_notify_given_up",
        "Deliveries given up after their last failed attempt (notification_failed)",
        dispatcher.given_up_counts, labels=("channel",), kind="counter",
    )  # fmt: skip


def _on_the_clock(rt: Runtime, s: NotifySettings, notifier: Notifier, directory: Directory) -> None:
    """What notify sends when its time comes: notices of profiles about to expire, and
    reminders of meetings about to begin."""

    async def expiry_notices() -> None:
        today = datetime.now(UTC).date()
        await notifier.expiring_profiles(s.expiry_notice_days, directory.contacts, today)

    rt.every(s.notify_tick_s, expiry_notices, "expiry_notices")

    async def meeting_reminders() -> None:
        await notifier.remind_of_meetings(s.meeting_reminder_minutes, datetime.now(UTC))

    rt.every(s.meeting_reminder_tick_s, meeting_reminders, "meeting_reminders")


def _forget_the_erased(rt: Runtime, notifier: Notifier) -> None:
    """Its own region's SMEs, and from the network those registered at this region's events:
    forgotten as forget_person does, and who of them acted here goes from the audit trail."""

    async def on_sme_erased(event: Envelope[rg.SmeErased]) -> None:
        await notifier.on_sme_erased(event.data.model_dump(mode="json"))
        await rt.audit.forget_contacts_of(event.data.sme_id, region=event.data.region)

    async def on_contact_erased(event: Envelope[rg.ContactErased]) -> None:
        d = event.data
        await notifier.on_contact_erased(d.model_dump(mode="json"))
        if d.email_sha256:
            await rt.audit.forget_contacts_of(d.sme_id, d.email_sha256, region=d.region)

    for route in (rt.consumes, rt.consumes_network):
        route(rg.SME_ERASED)(on_sme_erased)
        route(rg.CONTACT_ERASED)(on_contact_erased)


def _mail_to_people(rt: Runtime, notifier: Notifier) -> None:
    for registered, kind in ((ev.REGISTRATION_CONFIRMED, "registration_confirmed"),
                             (ev.REGISTRATION_WAITLISTED, "registration_waitlisted"),
                             (ev.REGISTRATION_CANCELLED, None)):  # fmt: skip
        rt.consumes_batches(registered)(_registrations(notifier, kind))
    for meeting in (mt.MEETING_REQUESTED, mt.MEETING_ACCEPTED, mt.MEETING_DECLINED):
        rt.consumes(meeting)(_meeting(notifier, meeting.name))
    rt.consumes(gd.ARTICLE_REVIEW_DUE)(notifier.on_article_review_due)
    rt.consumes(mt.MEETING_PLACED)(notifier.on_meeting_placed)
    rt.consumes(mt.MEETING_CANCELLED)(notifier.on_meeting_cancelled)


def _dispatcher(
    rt: Runtime, s: NotifySettings, store: NotifyStore, poster: WebhookPoster
) -> Dispatcher:
    return Dispatcher(
        store,
        SmtpPool(s.smtp, s.notify_senders, s.smtp_timeout_s),
        poster,
        region=rt.region,
        sender=s.mail_from,
        workers=s.notify_senders,
        give_up_s=s.webhook_give_up_s,
        retry_base_s=s.retry_base_s,
        envelope=rt.envelope,
        written=rt.written,
        log=rt.log,
        attempt_timeout_s=max(s.smtp_timeout_s, s.webhook_timeout_s),
    )


def _registrations(notifier: Notifier, kind: str | None) -> Any:
    async def handle(events: list[Envelope[ev.RegistrationChanged]]) -> None:
        await notifier.on_registrations(kind, list(events))

    return handle


def _meeting(notifier: Notifier, kind: str) -> Handler:
    async def handle(event: Envelope[Any]) -> None:
        await notifier.on_meeting(kind, event)

    return handle


def _data(handle: Callable[[dict[str, Any]], Awaitable[None]]) -> Handler:
    async def with_data(event: Envelope[Any]) -> None:
        await handle(event.data.model_dump(mode="json"))

    return with_data


def _and_webhooks(notifier: Notifier, handle: Handler) -> Handler:
    async def both(event: Envelope[Any]) -> None:
        await handle(event)
        await notifier.queue_webhooks(event)

    return both


async def _nothing(event: Envelope[Any]) -> None:
    """Heard only to be passed on to the partner systems."""
