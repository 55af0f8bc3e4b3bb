"""An organiser's message to an event's people: who may send one, who it is for, the mail. No
I/O."""

from __future__ import annotations

from typing import Any

from contracts.access import STAFF, Actor
from contracts.errors import Refused

from .mails import Mail, Person


def check_may_message(actor: Actor | None, event_id: str, region: str) -> None:
    """An organiser writes to the people of the events given to them; staff to their own
    region's events' people."""
    if actor is None:
        return
    if actor.role == "organiser" and event_id not in (actor.event_ids or []):
        raise Refused("forbidden", f"event {event_id} is not one of this organiser's")
    if actor.role in STAFF and actor.region != region:
        raise Refused("forbidden", f"staff of {actor.region} write only in their own region")


def audience(registrations: list[dict[str, Any]], chosen: str, busy: set[str]) -> list[Person]:
    """The people a message is for, each once (a person registered twice gets one mail):
    the waitlisted, or the confirmed, less those whose SME has a meeting if so chosen."""
    status = "waitlisted" if chosen == "waitlisted" else "confirmed"
    people: dict[str, Person] = {}
    for r in registrations:
        if r.get("status") != status:
            continue
        if chosen == "without_meetings" and r.get("sme_key") in busy:
            continue
        people.setdefault(r["email"].lower(), Person(r["email"], r["name"], r["language"]))
    return [people[e] for e in sorted(people)]


def participants_mail(person: Person, entry: dict[str, Any], subject: str, body: str) -> Mail:
    context = {"event": entry, "subject": subject, "body": body,
               "summary": f"{entry['title']}: {subject}"}  # fmt: skip
    return Mail("participants_message", person, context)
