"""Every kind of mail, produced by the real services and received by a real SMTP server."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest

from contracts import events as ev
from contracts import matching as mt
from contracts import notify as c
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.dev.mailbox import MailStore
from mapnet.runtime.bus import BusClient
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")

SOON = (datetime.now(UTC) + timedelta(days=30)).date()
DEADLINE = (datetime.now(UTC) + timedelta(days=5)).isoformat()


def mails(store: MailStore, kind: str | None = None, to: str | None = None) -> list[EmailMessage]:
    found = [message_from_bytes(raw, policy=policy.default) for raw in list(store.received)]
    return [
        m
        for m in found
        if (kind is None or m["X-Mapnet-Kind"] == kind) and (to is None or m["To"] == to)
    ]


async def wait_for(store: MailStore, kind: str, count: int = 1, to: str | None = None) -> list[Any]:
    try:
        return await eventually(
            lambda: _async(mails(store, kind, to)), until=lambda found: len(found) >= count
        )
    except AssertionError:
        seen = [(m["To"], m["X-Mapnet-Kind"]) for m in mails(store)]
        raise AssertionError(f"no {count} {kind} mail(s) to {to}; received {seen}") from None


async def _async(value: Any) -> Any:
    return value


def entry(**extra: Any) -> ev.PublishEvent:
    base: dict[str, Any] = {
        "partner_id": "map",
        "external_id": str(uuid.uuid4()),
        "kind": "training_course",
        "title": "Export Bootcamp",
        "starts_at": f"{SOON}T09:00:00",
        "ends_at": f"{SOON}T17:00:00",
        "timezone": "Europe/Tallinn",
        "city": "Tallinn",
        "country": "EE",
        "course": {
            "capacity": 1,
            "sessions": [f"{SOON}T09:00:00+02:00"],
            "completion_min_sessions": 1,
        },
    }
    return ev.PublishEvent.model_validate(base | extra)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


async def test_registration_mails_in_the_persons_language_with_unsubscribe(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    course = await client.call(ev.PUBLISH_EVENT, entry(), region)
    for email, language in (("mari@example.ee", "et"), ("anna@example.fi", "fi")):
        await client.call(
            ev.REGISTER_PARTICIPANT,
            ev.RegisterParticipant(
                event_id=course.event_id, person_name=email.split("@")[0].title(), email=email,
                language=language,
            ),
            region,
        )  # fmt: skip
    confirmed = (await wait_for(store, "registration_confirmed"))[0]
    assert confirmed["To"] == "mari@example.ee"
    assert confirmed["Subject"] == "Teie koht on kinnitatud: Export Bootcamp"  # Estonian
    text, html = parts(confirmed)
    assert "Mari" in text and "<b>Export Bootcamp</b>" in html
    assert "unsubscribe?" in text and confirmed["List-Unsubscribe"].startswith("<http")
    waitlisted = (await wait_for(store, "registration_waitlisted"))[0]
    # No Finnish template: English.
    assert waitlisted["Subject"] == "You are on the waiting list: Export Bootcamp"
    assert "number 1 on the waiting list" in parts(waitlisted)[0]

    await client.call(
        ev.CANCEL_EVENT, ev.CancelEvent(event_id=course.event_id, reason="flu"), region
    )
    cancelled = await wait_for(store, "event_cancelled", 2)
    assert {m["To"] for m in cancelled} == {"mari@example.ee", "anna@example.fi"}
    assert "Reason: flu" in parts(cancelled[0])[0]


async def test_meeting_and_schedule_mails_carry_the_personal_ics(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    names = [(f"Person {n}", f"p{n}@example.lv") for n in range(2)]
    event, people = await brokerage_with(client, region, "Brokerage Day", names, tables=4)

    async def requested() -> Any:
        try:
            return await client.call(
                mt.REQUEST_MEETING,
                mt.RequestMeeting(event_id=event.event_id, requester=people[0],
                                  receiver=people[1], message="Let us talk lasers"),
                region,
            )  # fmt: skip
        except Refused:
            return None

    meeting = await eventually(requested, until=lambda m: m is not None)
    asked = (await wait_for(store, "meeting_requested"))[0]
    assert asked["To"] == "p1@example.lv" and "Let us talk lasers" in parts(asked)[0]
    assert "Person 0" in asked["Subject"]
    await client.call(
        mt.RESPOND_MEETING,
        mt.RespondMeeting(meeting_id=meeting.meeting_id, accept=True, responder=people[1]),
        region,
    )
    accepted = (await wait_for(store, "meeting_accepted"))[0]
    assert accepted["To"] == "p0@example.lv"

    await client.call(
        mt.SCHEDULE_EVENT, mt.ScheduleEvent(event_id=event.event_id, time_limit_s=2), region
    )
    schedules = await wait_for(store, "schedule_published", 2)
    assert {m["To"] for m in schedules} == {"p0@example.lv", "p1@example.lv"}
    attachment = next(schedules[0].iter_attachments())
    assert attachment.get_filename() == "meetings.ics"
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["UID"]) == f"{meeting.meeting_id}@mapnet.eu"

    third = SmeRef(sme_id="sme-x", region=region)
    await client.call(
        ev.REGISTER_PARTICIPANT,
        ev.RegisterParticipant(event_id=event.event_id, person_name="X", email="x@example.lv",
                               sme=third),
        region,
    )  # fmt: skip
    declined_request = await eventually(
        lambda: _request(client, region, event.event_id, third, people[0]),
        until=lambda m: m is not None,
    )
    await client.call(
        mt.RESPOND_MEETING,
        mt.RespondMeeting(
            meeting_id=declined_request.meeting_id, accept=False, responder=people[0]
        ),
        region,
    )
    declined = (await wait_for(store, "meeting_declined"))[0]
    assert declined["To"] == "x@example.lv" and "declined" in declined["Subject"]


async def _request(client: BusClient, region: str, event_id: str, a: SmeRef, b: SmeRef) -> Any:
    try:
        return await client.call(
            mt.REQUEST_MEETING,
            mt.RequestMeeting(event_id=event_id, requester=a, receiver=b),
            region,
        )
    except Refused:
        return None


async def test_profile_expiry_notice_and_weekly_digest(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    sme = await client.call(
        rg.REGISTER_SME,
        rg.RegisterSme.model_validate(
            {"legal_name": "Valgus OÜ", "registration_number": "14000009", "country": "EE",
             "contacts": [{"name": "Kati", "email": "kati@valgus.ee", "consent_contact": True},
                          {"name": "Jaan", "email": "jaan@valgus.ee"}]}
        ),
        region,
    )  # fmt: skip
    await client.call(
        rg.PUBLISH_PROFILE,
        rg.PublishProfile(
            sme_id=sme.sme_id,
            profile=rg.ProfileInput(
                type="technology_offer", title="Laser glass cutting", summary="Fast and clean",
                partnership_types=["licence"], expires_on=date.today() + timedelta(days=5),
            ),
        ),
        region,
    )  # fmt: skip
    notice = (await wait_for(store, "profile_expiring"))[0]
    assert notice["To"] == "kati@valgus.ee"  # Jaan gave no consent to be contacted
    assert "Laser glass cutting" in notice["Subject"]

    await client.call(
        ev.PUBLISH_EVENT, entry(title="Photonics Night", course=None, kind="webinar"), region
    )
    await client.call(
        c.SET_PREFERENCES,
        c.SetPreferences(email="reader@example.se", kinds={"weekly_digest": "digest"}),
        region,
    )

    async def digest_text() -> str:
        # Each period is a digest of its own; ask again until the new entry has reached notify.
        await client.call(c.SEND_DIGEST, c.SendDigest(period=str(uuid.uuid4())), region)
        sent = mails(store, "weekly_digest", "reader@example.se")
        return parts(sent[-1])[0] if sent else ""

    text = await eventually(digest_text, until=lambda text: "Photonics Night" in text)
    assert "Laser glass cutting" in text and text.startswith("Hello,")


async def test_consent_withdrawal_unsubscribe_and_forgetting_stop_mail(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    with pytest.raises(Refused) as refused:
        await client.call(c.UNSUBSCRIBE, c.Unsubscribe(email="a@example.dk", token="bad"), region)
    assert refused.value.code == "forbidden"
    await client.call(
        c.SET_PREFERENCES, c.SetPreferences(email="a@example.dk", consent=False), region
    )
    await client.call(c.FORGET_PERSON, c.ForgetPerson(email="b@example.dk", reason="asked"), region)
    course = await client.call(ev.PUBLISH_EVENT, entry(course={
        "capacity": 5, "sessions": [f"{SOON}T09:00:00+02:00"], "completion_min_sessions": 1}),
        region)  # fmt: skip
    for email in ("a@example.dk", "b@example.dk", "c@example.dk"):
        await client.call(
            ev.REGISTER_PARTICIPANT,
            ev.RegisterParticipant(event_id=course.event_id, person_name="P", email=email),
            region,
        )
    await wait_for(store, "registration_confirmed", to="c@example.dk")
    assert not mails(store, to="a@example.dk") and not mails(store, to="b@example.dk")
    # The token of any mail stops everything for that address.
    link = mails(store, to="c@example.dk")[0]["List-Unsubscribe"]
    token = link.split("token=")[1].rstrip(">")
    prefs = await client.call(
        c.UNSUBSCRIBE, c.Unsubscribe(email="c@example.dk", token=token), region
    )
    assert prefs.consent is False


async def test_an_account_mail_goes_out_once_even_to_someone_who_stopped_all_mail(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    await client.call(c.SET_PREFERENCES, c.SetPreferences(email="kadri@example.ee", consent=False),
                      region)  # fmt: skip
    invite = c.SendAccountMail(
        kind="invitation", email="kadri@example.ee", name="Kadri", role="map_staff",
        link="https://map.example/welcome/abc123", region=region,
        expires_at=datetime.now(UTC) + timedelta(days=7),
    )  # fmt: skip
    portal = Actor(id=f"portal/{region}", role="service", region=region)
    for _ in range(2):  # the same command twice: one mail
        await client.call(c.SEND_ACCOUNT_MAIL, invite, region, id="invite-kadri-1", actor=portal)
    [mail] = await wait_for(store, "invitation", to="kadri@example.ee")
    text, html = parts(mail)
    assert "https://map.example/welcome/abc123" in text and "as map staff" in text
    assert 'href="https://map.example/welcome/abc123"' in html
    assert len(mails(store, "invitation", "kadri@example.ee")) == 1
    with pytest.raises(Refused) as refused:
        sme = Actor(id="kadri@example.ee", role="sme", region=region, sme_id="x")
        await client.call(c.SEND_ACCOUNT_MAIL, invite, region, actor=sme)
    assert refused.value.code == "forbidden"


async def brokerage_with(
    client: BusClient, region: str, title: str, names: list[tuple[str, str]], tables: int
) -> tuple[Any, list[SmeRef]]:
    """A brokerage event soon, and one registered person per (name, address), each for an SME
    of their own (``<first word of the name, lower>-<n>``)."""
    event = await client.call(
        ev.PUBLISH_EVENT,
        entry(
            kind="brokerage_event", course=None, title=title,
            brokerage={"days": [SOON.isoformat()], "day_start": "09:00", "slots_per_day": 4,
                       "slot_minutes": 30, "tables": tables, "registration_deadline": DEADLINE},
        ),
        region,
    )  # fmt: skip
    smes = []
    for n, (name, email) in enumerate(names):
        sme = SmeRef(sme_id=f"{name.split()[0].lower()}-{n}", region=region)
        await client.call(
            ev.REGISTER_PARTICIPANT,
            ev.RegisterParticipant(event_id=event.event_id, person_name=name, email=email,
                                   sme=sme),
            region,
        )  # fmt: skip
        smes.append(sme)
    return event, smes
