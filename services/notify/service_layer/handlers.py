"""Notify use cases: from an event of another service to the mails and webhook calls it causes
(each queued once in the delivery log), and the commands of people and partner systems."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import icalendar
from pymongo import ReplaceOne, UpdateOne

from contracts import notify as c
from contracts.common import Accepted
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime.codec import encode
from mapnet.runtime.paging import keyset_page

from ..adapters.mail import compose, wire_text
from ..adapters.repository import NotifyStore, delivery_view, email_hash, utc_key
from ..domain.rules import (
    Attachment,
    Mail,
    Person,
    clusters_of,
    delivery_id,
    frequency,
    subscription_matches,
    unsubscribe_token,
)

_NAMESPACE = uuid.UUID("9e2c4b1a-7f3d-4c6e-8a5b-1d0f2e3c4b5a")


def sme_key(ref: dict[str, Any]) -> str:
    return f"{ref['region']}:{ref['sme_id']}"


def _when(entry: dict[str, Any]) -> str:
    start = datetime.fromisoformat(entry["starts_at"])
    return f"{start:%d %b %Y %H:%M} ({entry['timezone']})"


def _where(entry: dict[str, Any]) -> str:
    return ", ".join(p for p in (entry.get("venue"), entry.get("city"), entry.get("country")) if p)


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
        lookup_event: Callable[[str], Awaitable[dict[str, Any] | None]] | None = None,
    ) -> None:
        self._lookup_event = lookup_event
        self.region = region
        self.store = store
        self.sender = sender
        self.public_url = public_url
        self.secret = secret
        self._admit = admit
        self._withdraw = withdraw

    # --- queueing ------------------------------------------------------------------------------

    async def queue_mail(self, mail: Mail, event: Cause) -> None:
        await self.queue_mails([(mail, event)])

    async def queue_mails(self, items: Sequence[tuple[Mail, Cause]]) -> None:
        """Queue mails in a few bulk operations, whatever their number: who was forgotten, who
        chose what, then one insert of every new delivery."""
        emails = sorted({mail.person.email.lower() for mail, _ in items})
        forgotten = {
            d["_id"]
            async for d in self.store.forgotten.find(
                {"_id": {"$in": [email_hash(e) for e in emails]}}
            )
        }
        chosen = {d["_id"]: d async for d in self.store.preferences.find({"_id": {"$in": emails}})}
        deliveries, held = [], []
        for mail, event in items:
            email = mail.person.email.lower()
            if email_hash(email) in forgotten:
                continue
            preferences = chosen.get(email)
            if preferences and preferences.get("language") and mail.kind != "weekly_digest":
                mail.person = Person(email, mail.person.name, preferences["language"])
            how = frequency(mail.kind, preferences)
            if mail.kind == "weekly_digest" and how == "digest":
                how = "immediately"  # the digest itself is what was asked for
            if how == "never":
                continue
            if how == "digest":
                summary = mail.context.get("summary") or mail.kind.replace("_", " ")
                held.append(
                    UpdateOne(
                        {"_id": delivery_id(event.id, "digest", email)},
                        {"$set": {"email": email, "text": summary,
                                  "at": utc_key(datetime.now(UTC))}},
                        upsert=True,
                    )
                )  # fmt: skip
                continue
            ident = delivery_id(event.id, "email", email)
            message = compose(
                mail, ident, sender=self.sender, public_url=self.public_url, secret=self.secret
            )
            deliveries.append(
                {"_id": ident, "event_id": event.id, "channel": "email", "kind": mail.kind,
                 "recipient": email, "message": wire_text(message),
                 "correlationid": event.correlationid}
            )  # fmt: skip
        if held:
            await self.store.digest_items.bulk_write(held, ordered=False)
        await self._admit(deliveries)

    async def queue_webhooks(self, event: Envelope[Any], name: str, data: dict[str, Any]) -> None:
        region = str(data.get("region") or event.region)
        await self._admit(
            [
                {"_id": delivery_id(event.id, "webhook", sub["_id"]), "event_id": event.id,
                 "channel": "webhook", "kind": name, "recipient": sub["_id"],
                 "body": encode(event).decode(), "correlationid": event.correlationid}
                async for sub in self.store.subscriptions.find({"active": True})
                if subscription_matches(sub, name, region, clusters_of(data))
            ]
        )  # fmt: skip

    # --- what the other services tell -----------------------------------------------------------

    async def on_event_published(self, data: dict[str, Any]) -> None:
        await self.store.calendar.replace_one(
            {"_id": data["event_id"]}, {**data, "_id": data["event_id"]}, upsert=True
        )

    async def _entry(self, event_id: str) -> dict[str, Any]:
        entry = await self.store.calendar.find_one({"_id": event_id})
        if entry is None and self._lookup_event:
            # Its event_published may still be on its way (another stream): ask the owner.
            entry = await self._lookup_event(event_id)
            if entry is not None:
                await self.on_event_published(entry)
        if entry is None:
            return {"title": "your event", "when": "", "where": "", "timezone": "UTC"}
        return {**entry, "when": _when(entry), "where": _where(entry)}

    async def on_registrations(self, kind: str | None, events: list[Envelope[Any]]) -> None:
        """A batch of registration events: the people read model in one write, then the mails."""
        rows = [(event, event.data.registration.model_dump(mode="json")) for event in events]
        await self.store.registrations.bulk_write(
            [
                ReplaceOne(
                    {"_id": r["registration_id"]},
                    {"_id": r["registration_id"], "event_id": r["event_id"],
                     "email": r["email"].lower(), "name": r["person_name"],
                     "language": r["language"], "status": r["status"],
                     "sme_key": sme_key(r["sme"]) if r.get("sme") else None},
                    upsert=True,
                )
                for _, r in rows
            ],
            ordered=False,
        )  # fmt: skip
        if kind is None:
            return
        entries = {
            event_id: await self._entry(event_id) for event_id in {r["event_id"] for _, r in rows}
        }
        mails = []
        for event, r in rows:
            entry = entries[r["event_id"]]
            person = Person(r["email"].lower(), r["person_name"], r["language"])
            context = {"event": entry, "position": r.get("position"),
                       "summary": f"{kind.replace('_', ' ')}: {entry['title']}"}  # fmt: skip
            mails.append((Mail(kind, person, context), event))
        await self.queue_mails(mails)

    async def on_event_cancelled(self, event: Envelope[Any]) -> None:
        d = event.data
        entry = await self._entry(d.event_id)
        await self.store.calendar.update_one({"_id": d.event_id}, {"$set": {"status": "cancelled"}})
        async for r in self.store.registrations.find(
            {"event_id": d.event_id, "status": {"$in": ["confirmed", "waitlisted"]}}
        ):
            person = Person(r["email"], r["name"], r["language"])
            context = {"event": entry, "reason": d.reason,
                       "summary": f"cancelled: {entry['title']}"}  # fmt: skip
            await self.queue_mail(Mail("event_cancelled", person, context), event)

    async def _people(self, event_id: str, sme: dict[str, Any]) -> list[Person]:
        found = self.store.registrations.find(
            {"event_id": event_id, "sme_key": sme_key(sme), "status": "confirmed"}
        )
        return [Person(r["email"], r["name"], r["language"]) async for r in found]

    async def _name(self, event_id: str, sme: dict[str, Any]) -> str:
        people = await self._people(event_id, sme)
        return people[0].name if people else sme["sme_id"]

    async def on_meeting(self, kind: str, event: Envelope[Any]) -> None:
        m = event.data.meeting.model_dump(mode="json")
        to, other = (
            (m["receiver"], m["requester"]) if kind == "meeting_requested" else
            (m["requester"], m["receiver"])
        )  # fmt: skip
        entry = await self._entry(m["event_id"])
        other_name = await self._name(m["event_id"], other)
        for person in await self._people(m["event_id"], to):
            context = {"event": entry, "other": other_name, "message": m.get("message", ""),
                       "summary": f"{kind.replace('_', ' ')}: {other_name}"}  # fmt: skip
            await self.queue_mail(Mail(kind, person, context), event)

    async def on_schedule_published(self, event: Envelope[Any]) -> None:
        s = event.data.model_dump(mode="json")
        entry = await self._entry(s["event_id"])
        tz = ZoneInfo(entry.get("timezone") or "UTC")
        participants = {sme_key(p): p for m in s["meetings"] for p in m["participants"]}
        for key, sme in participants.items():
            mine = [m for m in s["meetings"] if key in {sme_key(p) for p in m["participants"]}]
            rows = []
            for m in mine:
                other = next(p for p in m["participants"] if sme_key(p) != key)
                start = datetime.fromisoformat(m["starts_at"]).astimezone(tz)
                place = f"table {m['table'] + 1}" if m["table"] is not None else "online"
                name = await self._name(s["event_id"], other)
                rows.append({"time": f"{start:%d %b %H:%M}", "place": place, "with": name})
            attachment = Attachment(
                "meetings.ics", "text/calendar", _schedule_ics(entry, mine, s["version"])
            )
            for person in await self._people(s["event_id"], sme):
                context = {"event": entry, "meetings": rows,
                           "summary": f"your {len(rows)} meetings at {entry['title']}"}  # fmt: skip
                await self.queue_mail(
                    Mail("schedule_published", person, context, [attachment]), event
                )

    # --- periodic work -----------------------------------------------------------------------

    async def expiring_profiles(self, within_days: int, contacts: Any, today: date) -> int:
        """Tell the consenting contacts of SMEs whose published profile expires soon, once per
        profile and expiry date."""
        told = 0
        horizon = (today + timedelta(days=within_days)).isoformat()
        async for p in self.store.profiles.find(
            {"expires_on": {"$lte": horizon, "$gte": today.isoformat()}}
        ):
            for person in await contacts(p["sme"]):
                event_id = f"expiry:{p['_id']}:{p['expires_on']}"
                synthetic: Any = _Synthetic(event_id)
                context = {
                    "title": p["title"],
                    "expires_on": p["expires_on"],
                    "company": p["sme"].get("legal_name", ""),
                    "summary": f"profile {p['title']} expires {p['expires_on']}",
                }
                await self.queue_mail(Mail("profile_expiring", person, context), synthetic)
                told += 1
        return told

    async def send_digest(self, cmd: Envelope[c.SendDigest]) -> c.DigestSent:
        today = datetime.now(UTC).date()
        year, week, _ = today.isocalendar()
        period = cmd.data.period or f"{year}-W{week:02d}"
        since = utc_key(datetime.now(UTC) - timedelta(days=7))
        events = [
            {"title": e["title"], "when": _when(e), "where": _where(e)}
            async for e in self.store.calendar.find({"received_at": {"$gte": since}})
        ]
        profiles = [
            {"title": p["title"], "type": p["type"], "country": p["sme"].get("country", "")}
            async for p in self.store.profiles.find({"received_at": {"$gte": since}})
        ]
        recipients = 0
        async for pref in self.store.preferences.find({}):
            held = [i async for i in self.store.digest_items.find({"email": pref["_id"]})]
            wants_digest = frequency("weekly_digest", pref) != "never"
            if not pref.get("consent", True) or not (wants_digest or held):
                continue
            person = Person(pref["_id"], pref.get("name", ""), pref.get("language", "en"))
            context = {"period": period, "events": events if wants_digest else [],
                       "profiles": profiles if wants_digest else [],
                       "items": [i["text"] for i in held]}  # fmt: skip
            mail = Mail("weekly_digest", person, context)
            await self.queue_mail(mail, _Synthetic(f"digest:{period}"))
            await self.store.digest_items.delete_many({"_id": {"$in": [i["_id"] for i in held]}})
            recipients += 1
        return c.DigestSent(period=period, recipients=recipients)

    # --- commands ----------------------------------------------------------------------------

    async def subscribe_webhook(self, cmd: Envelope[c.SubscribeWebhook]) -> c.WebhookSubscription:
        d = cmd.data
        ident = str(uuid.uuid5(_NAMESPACE, f"{self.region}:{cmd.id}"))
        doc = {"_id": ident, **d.model_dump(mode="json"), "active": True}
        await self.store.subscriptions.replace_one({"_id": ident}, doc, upsert=True)
        return _subscription(doc)

    async def unsubscribe_webhook(
        self, cmd: Envelope[c.UnsubscribeWebhook]
    ) -> c.WebhookSubscription:
        doc = await self.store.subscriptions.find_one({"_id": cmd.data.subscription_id})
        if doc is None:
            raise not_found("webhook subscription", cmd.data.subscription_id)
        await self.store.subscriptions.update_one({"_id": doc["_id"]}, {"$set": {"active": False}})
        return _subscription(doc)

    async def set_preferences(self, cmd: Envelope[c.SetPreferences]) -> c.Preferences:
        return await self._save_preferences(cmd.data)

    async def _save_preferences(self, d: c.SetPreferences) -> c.Preferences:
        key = str(d.email).lower()
        current = await self.store.preferences.find_one({"_id": key})
        version = (current or {}).get("version", 0) + 1
        doc = {"_id": key, **d.model_dump(mode="json"), "email": key, "version": version}
        await self.store.preferences.replace_one({"_id": key}, doc, upsert=True)
        if not d.consent:
            await self._stop_pending(key)
        return c.Preferences.model_validate({k: v for k, v in doc.items() if k != "_id"})

    async def unsubscribe(self, cmd: Envelope[c.Unsubscribe]) -> c.Preferences:
        email = str(cmd.data.email).lower()
        expected = unsubscribe_token(self.secret, email)
        if not hmac.compare_digest(expected, cmd.data.token):
            raise Refused(
                "forbidden",
                "the unsubscribe token does not match this address",
                fields=[{"field": "data.token", "message": "wrong token", "type": "token"}],
            )
        current = await self.store.preferences.find_one({"_id": email}) or {}
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

    async def forget_person(self, cmd: Envelope[c.ForgetPerson]) -> Accepted:
        self._withdraw(str(cmd.data.email).lower())
        await self.store.forget(str(cmd.data.email))
        return Accepted(id="person", version=-1)

    async def list_deliveries(self, query: Envelope[c.ListDeliveries]) -> c.DeliveryPage:
        q = query.data
        clauses: list[dict[str, Any]] = []
        if q.channel:
            clauses.append({"channel": q.channel})
        if q.status == "pending":
            clauses.append({"status": {"$in": ["pending", "sending"]}})
        elif q.status:
            clauses.append({"status": q.status})
        if q.recipient:
            clauses.append({"recipient": q.recipient.lower()})
        docs, cursor = await keyset_page(
            self.store.deliveries, clauses, "updated_at", q.limit, q.cursor
        )
        return c.DeliveryPage(items=[delivery_view(d) for d in docs], next_cursor=cursor)


class Cause(Protocol):
    """What a mail is about: an event, or a date (profile expiry, the weekly digest)."""

    @property
    def id(self) -> str: ...

    @property
    def correlationid(self) -> str: ...


class _Synthetic:
    """Stands in for an event where the cause is a date, not a message."""

    def __init__(self, ident: str) -> None:
        self.id = ident
        self.correlationid = ident


def _subscription(doc: dict[str, Any]) -> c.WebhookSubscription:
    return c.WebhookSubscription(
        subscription_id=doc["_id"],
        partner_id=doc["partner_id"],
        url=doc["url"],
        event_types=doc["event_types"],
        regions=doc["regions"],
        clusters=doc["clusters"],
    )


def _schedule_ics(entry: dict[str, Any], meetings: list[dict[str, Any]], version: int) -> bytes:
    cal = icalendar.Calendar.new(
        prodid="-//MAPnet//Brokerage schedule//EN", name=entry["title"], method="PUBLISH"
    )
    for m in meetings:
        cal.add_component(
            icalendar.Event.new(
                uid=f"{m['meeting_id']}@mapnet.eu",
                sequence=version,
                start=datetime.fromisoformat(m["starts_at"]),
                end=datetime.fromisoformat(m["ends_at"]),
                summary=f"Meeting at {entry['title']}",
                location=f"table {m['table'] + 1}" if m["table"] is not None else "online",
            )
        )
    return cal.to_ical()
