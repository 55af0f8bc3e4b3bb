"""The home page's view model without servers (service_layer.home): what each person's page
says needs them now, each part saying so when it has nothing, or that it cannot be shown when
its service does not answer; every read acts for the person. The services' own checks (another
SME's records never answered) are tested over the real bus in tests/test_portal_home.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as rp
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from services.portal.domain.users import Link
from services.portal.entrypoints import i18n
from services.portal.service_layer.home import (
    EXPIRING_DAYS,
    Home,
    HomeView,
    RunningImport,
    expiring_of,
)

REGION = "tallinn"
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PUBLIC = Actor(id="portal/tallinn", role="service", region=REGION)
ME = SmeRef(sme_id="s1", region=REGION)
OTHER = SmeRef(sme_id="s2", region="riga")
CONTACT = Actor(id="mari@photon.ee", role="sme", region=REGION, sme_id="s1")
STAFF = Actor(id="staff@tallinn.ee", role="map_staff", region=REGION)


def entry(event_id: str, days: float, *, brokerage: bool = True, deadline_days: float = -1,
          status: str = "published") -> ev.EventDetails:  # fmt: skip
    starts = NOW + timedelta(days=days)
    setup = (
        {"days": [starts.date().isoformat()], "day_start": "09:00", "slots_per_day": 4,
         "slot_minutes": 30, "tables": 5,
         "registration_deadline": (starts + timedelta(days=deadline_days)).isoformat()}
        if brokerage else None
    )  # fmt: skip
    return ev.EventDetails.model_validate(
        {"event_id": event_id, "region": REGION, "partner_id": "map", "external_id": event_id,
         "kind": "brokerage_event" if brokerage else "webinar", "title": f"Event {event_id}",
         "timezone": "Europe/Tallinn", "country": "EE", "city": "Tallinn",
         "starts_at": starts.replace(tzinfo=None).isoformat(),
         "ends_at": (starts + timedelta(hours=8)).replace(tzinfo=None).isoformat(),
         "starts_at_utc": starts, "ends_at_utc": starts + timedelta(hours=8), "status": status,
         "version": 1, "updated_at": NOW, "brokerage": setup}
    )  # fmt: skip


def registration(event_id: str, status: str = "confirmed") -> ev.SmeRegistration:
    return ev.SmeRegistration(registration_id=f"r-{event_id}", event_id=event_id, sme=ME,
                              status=status, registered_at=NOW - timedelta(days=5),
                              region=ME.region)  # fmt: skip


def waiting(event_id: str) -> ev.Registration:
    """A person on an event's waitlist, as the organiser's list has them."""
    return ev.Registration(registration_id=f"r-{event_id}", event_id=event_id, person_name="Mari",
                           email="mari@photon.ee", sme=ME, status="waitlisted", position=1,
                           registered_at=NOW - timedelta(days=5))  # fmt: skip


def meeting(mid: str, event_id: str, requester: SmeRef, receiver: SmeRef,
            status: str = "requested") -> mt.Meeting:  # fmt: skip
    return mt.Meeting(meeting_id=mid, event_id=event_id, requester=requester, receiver=receiver,
                      status=status, priority=1, remote=False)  # fmt: skip


def profile(pid: str, status: str, expires_in: int) -> rg.Profile:
    return rg.Profile(profile_id=pid, type="business_offer", title=f"Profile {pid}", summary="s",
                      partnership_types=["commercial_agreement"], status=status,
                      expires_on=NOW.date() + timedelta(days=expires_in))  # fmt: skip


class Services:
    """The services' answers by operation, each call's actor kept (a stand-in for the bus)."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.asked: list[tuple[str, Any, Actor]] = []

    async def __call__(self, op: Any, data: Any, actor: Actor, /, *, at: str | None = None) -> Any:
        self.asked.append((op.name, data, actor))
        answer = self.answers.get(op.name)
        if answer is None:
            raise Refused("region_unavailable", f"nobody answers {op.name}")
        result = answer(data) if callable(answer) else answer
        if isinstance(result, Refused):
            raise result
        return result


async def no_invitations(region: str) -> list[Link]:
    return []


def home(call: Services, invitations: Any = no_invitations) -> Home:
    return Home(call, REGION, invitations, clock=lambda: NOW)


EVENTS = {e.event_id: e for e in [entry("e1", 2), entry("e2", 10, deadline_days=-15),
                                  entry("e3", 20, brokerage=False), entry("e4", 30)]}  # fmt: skip


def contact_services(**more: Any) -> Services:
    schedule = mt.Schedule(event_id="e1", region=REGION, version=1, meetings=[
        mt.ScheduledMeeting(meeting_id="m2", slot=1, starts_at=NOW + timedelta(days=2, hours=1),
                            ends_at=NOW + timedelta(days=2, hours=1, minutes=30), table=2,
                            participants=[ME, OTHER]),
        mt.ScheduledMeeting(meeting_id="m9", slot=0, starts_at=NOW - timedelta(hours=1),
                            ends_at=NOW - timedelta(minutes=30), table=0,
                            participants=[ME, OTHER]),
    ])  # fmt: skip
    sme = rg.SmeView.model_validate(
        {"sme_id": "s1", "region": REGION, "legal_name": "Photon OÜ", "country": "EE",
         "registration_number": "10000001",
         "nace_codes": [], "version": 1, "stage": "identified", "stage_history": [],
         "size_class": {"value": "micro", "reasons": []},
         "growth_class": {"value": "unknown", "reasons": []}, "contacts": [],
         "profiles": [profile("p1", "published", 10).model_dump(),
                      profile("p2", "published", 200).model_dump(),
                      profile("p3", "expired", -3).model_dump(),
                      profile("p4", "draft", 5).model_dump()],
         "created_at": NOW, "updated_at": NOW}
    )  # fmt: skip
    answers: dict[str, Any] = {
        "list_sme_registrations": ev.SmeRegistrationPage(items=[registration("e1")]),
        "get_event": lambda q: EVENTS[q.event_id],
        "list_meetings": mt.MeetingPage(
            items=[
                meeting("m1", "e1", OTHER, ME),  # received, not answered
                meeting("m2", "e1", OTHER, ME, "accepted"),
                meeting("m3", "e1", ME, OTHER),  # sent: not the contact's to answer
            ]
        ),
        "list_participants": mt.ParticipantPage(
            items=[mt.Participant(sme=OTHER, legal_name="Laser SIA")],
            total=1,
            countries=[],
            clusters=[],
        ),
        "get_schedule": schedule,
        "list_calendar": ev.CalendarPage(items=list(EVENTS.values())),
        "get_sme": sme,
        "list_open_surveys": rp.OpenSurveys(items=[]),
    }
    return Services(**(answers | more))


async def test_a_contacts_home_says_what_needs_them_now_and_acts_only_for_them() -> None:
    services = contact_services()
    view = await home(services).view(CONTACT, PUBLIC, [])
    assert view.requests is not None and view.requests.count == 1
    row = view.requests.items[0]
    assert row.meeting.meeting_id == "m1" and row.other_name == "Laser SIA"
    assert view.meetings is not None  # the one not begun, with the other company's name
    assert [(m.event_title, m.other_name, m.table) for m in view.meetings.items] == [
        ("Event e1", "Laser SIA", 2)
    ]
    # e1: registered; e2: its deadline passed; e3 (no deadline) and e4 are open
    assert view.events is not None and [e.event_id for e in view.events.items] == ["e3", "e4"]
    assert view.expiring is not None  # the expired one and the one within a month
    assert [(e.profile_id, e.days_left) for e in view.expiring.items] == [("p3", -3), ("p1", 10)]
    assert view.surveys.unavailable is False and view.reviews is None
    # Every read acted for the contact, and asked only about their own SME.
    assert all(actor == CONTACT for _, _, actor in services.asked)
    for name, data, _ in services.asked:
        if name == "list_sme_registrations":  # only the events not over yet
            assert data.sme == ME and data.upcoming
        if name in ("list_meetings", "get_schedule"):
            assert data.participant == ME
        if name == "get_sme":
            assert data.sme_id == "s1"


async def test_each_part_says_when_there_is_nothing() -> None:
    services = contact_services(
        list_sme_registrations=ev.SmeRegistrationPage(items=[]),
        list_calendar=ev.CalendarPage(items=[]),
        get_sme=lambda q: rg.SmeView.model_validate(
            contact_services().answers["get_sme"].model_dump() | {"profiles": []}
        ),
    )
    view = await home(services).view(CONTACT, PUBLIC, [])
    for part in (view.requests, view.meetings, view.events, view.expiring):
        assert part is not None and part.count == 0 and not part.unavailable


async def test_a_service_that_does_not_answer_leaves_its_part_saying_so() -> None:
    services = contact_services(
        get_sme=None, get_schedule=Refused("region_unavailable", "no answer", reason="timeout")
    )
    view = await home(services).view(CONTACT, PUBLIC, [])
    assert view.expiring is not None and view.expiring.unavailable
    assert view.meetings is not None and view.meetings.unavailable
    assert view.requests is not None and view.requests.count == 1  # the rest is there
    nobody = await home(Services()).view(CONTACT, PUBLIC, [])
    for part in (nobody.requests, nobody.meetings, nobody.events, nobody.expiring):
        assert part is not None and part.unavailable
    assert nobody.surveys.unavailable


async def test_without_the_bus_each_part_of_the_person_says_it_cannot_be_shown() -> None:
    contact = Home.unreachable(CONTACT, [])
    assert contact.requests is not None and contact.requests.unavailable
    staff = Home.unreachable(STAFF, [RunningImport("j1", "smes.csv", 40)])
    assert staff.reviews is not None and staff.reviews.unavailable
    assert staff.imports is not None and staff.imports.count == 1  # the portal's own
    assert Home.unreachable(Actor(id="x", role="steering", region=REGION), []) == HomeView()


async def test_staff_see_reviews_waiting_their_invitations_and_imports() -> None:
    waiting = [
        rg.ProfileInReview(sme_id=f"s{n}", legal_name=f"Company {n}",
                           profile=profile(f"p{n}", "in_review", 100))
        for n in range(7)
    ]  # fmt: skip
    services = Services(list_profile_reviews=rg.ProfileReviewPage(items=waiting))

    async def invitations(region: str) -> list[Link]:
        assert region == REGION
        return [
            Link("invitation", "new@x.ee", "sme", REGION, NOW + timedelta(days=3), "s9"),
            Link("invitation", "old@x.ee", "organiser", REGION, NOW - timedelta(days=1)),
        ]

    running = [RunningImport("j1", "smes.csv", 40)]
    view = await home(services, invitations).view(STAFF, PUBLIC, running)
    assert view.reviews is not None and view.reviews.count == 7 and len(view.reviews.items) == 5
    assert view.reviews.more == 2
    assert view.invitations is not None  # the expired one is on the people page, not here
    assert [k.email for k in view.invitations.items] == ["new@x.ee"]
    assert view.imports is not None and view.imports.items == running
    assert view.requests is None and all(a == STAFF for _, _, a in services.asked)
    # Another region's staff is refused by the office before anything is asked.
    elsewhere = Actor(id="s@riga.lv", role="map_staff", region="riga")
    other = await home(Services(list_profile_reviews=rg.ProfileReviewPage(items=waiting))).view(
        elsewhere, PUBLIC, []
    )
    assert other.reviews is not None and other.reviews.unavailable


async def test_an_organisers_events_say_what_waits_at_each() -> None:
    organiser = Actor(id="o@x.ee", role="organiser", region=REGION, event_ids=["e1", "e4"])
    accepted = [meeting(f"m{n}", "e1", OTHER, ME, "accepted") for n in range(3)]
    services = Services(
        get_event=lambda q: EVENTS[q.event_id],
        list_meetings=lambda q: mt.MeetingPage(items=accepted if q.event_id == "e1" else []),
        get_schedule=lambda q: (
            mt.Schedule(
                event_id="e1",
                region=REGION,
                version=1,
                meetings=[
                    mt.ScheduledMeeting(
                        meeting_id="m0",
                        slot=0,
                        starts_at=NOW,
                        ends_at=NOW,
                        table=0,
                        participants=[ME, OTHER],
                    )
                ],
            )
            if q.event_id == "e1"
            else Refused("not_found", "no schedule")
        ),
        list_registrations=lambda q: ev.RegistrationPage(
            items=[waiting(q.event_id)] if q.event_id == "e4" else []
        ),
    )
    view = await home(services).view(organiser, PUBLIC, [])
    assert view.organised is not None
    lines = [(o.line.event_id, o.unplaced, o.scheduled, o.waitlisted) for o in view.organised.items]
    assert lines == [("e1", 2, True, 0), ("e4", 0, False, 1)]
    for name, data, actor in services.asked:
        if name != "get_event":
            assert actor == organiser and data.event_id in ("e1", "e4")


def test_expiring_profiles_are_those_live_within_the_days_and_those_expired() -> None:
    today = date(2027, 3, 1)
    sme = rg.SmeView.model_validate(
        contact_services().answers["get_sme"].model_dump()
        | {"profiles": [profile("edge", "in_review", EXPIRING_DAYS).model_dump(),
                        profile("late", "published", EXPIRING_DAYS + 1).model_dump(),
                        profile("gone", "withdrawn", 1).model_dump()]}
    )  # fmt: skip
    assert [e.profile_id for e in expiring_of(sme, today)] == ["edge"]


async def test_a_contacts_past_events_cost_the_page_no_read() -> None:
    # e0 was over a week ago; a request there left unanswered no longer waits for anyone.
    past = entry("e0", -10)
    services = contact_services(
        list_sme_registrations=ev.SmeRegistrationPage(
            items=[registration("e0"), registration("e1")]
        ),
        get_event=lambda q: past if q.event_id == "e0" else EVENTS[q.event_id],
        list_meetings=lambda q: mt.MeetingPage(
            items=[meeting(f"{q.event_id}-m1", q.event_id, OTHER, ME)]
        ),
    )
    view = await home(services).view(CONTACT, PUBLIC, [])
    assert view.requests is not None
    assert [r.meeting.meeting_id for r in view.requests.items] == ["e1-m1"]
    read_at = {data.event_id for name, data, _ in services.asked
               if name in ("list_meetings", "list_participants", "get_schedule")}  # fmt: skip
    assert read_at == {"e1"}


async def test_an_organisers_events_to_come_come_first_and_only_those_shown_are_read() -> None:
    past = {f"p{n:02}": entry(f"p{n:02}", -40 + n) for n in range(25)}
    ahead = {f"a{n:02}": entry(f"a{n:02}", 1 + n) for n in range(25)}
    events = past | ahead
    organiser = Actor(id="o@x.ee", role="organiser", region=REGION, event_ids=sorted(events))
    services = Services(
        get_event=lambda q: events[q.event_id],
        list_meetings=mt.MeetingPage(items=[]),
        get_schedule=Refused("not_found", "no schedule"),
        list_registrations=ev.RegistrationPage(items=[]),
    )
    view = await home(services).view(organiser, PUBLIC, [])
    assert view.organised is not None and view.organised.count == 50
    assert [o.line.event_id for o in view.organised.items] == sorted(ahead)[:20]
    assert view.organised.more == 30  # said, not cut silently
    read = [data.event_id for name, data, _ in services.asked if name == "list_meetings"]
    assert sorted(read) == sorted(ahead)[:20]


async def test_a_meeting_cancelled_since_the_schedule_is_not_a_next_meeting() -> None:
    # m2 is in the published schedule (kept there until the organiser schedules again), but
    # was cancelled since.
    services = contact_services(
        list_meetings=mt.MeetingPage(items=[meeting("m2", "e1", OTHER, ME, "cancelled")])
    )
    view = await home(services).view(CONTACT, PUBLIC, [])
    assert view.meetings is not None and view.meetings.count == 0
    kept = await home(contact_services()).view(CONTACT, PUBLIC, [])
    assert kept.meetings is not None and kept.meetings.count == 1  # accepted: shown


ABROAD = entry("h1", 3).model_copy(update={"event_id": "h1", "region": "helsinki",
                                           "title": "Event h1"})  # fmt: skip


def helsinki_away(copy_too: bool = False) -> Any:
    """The contact's services with one more event, hosted at Helsinki, which does not answer;
    this region keeps a copy of the SME's agenda there (unless ``copy_too``: away as well)."""
    copy = mt.Schedule(event_id="h1", region="helsinki", version=1, meetings=[
        mt.ScheduledMeeting(meeting_id="h9", slot=0, starts_at=NOW + timedelta(days=3),
                            ends_at=NOW + timedelta(days=3, minutes=30), table=0,
                            participants=[ME, OTHER])])  # fmt: skip
    services = contact_services(
        list_sme_registrations=ev.SmeRegistrationPage(items=[registration("e1"),
                                                             registration("h1")]),
        get_event=lambda q: ABROAD if q.event_id == "h1" else EVENTS[q.event_id],
    )  # fmt: skip
    asked_at: list[tuple[str, str | None]] = []

    async def call(op: Any, data: Any, actor: Actor, /, *, at: str | None = None) -> Any:
        if getattr(data, "event_id", None) == "h1" and op.name != "get_event":
            asked_at.append((op.name, at))
            if op.name == "get_schedule" and at == REGION and not copy_too:
                return copy
            raise Refused("region_unavailable", "helsinki did not answer", region="helsinki")
        return await services(op, data, actor, at=at)

    call.asked_at = asked_at  # type: ignore[attr-defined]
    return call


async def test_a_host_region_out_of_reach_leaves_the_rest_of_the_home_page() -> None:
    call = helsinki_away()
    view = await home(call).view(CONTACT, PUBLIC, [])
    # The requests of this region's event are there; Helsinki's are said to be missing.
    assert view.requests is not None and not view.requests.unavailable
    assert [r.meeting.meeting_id for r in view.requests.items] == ["m1"]
    assert view.requests.out_of_reach == ("helsinki",)
    # The agenda at Helsinki's event comes from this region's copy, asked after its host.
    assert view.meetings is not None and not view.meetings.unavailable
    assert [m.event_id for m in view.meetings.items] == ["e1", "h1"]
    assert view.meetings.out_of_reach == ()
    assert ("get_schedule", "helsinki") in call.asked_at
    assert ("get_schedule", REGION) in call.asked_at
    # Without a copy either: the meetings at this region's event, and Helsinki named.
    without = await home(helsinki_away(copy_too=True)).view(CONTACT, PUBLIC, [])
    assert without.meetings is not None and not without.meetings.unavailable
    assert [m.event_id for m in without.meetings.items] == ["e1"]
    assert without.meetings.out_of_reach == ("helsinki",)


async def test_the_home_page_names_the_region_out_of_reach() -> None:
    view = await home(helsinki_away(copy_too=True)).view(CONTACT, PUBLIC, [])
    templates = i18n.environment(i18n.LOCALE.parent / "templates")
    person = type("Person", (), {"role": "sme", "email": "mari@photon.ee"})()
    page = templates.get_template("home.html").render(
        home=view,
        surveys=view.surveys,
        person=person,
        region=REGION,
        **i18n.english().page_values(),
    )
    assert "Helsinki is out of reach now: its requests are not shown." in page
    assert "Helsinki is out of reach now: your meetings at its events are not shown." in page
