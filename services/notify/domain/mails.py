"""Who gets which mail, when and about what: the decisions notify makes for each fact it hears
(registrations, meetings, schedules, cancellations, expiring profiles, the weekly digest), as
pure functions of what it knows. No I/O: the service layer reads, these decide, it writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import icalendar
from email_validator import EmailNotValidError, validate_email

from .rules import Attachment, Mail, Person, delivery_id, frequency

# What notify writes when it knows nothing of an event (its facts are still on their way).
UNKNOWN_EVENT: dict[str, Any] = {"title": "your event", "when": "", "where": "", "timezone": "UTC"}


@dataclass(frozen=True)
class DateCause:
    """Stands in for an event where the cause of a mail is a date (profile expiry, the weekly
    digest): its id makes the mail once-only like an event's."""

    id: str

    @property
    def correlationid(self) -> str:
        return self.id


@dataclass
class MailPlan:
    """What to do with a batch of mails: send these now, hold these lines for the digest."""

    send: list[tuple[Mail, Any]] = field(default_factory=list)
    # (id, email, text, the SMEs the text quotes: their erasure takes the line out)
    hold: list[tuple[str, str, str, tuple[str, ...]]] = field(default_factory=list)


def plan(
    items: Iterable[tuple[Mail, Any]],
    forgotten: set[str],
    preferences: Mapping[str, dict[str, Any]],
    hashed: Mapping[str, str],
) -> MailPlan:
    """Each mail to a person who was forgotten (by ``hashed`` email) goes nowhere; otherwise as
    the person chose: now, in the digest, or never, in the language they chose."""
    decided = MailPlan()
    for mail, cause in items:
        email = mail.person.email.lower()
        if hashed[email] in forgotten:
            continue
        chosen = preferences.get(email)
        if chosen and chosen.get("language") and mail.kind != "weekly_digest":
            mail.person = Person(email, mail.person.name, chosen["language"])
        how = frequency(mail.kind, chosen)
        if mail.kind == "weekly_digest" and how == "digest":
            how = "immediately"  # the digest itself is what was asked for
        if how == "digest":
            summary = mail.context.get("summary") or mail.kind.replace("_", " ")
            ident = delivery_id(cause.id, "digest", email)
            decided.hold.append((ident, email, summary, mail.about))
        elif how == "immediately":
            decided.send.append((mail, cause))
    return decided


# --- what a mail says about an event --------------------------------------------------------


def when(entry: dict[str, Any]) -> str:
    start = datetime.fromisoformat(entry["starts_at"])
    return f"{start:%d %b %Y %H:%M} ({entry['timezone']})"


def where(entry: dict[str, Any]) -> str:
    return ", ".join(p for p in (entry.get("venue"), entry.get("city"), entry.get("country")) if p)


def described(entry: dict[str, Any] | None) -> dict[str, Any]:
    """An event as the templates show it (a stand-in when it is not known yet)."""
    if entry is None:
        return dict(UNKNOWN_EVENT)
    return {**entry, "when": when(entry), "where": where(entry)}


def sme_key(ref: Mapping[str, Any]) -> str:
    return f"{ref['region']}:{ref['sme_id']}"


def registration_mail(kind: str, registration: dict[str, Any], entry: dict[str, Any]) -> Mail:
    person = Person(registration["email"].lower(), registration["person_name"],
                    registration["language"])  # fmt: skip
    context = {"event": entry, "position": registration.get("position"),
               "summary": f"{kind.replace('_', ' ')}: {entry['title']}"}  # fmt: skip
    return Mail(kind, person, context)


def cancellation_mail(person: Person, entry: dict[str, Any], reason: str) -> Mail:
    context = {"event": entry, "reason": reason, "summary": f"cancelled: {entry['title']}"}
    return Mail("event_cancelled", person, context)


MeetingKind = Literal["meeting_requested", "meeting_accepted", "meeting_declined"]


def meeting_parties(kind: str, meeting: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(who is told, who it is about): a request goes to its receiver, an answer back to the
    requester."""
    if kind == "meeting_requested":
        return meeting["receiver"], meeting["requester"]
    return meeting["requester"], meeting["receiver"]


def meeting_mail(
    kind: str, person: Person, entry: dict[str, Any], other_name: str, message: str
) -> Mail:
    context = {"event": entry, "other": other_name, "message": message,
               "summary": f"{kind.replace('_', ' ')}: {other_name}"}  # fmt: skip
    return Mail(kind, person, context)


# --- a published schedule -------------------------------------------------------------------


def schedule_participants(schedule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {sme_key(p): p for m in schedule["meetings"] for p in m["participants"]}


def meetings_of(schedule: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [m for m in schedule["meetings"] if key in {sme_key(p) for p in m["participants"]}]


def other_party(meeting: dict[str, Any], key: str) -> dict[str, Any]:
    return next(p for p in meeting["participants"] if sme_key(p) != key)


def agenda_row(meeting: dict[str, Any], entry: dict[str, Any], with_name: str) -> dict[str, str]:
    tz = ZoneInfo(entry.get("timezone") or "UTC")
    start = datetime.fromisoformat(meeting["starts_at"]).astimezone(tz)
    place = f"table {meeting['table'] + 1}" if meeting["table"] is not None else "online"
    # A remote meeting's room, when matching named one (only the two sides are mailed it).
    room = meeting.get("room_url") or ""
    return {"time": f"{start:%d %b %H:%M}", "place": place, "with": with_name, "room": room}


def schedule_mail(
    person: Person,
    entry: dict[str, Any],
    rows: list[dict[str, str]],
    meetings: list[dict[str, Any]],
    version: int,
) -> Mail:
    attachment = Attachment("meetings.ics", "text/calendar", schedule_ics(entry, meetings, version))
    context = {"event": entry, "meetings": rows,
               "summary": f"your {len(rows)} meetings at {entry['title']}"}  # fmt: skip
    return Mail("schedule_published", person, context, [attachment])


def one_line(text: str) -> str:
    """Stored text as one line: a line break would end a mail header or an iCal line (the
    contracts refuse them in titles and names; what was stored before must still be sent)."""
    return " ".join(text.split())


def schedule_ics(entry: dict[str, Any], meetings: Sequence[dict[str, Any]], version: int) -> bytes:
    title = one_line(entry["title"])
    cal = icalendar.Calendar.new(
        prodid="-//MAPnet//Brokerage schedule//EN", name=title, method="PUBLISH"
    )
    for m in meetings:
        cal.add_component(
            icalendar.Event.new(
                uid=f"{m['meeting_id']}@mapnet.eu",
                sequence=version,
                start=datetime.fromisoformat(m["starts_at"]),
                end=datetime.fromisoformat(m["ends_at"]),
                summary=f"Meeting at {title}",
                location=m.get("room_url")
                or (f"table {m['table'] + 1}" if m["table"] is not None else "online"),
                url=m.get("room_url"),
            )
        )
    return cal.to_ical()


def meeting_moved_mail(
    person: Person,
    entry: dict[str, Any],
    placed: dict[str, Any],
    now: dict[str, str],
    before: dict[str, str] | None,
) -> Mail:
    """A meeting added to the schedule or moved by hand: where it is now (and was), with the
    meeting as a calendar entry that replaces the one the schedule gave (a later sequence)."""
    meeting = placed["meeting"]
    attachment = Attachment(
        "meeting.ics", "text/calendar", schedule_ics(entry, [meeting], placed["version"])
    )
    context = {"event": entry, "now": now, "before": before,
               "summary": f"meeting with {now['with']} {'moved' if before else 'added'}: "
               f"{now['time']}"}  # fmt: skip
    return Mail("meeting_moved", person, context, [attachment])


def with_rooms(meeting: dict[str, Any], rooms: Mapping[str, str]) -> dict[str, Any]:
    """A scheduled meeting with its room's link, if it has one."""
    room = rooms.get(meeting["meeting_id"])
    return {**meeting, "room_url": room} if room else meeting


def reminder_cause(reminder: dict[str, Any]) -> DateCause:
    """Once per meeting and start: a meeting moved is reminded again at its new time."""
    return DateCause(f"reminder:{reminder['_id']}:{reminder['starts_at']}")


def reminder_mail(person: Person, entry: dict[str, Any], row: dict[str, str]) -> Mail:
    """A meeting is about to begin: when, where (its room's link when remote) and with whom."""
    context = {"event": entry, "meeting": row,
               "summary": f"meeting with {row['with']} at {row['time']}"}  # fmt: skip
    return Mail("meeting_reminder", person, context)


def reminder_window(now: datetime, minutes: int) -> tuple[datetime, datetime]:
    """Meetings starting after now and at most ``minutes`` ahead are reminded of now."""
    return now, now + timedelta(minutes=minutes)


def account_mail(data: dict[str, Any], command_id: str) -> tuple[Mail, DateCause]:
    """An invitation or a password reset link, once per command."""
    person = Person(data["email"].lower(), data.get("name", ""), data.get("language", "en"))
    expires = datetime.fromisoformat(data["expires_at"])
    context = {**data, "expires": f"{expires:%d %B %Y %H:%M} UTC",
               "summary": data["kind"].replace("_", " ")}  # fmt: skip
    return Mail(data["kind"], person, context), DateCause(f"account:{command_id}")


# --- a survey of the SMEs' feedback --------------------------------------------------------

OCCASIONS = {"meeting": "your meeting at a brokerage event", "event": "an event you attended",
             "coaching_stage": "your coaching"}  # fmt: skip


def survey_mail(survey: dict[str, Any], person: Person, public_url: str) -> Mail:
    """A survey opened to an SME's contacts: what it asks about, until when, and where to
    answer it (the portal's page of the survey, behind its sign-in)."""
    occasion = survey["occasion"]
    about = OCCASIONS.get(occasion["kind"], "your work with the MAP")
    if occasion["kind"] == "coaching_stage":
        about = f"{about}: the stage '{occasion['ref']}' reached"
    closes_on = datetime.fromisoformat(survey["closes_at"]).date().isoformat()
    context = {
        "about": about,
        "closes_on": closes_on,
        "link": f"{public_url.rstrip('/')}/surveys/{survey['survey_id']}",
        "summary": f"a short survey about {about}",
    }
    key = sme_key(survey["sme"])
    return Mail("survey_opened", person, context, about=(key,), contact_of=key)


# --- dates: expiring profiles, the weekly digest --------------------------------------------


def expiry_window(today: date, within_days: int) -> tuple[str, str]:
    """Profiles expiring from today to ``within_days`` ahead (ISO dates, inclusive)."""
    return today.isoformat(), (today + timedelta(days=within_days)).isoformat()


def expiry_notice(profile: dict[str, Any], person: Person) -> tuple[Mail, DateCause]:
    """Once per profile and expiry date: a profile renewed to a later date is noticed again."""
    cause = DateCause(f"expiry:{profile['_id']}:{profile['expires_on']}")
    context = {
        "title": profile["title"],
        "expires_on": profile["expires_on"],
        "company": profile["sme"].get("legal_name", ""),
        "summary": f"profile {profile['title']} expires {profile['expires_on']}",
    }
    key = sme_key(profile["sme"])
    return Mail("profile_expiring", person, context, about=(key,), contact_of=key), cause


def _address(writer: str) -> str | None:
    """A writer's id as a mail address, if it is one (staff sign in with theirs; a partner's or
    the demo's id is not mailed)."""
    try:
        return validate_email(writer.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def review_due_mails(data: dict[str, Any]) -> list[Mail]:
    """A guide article's published version is due for review: a reminder to its author and to
    those who wrote the version (the ones whose id is an address), each once."""
    writers = [data["author"], *data.get("written_by", [])]
    addresses = sorted({a for w in writers if (a := _address(w))})
    context = {
        "title": data["title"],
        "market": data["market"],
        "topic": data["topic"].replace("_", " "),
        "version": data["version"],
        "review_by": data["review_by"],
        "article_id": data["article_id"],
        "summary": f"guide article {data['title']} to be reviewed by {data['review_by']}",
    }
    return [Mail("article_review_due", Person(email), context) for email in addresses]


def digest_period(today: date) -> str:
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


def digest_mail(
    preferences: dict[str, Any],
    held: list[str],
    period: str,
    events: list[dict[str, Any]],
    profiles: list[dict[str, Any]],
) -> Mail | None:
    """The week's digest for one person: the news if they asked for it, and the lines held
    for them; nothing for a person who withdrew consent or has nothing to read."""
    wants_news = frequency("weekly_digest", preferences) != "never"
    if not preferences.get("consent", True) or not (wants_news or held):
        return None
    person = Person(preferences["_id"], preferences.get("name", ""),
                    preferences.get("language", "en"))  # fmt: skip
    context = {"period": period, "events": events if wants_news else [],
               "profiles": profiles if wants_news else [], "items": held}  # fmt: skip
    return Mail("weekly_digest", person, context)


def digest_event(entry: dict[str, Any]) -> dict[str, str]:
    return {"title": entry["title"], "when": when(entry), "where": where(entry)}


def digest_profile(profile: dict[str, Any]) -> dict[str, str]:
    return {"title": profile["title"], "type": profile["type"],
            "country": profile["sme"].get("country", "")}  # fmt: skip
