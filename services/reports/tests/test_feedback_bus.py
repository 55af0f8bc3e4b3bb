"""The SMEs' feedback over real NATS and the MongoDB-compatible server, fed by the real
registry, events and matching services: the facts they publish open surveys (once each), an
SME's contact answers once, late and repeated answers are refused, who may read what, quotes
only with consent, and an erasure takes the personal parts out of the answers."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stdnum.ee import registrikood

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as c
from contracts.access import Actor, Role
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.runtime.bus import BusClient
from mapnet.runtime.credentials import with_login, without_login
from tests.fixtures import Servers
from tests.helpers import connect_when_let_in, eventually, published

pytestmark = pytest.mark.usefixtures("region_app")

SOON = (datetime.now(UTC) + timedelta(days=30)).date()
TODAY = datetime.now(UTC).date()
PERIOD = c.GetFeedbackSummary(from_date=TODAY - timedelta(days=1), to_date=TODAY + timedelta(1))


def registry_code() -> str:
    """An Estonian registry code (its check digit right), a new one each time."""
    while True:
        number = str(10_000_000 + secrets.randbelow(89_999_999))
        if registrikood.is_valid(number):
            return number


def staff(region: str, role: Role = "map_staff") -> Actor:
    return Actor(id=f"staff@{region}.example", role=role, region=region)


def contact_of(sme: SmeRef, email: str) -> Actor:
    return Actor(id=email, role="sme", region=sme.region, sme_id=sme.sme_id)


async def register(client: BusClient, region: str, name: str, *emails: str) -> SmeRef:
    people = [
        {"name": e.split("@")[0].title(), "email": e, "consent_contact": i == 0}
        for i, e in enumerate(emails)
    ]
    data = rg.RegisterSme.model_validate(
        {
            "legal_name": f"{name} OÜ",
            "registration_number": registry_code(),
            "country": "EE",
            "clusters": ["photonics"],
            "contacts": people,
        }
    )
    view = await client.call(rg.REGISTER_SME, data, region, actor=staff(region))
    return SmeRef(region=region, sme_id=view.sme_id)


async def reach_stage(client: BusClient, sme: SmeRef, stage: rg.Stage) -> None:
    change = rg.ChangeStage(sme_id=sme.sme_id, to_stage=stage, reason="bootcamp done")
    await client.call(rg.CHANGE_STAGE, change, sme.region, actor=staff(sme.region))


async def attend(client: BusClient, sme: SmeRef, email: str) -> str:
    day = SOON.isoformat()
    entry = ev.PublishEvent.model_validate(
        {
            "partner_id": "tehnopol",
            "external_id": f"ev-{uuid.uuid4()}",
            "kind": "conference",
            "title": "Baltic Photonics Days",
            "starts_at": f"{day}T10:00:00",
            "ends_at": f"{day}T17:00:00",
            "timezone": "Europe/Tallinn",
            "country": "EE",
        }
    )
    event = await client.call(ev.PUBLISH_EVENT, entry, sme.region)
    who = ev.RegisterParticipant(event_id=event.event_id, person_name="Kati", email=email, sme=sme)
    reg = await client.call(ev.REGISTER_PARTICIPANT, who, sme.region)
    for _ in range(2):  # recorded twice: one survey
        attendance = ev.RecordAttendance(registration_id=reg.registration_id)
        await client.call(ev.RECORD_ATTENDANCE, attendance, sme.region)
    return event.event_id


async def meet(client: BusClient, a: SmeRef, b: SmeRef, outcome: mt.Outcome) -> str:
    region = a.region
    brokerage = ev.PublishEvent.model_validate(
        {
            "partner_id": "map",
            "external_id": f"b-{uuid.uuid4()}",
            "kind": "brokerage_event",
            "title": "Baltic Sea Brokerage Day",
            "starts_at": f"{SOON}T09:00:00",
            "ends_at": f"{SOON}T17:00:00",
            "timezone": "Europe/Tallinn",
            "country": "EE",
            "brokerage": {
                "days": [SOON.isoformat()],
                "day_start": "09:00",
                "slots_per_day": 4,
                "slot_minutes": 30,
                "tables": 2,
                "registration_deadline": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
                "participation_types": ["on_site"],
                "max_requests_per_participant": 3,
            },
        }
    )
    event = await client.call(ev.PUBLISH_EVENT, brokerage, region)
    for i, sme in enumerate((a, b)):
        who = ev.RegisterParticipant(
            event_id=event.event_id, person_name=f"P{i}", email=f"p{i}@x.example", sme=sme
        )
        await client.call(ev.REGISTER_PARTICIPANT, who, region)

    async def requested() -> mt.Meeting | None:
        ask = mt.RequestMeeting(event_id=event.event_id, requester=a, receiver=b)
        try:
            return await client.call(mt.REQUEST_MEETING, ask, region)
        except Refused:  # matching has not heard of the participants yet
            return None

    meeting = await eventually(requested, until=lambda m: m is not None)
    assert meeting is not None
    yes = mt.RespondMeeting(meeting_id=meeting.meeting_id, accept=True, responder=b)
    await client.call(mt.RESPOND_MEETING, yes, region)
    done = mt.RecordMeetingOutcome(meeting_id=meeting.meeting_id, outcome=outcome)
    await client.call(mt.RECORD_MEETING_OUTCOME, done, region)
    return meeting.meeting_id


async def open_surveys(client: BusClient, who: Actor, at_least: int = 1) -> list[c.Survey]:
    async def probe() -> list[c.Survey]:
        found = await client.call(c.LIST_OPEN_SURVEYS, c.ListOpenSurveys(), who.region, actor=who)
        return found.items

    return await eventually(probe, until=lambda items: len(items) >= at_least)


def answer(survey: c.Survey, **extra: Any) -> c.AnswerSurvey:
    base: dict[str, Any] = {
        "survey_id": survey.survey_id,
        "rating": 5,
        "helped": "Meeting the Finnish integrator in person",
        "markets": [
            {
                "market": "FI",
                "obstacles": ["regulation_and_certification", "language_and_culture"],
                "text": "CE marking questions took months",
            }
        ],
        "may_quote": True,
    }
    return c.AnswerSurvey.model_validate(base | extra)


async def refusal(
    client: BusClient, op: Operation[Any, Any], data: Any, region: str, actor: Actor
) -> Refused:
    with pytest.raises(Refused) as refused:
        await client.call(op, data, region, actor=actor)
    return refused.value


async def test_facts_open_surveys_once_and_each_contact_answers_once(
    servers: Servers, client: BusClient, region: str
) -> None:
    acme = await register(client, region, "Acme Photonics", "kati@acme.example", "jaan@acme.ee")
    other = await register(client, region, "Other Optics", "olga@other.example")
    kati, jaan = contact_of(acme, "kati@acme.example"), contact_of(acme, "Jaan@Acme.ee")
    await reach_stage(client, acme, "selected")
    event_id = await attend(client, acme, "kati@acme.example")
    meeting_id = await meet(client, acme, other, "cooperation_possible")
    await meet(client, other, acme, "did_not_take_place")  # not held: no survey

    surveys = await open_surveys(client, kati, at_least=3)
    assert sorted((s.occasion.kind, s.occasion.ref) for s in surveys) == sorted(
        [("coaching_stage", "selected"), ("event", event_id), ("meeting", meeting_id)]
    )
    assert all(s.sme == acme and s.closes_at > datetime.now(UTC) for s in surveys)
    [theirs] = await open_surveys(client, contact_of(other, "olga@other.example"))
    assert theirs.occasion.ref == meeting_id
    opened = await published(servers.nats_url, c.SURVEY_OPENED, region, at_least=4)
    await asyncio.sleep(0.5)  # a fact told twice (two attendance records) opens nothing more
    opened = await published(servers.nats_url, c.SURVEY_OPENED, region, at_least=4)
    assert len(opened) == 4 and len({o["survey_id"] for o in opened}) == 4
    assert all("kati" not in str(o) for o in opened)  # no person named in the stream

    stage = next(s for s in surveys if s.occasion.kind == "coaching_stage")
    first = answer(stage)
    given = await client.call(c.ANSWER_SURVEY, first, region, actor=kati)
    assert (given.sme, given.rating, given.may_quote) == (acme, 5, True)
    # The same envelope again (a client that timed out) gets the same answer: here, refused …
    repeat = answer(stage, rating=2)
    replies = [await client.raw(c.ANSWER_SURVEY, repeat, region, id="same", actor=kati)
               for _ in range(2)]  # fmt: skip
    assert replies[0]["data"] == replies[1]["data"]
    assert replies[0]["data"]["error"]["details"]["reason"] == "answered"
    # … that answer was refused as a second one, as is any other envelope of the same person.
    refused = await refusal(client, c.ANSWER_SURVEY, answer(stage, rating=1), region, kati)
    assert refused.code == "conflict" and refused.details["reason"] == "answered"
    assert refused.details["answer_id"] == given.answer_id
    # Another contact of the same SME answers for themself.
    theirs_too = await client.call(c.ANSWER_SURVEY, answer(stage, may_quote=False), region,
                                   actor=jaan)  # fmt: skip
    assert theirs_too.answer_id != given.answer_id
    left = await client.call(c.LIST_OPEN_SURVEYS, c.ListOpenSurveys(), region, actor=kati)
    assert stage.survey_id not in {s.survey_id for s in left.items} and len(left.items) == 2
    answered = await published(servers.nats_url, c.SURVEY_ANSWERED, region, at_least=2)
    assert len(answered) == 2
    assert all("CE marking" not in str(a) and acme.sme_id not in str(a) for a in answered)

    # Staff of the region read the answers; the summary counts them and quotes only the one
    # that allowed it, naming nobody.
    page = await client.call(c.LIST_SURVEY_ANSWERS, c.ListSurveyAnswers(), region,
                             actor=staff(region))  # fmt: skip
    assert sorted(a.answer_id for a in page.items) == sorted([given.answer_id,
                                                              theirs_too.answer_id])  # fmt: skip
    steering = Actor(id="official@gov.example", role="steering", region=region)
    summary = await client.call(c.GET_FEEDBACK_SUMMARY, PERIOD, region, actor=steering)
    assert (summary.answers, summary.surveys, summary.ratings["5"]) == (2, 4, 2)
    assert {(o.market, o.obstacle, o.count) for o in summary.obstacles} == {
        ("FI", "regulation_and_certification", 2),
        ("FI", "language_and_culture", 2),
    }
    assert sorted(q.text for q in summary.quotes) == [
        "CE marking questions took months",
        "Meeting the Finnish integrator in person",
    ]  # Jaan's words, the same but not to be quoted, appear once each: Kati's
    text = summary.model_dump_json()
    assert acme.sme_id not in text and "kati" not in text.lower()


Partner = Callable[[], Awaitable[BusClient]]


@pytest.fixture
async def partner(servers: Servers) -> AsyncIterator[Partner]:
    """A partner system with its own login, whose envelopes claim to be an SME's contact."""
    book = servers.partner_book()
    made: list[tuple[str, BusClient]] = []

    async def connect() -> BusClient:
        added = book.add(f"fb{secrets.token_hex(3)}", "general")
        assert book.reload_server()
        url = with_login(without_login(servers.nats_url), added.user, added.password)
        nc = await connect_when_let_in(url, inbox_prefix=added.inbox_prefix)
        bus = BusClient(nc, source=f"https://{added.user}.example", role="sme", timeout_s=1.5)
        made.append((added.user, bus))
        return bus

    yield connect
    for name, bus in made:
        await bus.nc.close()
        book.remove(name)
    book.reload_server()


async def test_only_the_surveys_people_answer_and_readers_see_what_is_theirs(
    client: BusClient, region: str, partner: Partner
) -> None:
    acme = await register(client, region, "Who May", "kati@who.example")
    other = await register(client, region, "Not Them", "olga@not.example")
    kati = contact_of(acme, "kati@who.example")
    await reach_stage(client, acme, "selected")
    [survey] = await open_surveys(client, kati)
    data = answer(survey)

    for role in ("map_admin", "map_staff", "organiser", "steering", "operator", "service"):
        someone = Actor(id=f"{role}@x.example", role=role, region=region)
        refused = await refusal(client, c.ANSWER_SURVEY, data, region, someone)
        assert refused.code == "forbidden", role
    # A partner is known by the server's stamp, never by an envelope …
    claimed = Actor(id="kati@who.example", role="partner", region=region)
    assert (await refusal(client, c.ANSWER_SURVEY, data, region, claimed)).code == "forbidden"
    # … and a partner's own login is not carried to the feedback at all.
    bus = await partner()
    with pytest.raises(Refused) as unheard:
        await bus.call(c.ANSWER_SURVEY, data, region, actor=kati)
    assert unheard.value.code == "region_unavailable"
    # Another SME's contact, and a contact of an SME of the same id in another region.
    olga = contact_of(other, "olga@not.example")
    refused_ = await refusal(client, c.ANSWER_SURVEY, data, region, olga)
    assert refused_.code == "forbidden" and refused_.details["fields"][0]["field"] == (
        "data.survey_id"
    )
    elsewhere = Actor(id="kati@who.example", role="sme", region="berlin", sme_id=acme.sme_id)
    assert (await refusal(client, c.ANSWER_SURVEY, data, region, elsewhere)).code == "forbidden"
    assert (await client.call(c.LIST_OPEN_SURVEYS, c.ListOpenSurveys(), region,
                              actor=olga)).items == []  # fmt: skip
    missing = answer(survey).model_copy(update={"survey_id": "nope"})
    assert (await refusal(client, c.ANSWER_SURVEY, missing, region, kati)).code == "not_found"
    await client.call(c.ANSWER_SURVEY, data, region, actor=kati)

    # Reading: staff of the region read answers; steering and partners do not; staff of another
    # region neither answers nor figures; steering reads the figures.
    everyone_else: list[Actor] = [
        Actor(id="o@x.example", role="steering", region=region),
        Actor(id="o@x.example", role="organiser", region=region),
        kati,
        staff("berlin"),
    ]
    for reader in everyone_else:
        refused = await refusal(client, c.LIST_SURVEY_ANSWERS, c.ListSurveyAnswers(), region,
                                reader)  # fmt: skip
        assert refused.code == "forbidden", reader
    for reader in (kati, staff("berlin"), Actor(id="o@x.example", role="organiser", region=region)):
        refused = await refusal(client, c.GET_FEEDBACK_SUMMARY, PERIOD, region, reader)
        assert refused.code == "forbidden", reader
    with pytest.raises(Refused) as unheard:
        await bus.call(c.GET_FEEDBACK_SUMMARY, PERIOD, region, actor=staff(region))
    assert unheard.value.code == "region_unavailable"
    page = await client.call(c.LIST_SURVEY_ANSWERS, c.ListSurveyAnswers(), region,
                             actor=staff(region, "map_admin"))  # fmt: skip
    assert [a.sme for a in page.items] == [acme]


async def test_an_erasure_takes_who_and_their_words_out_of_the_answers(
    client: BusClient, region: str
) -> None:
    acme = await register(client, region, "Gone Soon", "kati@gone.example", "jaan@gone.example")
    stays = await register(client, region, "Stays", "sten@stays.example")
    kati, jaan = contact_of(acme, "kati@gone.example"), contact_of(acme, "jaan@gone.example")
    sten = contact_of(stays, "sten@stays.example")
    for sme in (acme, stays):
        await reach_stage(client, sme, "selected")
    [survey] = await open_surveys(client, kati)
    [kept] = await open_surveys(client, sten)
    await client.call(c.ANSWER_SURVEY, answer(survey), region, actor=kati)
    await client.call(c.ANSWER_SURVEY, answer(survey, rating=3), region, actor=jaan)
    await client.call(c.ANSWER_SURVEY, answer(kept, helped="The coach"), region, actor=sten)
    view = await client.call(rg.GET_SME, rg.GetSme(sme_id=acme.sme_id), region,
                             actor=staff(region))  # fmt: skip
    jaans = next(p for p in view.contacts if p.email == "jaan@gone.example")
    admin = staff(region, "map_admin")
    # One contact first: their answer alone loses its words.
    erase = rg.EraseContact(sme_id=acme.sme_id, contact_id=jaans.id, reason="asked")
    await client.call(rg.ERASE_CONTACT, erase, region, actor=admin)

    async def answers() -> list[c.SurveyAnswer]:
        page = await client.call(c.LIST_SURVEY_ANSWERS, c.ListSurveyAnswers(), region,
                                 actor=admin)  # fmt: skip
        return page.items

    seen = await eventually(answers, until=lambda items: sum(a.erased for a in items) == 1)
    [erased] = [a for a in seen if a.erased]
    assert (erased.rating, erased.sme, erased.helped) == (3, None, "")
    await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=acme.sme_id, reason="asked"), region,
                      actor=admin)  # fmt: skip
    seen = await eventually(answers, until=lambda items: sum(a.erased for a in items) == 2)
    for a in seen:
        if a.erased:
            assert a.sme is None and a.helped == "" and not a.may_quote
            assert [m.text for m in a.markets] == [""] and a.markets[0].obstacles
    text = "".join(a.model_dump_json() for a in seen)
    assert acme.sme_id not in text and "Finnish integrator" not in text
    summary = await client.call(c.GET_FEEDBACK_SUMMARY, PERIOD, region, actor=admin)
    assert summary.answers == 3  # the ratings still count
    assert [q.text for q in summary.quotes] == ["The coach", "CE marking questions took months"]
    assert (await client.call(c.LIST_OPEN_SURVEYS, c.ListOpenSurveys(), region,
                              actor=kati)).items == []  # fmt: skip
