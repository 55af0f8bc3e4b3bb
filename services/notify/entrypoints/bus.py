"""Notify service on the bus: its commands, the events of the other services it turns into mail
and webhook calls, its senders and its periodic work (profile expiry notices)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from contracts import events as ev
from contracts import matching as mt
from contracts import notify as c
from contracts import registry as rg
from contracts.envelope import Envelope
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from mapnet.runtime.service import Runtime

from ..adapters.mail import SmtpPool
from ..adapters.repository import DELIVERIES, NotifyStore, utc_key
from ..adapters.webhooks import WebhookPoster
from ..domain.rules import Person
from ..service_layer.dispatcher import Dispatcher
from ..service_layer.handlers import Notifier
from ..settings import NotifySettings

# What partner systems may subscribe to: public facts, no personal data.
WEBHOOK_EVENTS = [
    ev.EVENT_PUBLISHED,
    ev.EVENT_CANCELLED,
    rg.PROFILE_PUBLISHED,
    rg.PROFILE_WITHDRAWN,
    rg.SUCCESS_STORY_PUBLISHED,
    mt.SCHEDULE_PUBLISHED,
]


def build(rt: Runtime) -> None:
    s = rt.config_as(NotifySettings)
    store = NotifyStore(rt.db)
    dispatcher = Dispatcher(
        store,
        SmtpPool(s.smtp, s.notify_senders, s.smtp_timeout_s),
        WebhookPoster(s.webhook_timeout_s),
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

    async def lookup_event(event_id: str) -> dict[str, Any] | None:
        if rt.nc is None:
            return None
        try:
            entry = await BusClient(rt.nc, source=rt.source).call(
                ev.GET_EVENT, ev.GetEvent(event_id=event_id), rt.region
            )
        except Refused:
            return None
        return entry.model_dump(mode="json") | {"received_at": utc_key(datetime.now(UTC))}

    notifier = Notifier(
        rt.region,
        store,
        sender=s.mail_from,
        public_url=s.public_url,
        secret=s.notify_secret,
        admit=dispatcher.admit,
        withdraw=dispatcher.withdraw,
        lookup_event=lookup_event,
    )
    rt.outbox_collections.append(DELIVERIES)
    ticker: list[asyncio.Task[None]] = []

    async def contacts(sme: dict[str, Any]) -> list[Person]:
        if sme.get("region") != rt.region or rt.nc is None:
            return []
        try:
            view = await BusClient(rt.nc, source=rt.source).call(
                rg.GET_SME, rg.GetSme(sme_id=sme["sme_id"]), rt.region
            )
        except Refused:
            return []
        return [
            Person(str(p.email), p.name, p.language) for p in view.contacts if p.consent_contact
        ]

    async def tick() -> None:
        while True:
            try:
                today = datetime.now(UTC).date()
                await notifier.expiring_profiles(s.expiry_notice_days, contacts, today)
            except Exception as exc:  # a bad tick must not end the periodic work
                rt.log.exception("notify_tick_failed", error=str(exc))
            await asyncio.sleep(s.notify_tick_s)

    async def start() -> None:
        await store.create_indexes()
        dispatcher.start()
        ticker.append(asyncio.create_task(tick()))

    async def stop() -> None:
        for task in ticker:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await dispatcher.stop()

    rt.startup.append(start)
    rt.shutdown.append(stop)

    rt.handles(c.SUBSCRIBE_WEBHOOK, remember_replies=False)(notifier.subscribe_webhook)
    rt.handles(c.UNSUBSCRIBE_WEBHOOK)(notifier.unsubscribe_webhook)
    rt.handles(c.SET_PREFERENCES)(notifier.set_preferences)
    rt.handles(c.UNSUBSCRIBE)(notifier.unsubscribe)
    rt.handles(c.FORGET_PERSON)(notifier.forget_person)
    rt.handles(c.SEND_DIGEST)(notifier.send_digest)
    rt.handles(c.LIST_DELIVERIES)(notifier.list_deliveries)

    # Mail to people.
    def registrations(kind: str | None) -> Any:
        async def handle(events: list[Envelope[ev.RegistrationChanged]]) -> None:
            await notifier.on_registrations(kind, events)

        return handle

    rt.consumes_batches(ev.REGISTRATION_CONFIRMED)(registrations("registration_confirmed"))
    rt.consumes_batches(ev.REGISTRATION_WAITLISTED)(registrations("registration_waitlisted"))
    rt.consumes_batches(ev.REGISTRATION_CANCELLED)(registrations(None))

    def meeting(kind: str) -> Any:
        async def handle(event: Envelope[mt.MeetingChanged]) -> None:
            await notifier.on_meeting(kind, event)

        return handle

    for op in (mt.MEETING_REQUESTED, mt.MEETING_ACCEPTED, mt.MEETING_DECLINED):
        rt.consumes(op)(meeting(op.name))

    # Facts both mail and partner systems hear about; each handler also fans out to webhooks.
    async def webhooks(event: Envelope[Any]) -> None:
        name = event.type.split(".")[3]
        await notifier.queue_webhooks(event, name, event.data.model_dump(mode="json"))

    @rt.consumes(ev.EVENT_PUBLISHED)
    async def on_event_published(event: Envelope[ev.EventPublished]) -> None:
        data = event.data.model_dump(mode="json") | {"received_at": utc_key(datetime.now(UTC))}
        await notifier.on_event_published(data)
        await webhooks(event)

    @rt.consumes(ev.EVENT_CANCELLED)
    async def on_event_cancelled(event: Envelope[ev.EventCancelled]) -> None:
        await notifier.on_event_cancelled(event)
        await webhooks(event)

    @rt.consumes(mt.SCHEDULE_PUBLISHED)
    async def on_schedule_published(event: Envelope[mt.SchedulePublished]) -> None:
        await notifier.on_schedule_published(event)
        await webhooks(event)

    @rt.consumes(rg.PROFILE_PUBLISHED)
    async def on_profile_published(event: Envelope[rg.ProfilePublished]) -> None:
        d = event.data.model_dump(mode="json")
        p = d["profile"]
        if p["visibility"] != "private":
            await store.profiles.replace_one(
                {"_id": p["profile_id"]},
                {"_id": p["profile_id"], "title": p["title"], "type": p["type"],
                 "expires_on": p["expires_on"], "sme": d["sme"],
                 "received_at": utc_key(datetime.now(UTC))},
                upsert=True,
            )  # fmt: skip
        await webhooks(event)

    @rt.consumes(rg.PROFILE_WITHDRAWN)
    async def on_profile_withdrawn(event: Envelope[rg.ProfileWithdrawn]) -> None:
        await store.profiles.delete_one({"_id": event.data.profile_id})
        await webhooks(event)

    @rt.consumes(rg.SUCCESS_STORY_PUBLISHED)
    async def on_story(event: Envelope[rg.SuccessStoryPublished]) -> None:
        await webhooks(event)

    @rt.consumes(rg.SME_ERASED)
    async def on_sme_erased(event: Envelope[rg.SmeErased]) -> None:
        await store.profiles.delete_many({"sme.sme_id": event.data.sme_id})

    rt.publishes(c.NOTIFICATION_SENT, c.NOTIFICATION_FAILED)
