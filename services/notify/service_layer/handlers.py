"""Notify use cases: from an event of another service to the mails and webhook calls it causes
(each queued once in the delivery log), and the commands of people and partner systems. The
rules are the domain's (``domain/mails.py``, ``domain/rules.py``); the queries the store's."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts import notify as c
from contracts import registry as rg
from contracts.common import Accepted
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime.access import command_key

from ..adapters.mail import compose, wire_text
from ..adapters.repository import NotifyStore, delivery_view, email_hash, utc_key
from ..domain import mails
from ..domain.mails import DateCause
from ..domain.messages import audience, check_may_message, participants_mail
from ..domain.rules import (
    Mail,
    Person,
    check_home_staff,
    check_own,
    check_room_for_webhook,
    check_subscriber,
    clusters_of,
    delivery_id,
    partners_may_hear,
    subscription_matches,
)
from ..domain.rules import unsubscribe_token as token_for
from ..domain.subscriptions import event_names
from ..domain.targets import TargetRefused

_NAMESPACE = uuid.UUID("9e2c4b1a-7f3d-4c6e-8a5b-1d0f2e3c4b5a")

Lookup = Callable[[str], Awaitable[dict[str, Any] | None]]
Contacts = Callable[[dict[str, Any]], Awaitable[list[Person]]]


def partner_body(event: Envelope[Any]) -> str:
    """What a partner's webhook receives: the event as MAPnet sent it, without the extension
    attributes MAPnet keeps for itself (the trace context): with it a partner would learn
    which events one command caused, and ids to link spans of its own into others' traces."""
    return event.model_dump_json(exclude=set(event.model_extra or {}))


class Notifier:
    def __init__(
        self,
        region: str,
        store: NotifyStore,
        *,
        sender: str,
        public_url: str,
        secret: str,
        admit: Callable[[list[dict[str, Any]]], Awaitable[None]],
        withdraw: Callable[[str], None] = lambda email: None,
        lookup_event: Lookup | None = None,
        lookup_people: Callable[[list[str]], Awaitable[list[dict[str, Any]]]] | None = None,
        lookup_message: Callable[[str], Awaitable[str]] | None = None,
        check_target: Callable[[str], Awaitable[None]] | None = None,
        webhooks_per_partner: int = 20,
        lookup_rooms: Callable[[str], Awaitable[dict[str, str]]] | None = None,
    ) -> None:
        """``admit`` queues deliveries with the senders, ``withdraw`` drops what they hold for
        a person; ``lookup_event`` asks the events service for an event not heard of yet;
        ``webhooks_per_partner``: the active subscriptions one partner may hold."""
        self.webhooks_per_partner = webhooks_per_partner
        self._lookup_event = lookup_event
        self._lookup_people = lookup_people
        self._lookup_message = lookup_message
        self._lookup_rooms = lookup_rooms
        self.region = region
        self.store = store
        self.sender = sender
        self.public_url = public_url
        self.secret = secret
        self._admit = admit
        self._withdraw = withdraw
        self._check_target = check_target

    # --- queueing ------------------------------------------------------------------------------

    async def queue_mail(self, mail: Mail, cause: Any) -> None:
        await self.queue_mails([(mail, cause)])

    async def queue_mails(self, items: Sequence[tuple[Mail, Any]]) -> None:
        """Queue mails in a few bulk operations, whatever their number: who was forgotten, who
        chose what, then one insert of every new delivery. A mail quoting an SME erased while it
        was being written is not queued."""
        if quoted := sorted({key for mail, _ in items for key in mail.about}):
            gone = await self.store.erased_among(quoted)
            items = [(mail, cause) for mail, cause in items if not gone & set(mail.about)]
            quoted = sorted(set(quoted) - gone)
        emails = sorted({mail.person.email.lower() for mail, _ in items})
        hashed = {email: email_hash(email) for email in emails}
        decided = mails.plan(
            items,
            await self.store.forgotten_among(list(hashed.values())),
            await self.store.preferences_of(emails),
            hashed,
        )
        await self.store.hold_for_digest(decided.hold)
        deliveries = []
        for mail, cause in decided.send:
            email = mail.person.email.lower()
            ident = delivery_id(cause.id, "email", email)
            message = compose(
                mail, ident, sender=self.sender, public_url=self.public_url, secret=self.secret
            )
            deliveries.append(
                {
                    "_id": ident,
                    "event_id": cause.id,
                    "channel": "email",
                    "kind": mail.kind,
                    "recipient": email,
                    "message": wire_text(message),
                    "about": list(mail.about),
                    "contact_of": mail.contact_of,
                    "correlationid": cause.correlationid,
                }
            )
        await self._admit(deliveries)
        if quoted:  # an erasure that came meanwhile finds these now (it ran before they were in)
            for key in await self.store.erased_among(quoted):
                await self.store.drop_mentions(key)
        # A contact read from the registry before their erasure, queued after it: forgotten now.
        contacts = sorted({m.person.email.lower() for m, _ in decided.send if m.contact_of})
        if contacts:
            gone = await self.store.forgotten_among([hashed[e] for e in contacts])
            for email in contacts:
                if hashed[email] in gone:
                    self._withdraw(email)
                    await self.store.forget(email)

    async def queue_webhooks(self, event: Envelope[Any]) -> None:
        """The partner systems whose subscription matches hear of the event, its body as sent."""
        name = event.type.split(".")[3]
        data = event.data.model_dump(mode="json")
        if not partners_may_hear(name, data):
            return
        region = str(data.get("region") or event.region)
        await self._admit(
            [
                {
                    "_id": delivery_id(event.id, "webhook", sub["_id"]),
                    "event_id": event.id,
                    "channel": "webhook",
                    "kind": name,
                    "recipient": sub["_id"],
                    "body": partner_body(event),
                    "correlationid": event.correlationid,
                }
                for sub in await self.store.active_subscriptions()
                if subscription_matches(sub, name, region, clusters_of(data))
            ]
        )

    # --- what the other services tell -----------------------------------------------------------

    async def on_event_published(self, entry: dict[str, Any]) -> None:
        await self.store.put_calendar_entry(entry | {"received_at": utc_key(datetime.now(UTC))})

    async def _entry(self, event_id: str) -> dict[str, Any]:
        entry = await self.store.calendar_entry(event_id)
        if entry is None and self._lookup_event:
            # Its event_published may still be on its way (another stream): ask the owner.
            entry = await self._lookup_event(event_id)
            if entry is not None:
                await self.on_event_published(entry)
        return mails.described(entry)

    async def on_registrations(self, kind: str | None, events: list[Envelope[Any]]) -> None:
        """A batch of registration events: their people asked of the events service (the events
        carry none), the people read model in one write, then the mails. A registration whose
        person was erased meanwhile is passed over."""
        facts = [(event, event.data.registration.model_dump(mode="json")) for event in events]
        ids = sorted({f["registration_id"] for _, f in facts})
        found = await self._lookup_people(ids) if self._lookup_people else []
        people = {r["registration_id"]: r for r in found}
        rows = [(e, f | people[f["registration_id"]]) for e, f in facts
                if f["registration_id"] in people]  # fmt: skip
        await self.store.put_registrations(
            [
                {
                    "_id": r["registration_id"],
                    "event_id": r["event_id"],
                    "email": r["email"].lower(),
                    "name": r["person_name"],
                    "language": r["language"],
                    "status": r["status"],
                    "sme_key": mails.sme_key(r["sme"]) if r.get("sme") else None,
                }
                for _, r in rows
            ]
        )
        if kind is None:
            return
        entries = {
            event_id: await self._entry(event_id) for event_id in {r["event_id"] for _, r in rows}
        }
        await self.queue_mails(
            [(mails.registration_mail(kind, r, entries[r["event_id"]]), e) for e, r in rows]
        )

    async def on_event_cancelled(self, event: Envelope[Any]) -> None:
        d = event.data
        entry = await self._entry(d.event_id)
        await self.store.mark_cancelled(d.event_id)
        await self.store.drop_reminders(event_id=d.event_id)
        await self.queue_mails(
            [
                (
                    mails.cancellation_mail(
                        Person(r["email"], r["name"], r["language"]), entry, d.reason
                    ),
                    event,
                )
                for r in await self.store.open_registrations(d.event_id)
            ]
        )

    async def on_profile_published(self, data: dict[str, Any]) -> None:
        """Public profiles are remembered for the digest and for their expiry notices."""
        p = data["profile"]
        if p["visibility"] != "private":
            await self.store.put_profile(
                {
                    "_id": p["profile_id"],
                    "title": p["title"],
                    "type": p["type"],
                    "expires_on": p["expires_on"],
                    "sme": data["sme"],
                    "received_at": utc_key(datetime.now(UTC)),
                }
            )

    async def on_profile_withdrawn(self, profile_id: str) -> None:
        await self.store.drop_profile(profile_id)

    async def on_sme_erased(self, sme: dict[str, Any]) -> None:
        """An erased SME's profiles go, and the people registered for it are forgotten as by
        forget_person: their preferences, their mail not yet sent, their address in the log."""
        await self.store.drop_profiles_of(sme["sme_id"])
        await self.store.drop_mentions(mails.sme_key(sme))
        await self._forget_registered(sme)

    async def on_contact_erased(self, erased: dict[str, Any]) -> None:
        """One contact of an SME was erased: forgotten as by forget_person, found by the digest
        of their address among the people registered for the SME, those mailed as its contacts
        (surveys, expiry notices) and those who set preferences. The digest is kept first, so
        a mail to them whose contacts were read before the erasure is not queued after it."""
        sme = {"sme_id": erased["sme_id"], "region": erased["region"]}
        digest = erased.get("email_sha256") or ""
        if not digest:
            return  # an older tombstone names nobody notify could find
        await self.store.forget_digest(digest)
        await self._forget_registered(sme, digest)
        for email in await self.store.preferences_with_digest(digest):
            self._withdraw(email)
            await self.store.forget(email)

    async def _forget_registered(self, sme: dict[str, Any], only: str | None = None) -> None:
        """The people registered for the SME, or mailed as its contacts (``only`` the one
        whose address has that digest), are forgotten as by forget_person."""
        key = mails.sme_key(sme)
        known = {*await self.store.registered_for(key), *await self.store.contacts_mailed(key)}
        for email in sorted(known):
            if only is None or rg.email_digest(email) == only:
                self._withdraw(email)
                await self.store.forget(email)

    async def _people(self, event_id: str, sme: dict[str, Any], wait: bool = False) -> list[Person]:
        """``wait``: give a registration confirmed a moment ago the time to arrive."""
        found = await self.store.confirmed_people(event_id, mails.sme_key(sme), wait=wait)
        return [Person(r["email"], r["name"], r["language"]) for r in found]

    async def _name(self, event_id: str, sme: dict[str, Any], wait: bool = False) -> str:
        people = await self._people(event_id, sme, wait)
        return people[0].name if people else sme["sme_id"]

    async def on_meeting(self, kind: str, event: Envelope[Any]) -> None:
        m = event.data.meeting.model_dump(mode="json")
        to, other = mails.meeting_parties(kind, m)
        entry = await self._entry(m["event_id"])
        # A meeting may be requested the moment both were confirmed: wait for them here. (An
        # agenda comes long after, and its people who are gone, erased, are not waited for.)
        other_name = await self._name(m["event_id"], other, wait=True)
        message = ""  # the event carries none: only a request's mail quotes it
        if kind == "meeting_requested" and self._lookup_message:
            message = await self._lookup_message(m["meeting_id"])
        await self.queue_mails(
            [
                (
                    replace(
                        mails.meeting_mail(kind, person, entry, other_name, message),
                        about=(mails.sme_key(other),),
                    ),
                    event,
                )
                for person in await self._people(m["event_id"], to, wait=True)
            ]
        )

    async def on_article_review_due(self, event: Envelope[Any]) -> None:
        """A guide article is due for review: its writers are reminded, once per version (the
        guide states it once; the event's id makes each mail once-only)."""
        data = event.data.model_dump(mode="json")
        await self.queue_mails([(mail, event) for mail in mails.review_due_mails(data)])

    async def on_meeting_placed(self, event: Envelope[Any]) -> None:
        """An organiser added a meeting to the schedule or moved it by hand: both of its sides
        are told, once (the event's id makes each mail once-only), where it is now."""
        placed = event.data.model_dump(mode="json")
        await self.store.plan_reminder(placed["event_id"], placed["meeting"])
        entry = await self._entry(placed["event_id"])
        rooms = await self._rooms(placed["event_id"], [placed["meeting"]])
        placed["meeting"] = mails.with_rooms(placed["meeting"], rooms)
        meeting, previous = placed["meeting"], placed.get("previous")
        items = []
        for side in meeting["participants"]:
            other = mails.other_party(meeting, mails.sme_key(side))
            name = await self._name(placed["event_id"], other)
            now = mails.agenda_row(meeting, entry, name)
            before = mails.agenda_row(previous, entry, name) if previous else None
            items += [
                (
                    replace(
                        mails.meeting_moved_mail(person, entry, placed, now, before),
                        about=(mails.sme_key(other),),
                    ),
                    event,
                )
                for person in await self._people(placed["event_id"], side)
            ]
        await self.queue_mails(items)

    async def message_participants(
        self, cmd: Envelope[c.MessageParticipants]
    ) -> c.ParticipantsMessaged:
        """The organiser's one mail to the audience chosen, once per command (its id makes each
        mail once-only), each person's preferences and unsubscribe link as for every mail."""
        d = cmd.data
        check_may_message(cmd.actor, d.event_id, self.region)
        entry = await self._entry(d.event_id)
        if entry == mails.described(None):  # neither known here nor from the events service
            raise not_found("event", d.event_id)
        busy = {mails.sme_key(s.model_dump()) for s in d.with_meetings}
        people = audience(await self.store.open_registrations(d.event_id), d.audience, busy)
        await self.queue_mails(
            [(participants_mail(person, entry, d.subject, d.body), cmd) for person in people]
        )
        return c.ParticipantsMessaged(event_id=d.event_id, addressed=len(people))

    async def _rooms(self, event_id: str, meetings: list[dict[str, Any]]) -> dict[str, str]:
        """The links of the remote meetings' rooms, as matching names them (none: no template,
        or matching not reachable now; the mail goes without them, the agenda has them)."""
        if self._lookup_rooms is None or all(m["table"] is not None for m in meetings):
            return {}
        return await self._lookup_rooms(event_id)

    async def on_schedule_published(self, event: Envelope[Any]) -> None:
        s = event.data.model_dump(mode="json")
        await self.store.plan_reminders(s["event_id"], s["meetings"])
        entry = await self._entry(s["event_id"])
        rooms = await self._rooms(s["event_id"], s["meetings"])
        s["meetings"] = [mails.with_rooms(m, rooms) for m in s["meetings"]]
        for key, sme in mails.schedule_participants(s).items():
            mine = mails.meetings_of(s, key)
            rows = [
                mails.agenda_row(
                    m, entry, await self._name(s["event_id"], mails.other_party(m, key))
                )
                for m in mine
            ]
            quoted = tuple(sorted({mails.sme_key(mails.other_party(m, key)) for m in mine}))
            await self.queue_mails(
                [
                    (
                        replace(
                            mails.schedule_mail(person, entry, rows, mine, s["version"]),
                            about=quoted,
                        ),
                        event,
                    )
                    for person in await self._people(s["event_id"], sme)
                ]
            )

    async def on_meeting_cancelled(self, event: Envelope[Any]) -> None:
        await self.store.drop_reminders(meeting_id=event.data.meeting.meeting_id)

    # --- periodic work -----------------------------------------------------------------------

    async def remind_of_meetings(self, minutes: int, now: datetime) -> int:
        """Each side's registered people get one mail about each meeting starting within
        ``minutes``: once, whichever notify instance or start sends it (its delivery's id is
        made of the meeting and its start), as they chose (preferences, unsubscribe)."""
        after, until = mails.reminder_window(now, minutes)
        due = await self.store.reminders_due(utc_key(after), utc_key(until))
        sent = 0
        for event_id in sorted({r["event_id"] for r in due}):
            mine = [r for r in due if r["event_id"] == event_id]
            entry = await self._entry(event_id)
            rooms = await self._rooms(event_id, [r["meeting"] for r in mine])
            for reminder in mine:
                meeting = mails.with_rooms(reminder["meeting"], rooms)
                items = []
                for side in meeting["participants"]:
                    other = mails.other_party(meeting, mails.sme_key(side))
                    row = mails.agenda_row(meeting, entry, await self._name(event_id, other))
                    cause = mails.reminder_cause(reminder)
                    items += [
                        (
                            replace(
                                mails.reminder_mail(person, entry, row),
                                about=(mails.sme_key(other),),
                            ),
                            cause,
                        )
                        for person in await self._people(event_id, side)
                    ]
                await self.queue_mails(items)
                await self.store.mark_reminded(reminder)
                sent += len(items)
        return sent

    async def expiring_profiles(self, within_days: int, contacts: Contacts, today: date) -> int:
        """Tell the consenting contacts of SMEs whose published profile expires soon, once per
        profile and expiry date. An SME whose contacts cannot be read now holds up no other's
        notices; the run then fails, and its notices come with a later run."""
        notices = []
        unread: list[Exception] = []
        for profile in await self.store.profiles_expiring(*mails.expiry_window(today, within_days)):
            try:
                people = await contacts(profile["sme"])
            except Exception as exc:
                unread.append(exc)
                continue
            notices += [mails.expiry_notice(profile, person) for person in people]
        await self.queue_mails(notices)
        if unread:
            raise unread[0]
        return len(notices)

    async def on_survey_opened(self, event: Envelope[Any], contacts: Contacts) -> int:
        """A survey opened to an SME's contacts: a mail to each who consented to be contacted
        (as every mail to a company's people), once per survey and person."""
        survey = event.data.model_dump(mode="json")
        people = await contacts(survey["sme"])
        await self.queue_mails(
            [(mails.survey_mail(survey, person, self.public_url), event) for person in people]
        )
        return len(people)

    async def send_digest(self, cmd: Envelope[c.SendDigest]) -> c.DigestSent:
        now = datetime.now(UTC)
        period = cmd.data.period or mails.digest_period(now.date())
        since = utc_key(now - timedelta(days=7))
        events = [mails.digest_event(e) for e in await self.store.calendar_since(since)]
        profiles = [mails.digest_profile(p) for p in await self.store.profiles_since(since)]
        recipients = 0
        for preferences in await self.store.everyone_with_preferences():
            held = await self.store.held_for(preferences["_id"])
            mail = mails.digest_mail(
                preferences, [i["text"] for i in held], period, events, profiles
            )
            if mail is None:
                continue
            await self.queue_mail(mail, DateCause(f"digest:{period}"))
            await self.store.drop_held([i["_id"] for i in held])
            recipients += 1
        return c.DigestSent(period=period, recipients=recipients)

    # --- commands ----------------------------------------------------------------------------

    async def subscribe_webhook(self, cmd: Envelope[c.SubscribeWebhook]) -> c.WebhookSubscription:
        check_subscriber(cmd.actor, cmd.data.partner_id)
        # The id derives from the command id: the same command again answers the same.
        ident = str(uuid.uuid5(_NAMESPACE, f"{self.region}:{command_key(cmd)}"))
        held = [s for s in await self.store.subscriptions_of(cmd.data.partner_id)
                if s.get("active") and s["_id"] != ident]  # fmt: skip
        check_room_for_webhook(cmd.data.partner_id, len(held), self.webhooks_per_partner)
        if self._check_target is not None:
            try:
                await self._check_target(str(cmd.data.url))
            except TargetRefused as refused:
                raise Refused(
                    "validation_failed",
                    f"this webhook URL is not accepted: {refused}",
                    fields=[{"field": "data.url", "message": str(refused), "type": "url"}],
                ) from None
        partner = cmd.data.partner_id
        if not await self.store.take_webhook_slot(partner, ident, self.webhooks_per_partner):
            check_room_for_webhook(partner, self.webhooks_per_partner, self.webhooks_per_partner)
        doc = {"_id": ident, **cmd.data.model_dump(mode="json"), "active": True}
        doc["event_types"] = event_names(cmd.data.event_types)
        await self.store.save_subscription(doc)
        return _subscription(doc)

    async def unsubscribe_webhook(
        self, cmd: Envelope[c.UnsubscribeWebhook]
    ) -> c.WebhookSubscription:
        doc = await self.store.subscription(cmd.data.subscription_id)
        if doc is None:
            raise not_found("webhook subscription", cmd.data.subscription_id)
        check_subscriber(cmd.actor, doc["partner_id"])
        await self.store.deactivate_subscription(doc["_id"])
        return _subscription(doc)

    async def set_preferences(self, cmd: Envelope[c.SetPreferences]) -> c.Preferences:
        check_own(cmd.actor, str(cmd.data.email), self.region)
        return await self._save_preferences(cmd.data)

    async def get_preferences(self, query: Envelope[c.GetPreferences]) -> c.Preferences:
        email = str(query.data.email).lower()
        check_own(query.actor, email, self.region)
        found = await self.store.preferences_for(email)
        if found is None:
            return c.Preferences(email=email, version=0)
        return c.Preferences.model_validate({k: v for k, v in found.items() if k != "_id"})

    async def _save_preferences(self, d: c.SetPreferences) -> c.Preferences:
        key = str(d.email).lower()
        current = await self.store.preferences_for(key)
        version = (current or {}).get("version", 0) + 1
        doc = {"_id": key, **d.model_dump(mode="json"), "email": key, "version": version}
        await self.store.save_preferences(doc)
        if not d.consent:
            await self._stop_pending(key)
        return c.Preferences.model_validate({k: v for k, v in doc.items() if k != "_id"})

    async def unsubscribe(self, cmd: Envelope[c.Unsubscribe]) -> c.Preferences:
        email = str(cmd.data.email).lower()
        # As bytes: compare_digest refuses str with other than ASCII (any text may be sent).
        if not hmac.compare_digest(token_for(self.secret, email).encode(), cmd.data.token.encode()):
            raise Refused(
                "forbidden",
                "the unsubscribe token does not match this address",
                fields=[{"field": "data.token", "message": "wrong token", "type": "token"}],
            )
        current = await self.store.preferences_for(email) or {}
        return await self._save_preferences(
            c.SetPreferences(
                email=email,
                language=current.get("language", "en"),
                kinds=current.get("kinds", {}),
                consent=False,
            )
        )

    async def _stop_pending(self, email: str) -> None:
        self._withdraw(email)
        await self.store.stop_queued(email, "consent withdrawn")

    async def send_account_mail(self, cmd: Envelope[c.SendAccountMail]) -> Accepted:
        mail, cause = mails.account_mail(cmd.data.model_dump(mode="json"), cmd.id)
        await self.queue_mail(mail, cause)
        return Accepted(id=cause.id, version=1)

    async def forget_person(self, cmd: Envelope[c.ForgetPerson]) -> Accepted:
        check_home_staff(cmd.actor, self.region)
        self._withdraw(str(cmd.data.email).lower())
        await self.store.forget(str(cmd.data.email))
        return Accepted(id="person", version=-1)

    async def list_deliveries(self, query: Envelope[c.ListDeliveries]) -> c.DeliveryPage:
        """Staff see every delivery; a partner only the calls to its own subscriptions."""
        q = query.data
        own = None
        if query.actor is not None and query.actor.role == "partner":
            own = [s["_id"] for s in await self.store.subscriptions_of(query.actor.id)]
        docs, cursor = await self.store.deliveries_page(
            q.channel, q.status, q.recipient, q.limit, q.cursor, only_recipients=own
        )
        return c.DeliveryPage(items=[delivery_view(d) for d in docs], next_cursor=cursor)


def _subscription(doc: dict[str, Any]) -> c.WebhookSubscription:
    return c.WebhookSubscription(
        subscription_id=doc["_id"],
        partner_id=doc["partner_id"],
        url=doc["url"],
        event_types=doc["event_types"],
        regions=doc["regions"],
        clusters=doc["clusters"],
    )
