"""The demo data set on real servers, loaded as `mapnet demo` loads it (each service's part,
through its declaration, in the order `mapnet demo` gives them): what each demo person then
sees, and that loading it again changes nothing (issue 31 item 0)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as rp
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.ops.cli import demo_order, load_demo
from mapnet.runtime.bus import BusClient
from tests.fixtures import Servers

pytestmark = pytest.mark.timeout(600)

# The parts this test loads (the portal's people and the guide's articles have tests of their
# own), in `mapnet demo`'s order.
PARTS = ("events", "registry", "matching", "reports")


def test_each_part_of_the_demo_comes_after_those_it_builds_on() -> None:
    order = [s.name for s in demo_order()]
    assert order.index("matching") > max(order.index("registry"), order.index("events"))
    assert order.index("portal") > order.index("matching")  # the organiser gets its events
    assert order.index("reports") == len(order) - 1  # it counts what the others loaded


async def load(servers: Servers, region: str) -> None:
    await asyncio.to_thread(load_demo, servers.nats_url, region, PARTS)


async def brokerage_events(client: BusClient, region: str) -> dict[str, ev.CalendarEntry]:
    page = await client.call(
        ev.LIST_CALENDAR, ev.ListCalendar(kind="brokerage_event", limit=100), region
    )
    return {e.external_id: e for e in page.items}


async def state(client: BusClient, region: str, staff: Actor) -> dict[str, Any]:
    """Everything the demo writes, with versions: equal after a second load iff it changed and
    added nothing."""
    smes = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=100), region, actor=staff)
    views = [
        (await client.call(rg.GET_SME, rg.GetSme(sme_id=s.sme_id), region, actor=staff)).model_dump(
            exclude={"near_duplicates"}
        )
        for s in smes.items
    ]
    calendar = await client.call(ev.LIST_CALENDAR, ev.ListCalendar(limit=100), region)
    found: dict[str, Any] = {"smes": views, "calendar": calendar.model_dump()}
    for entry in calendar.items:
        regs = ev.ListRegistrations(event_id=entry.event_id, limit=100)
        found[entry.event_id] = (
            await client.call(ev.LIST_REGISTRATIONS, regs, region, actor=staff)
        ).model_dump()
    for entry in (await brokerage_events(client, region)).values():
        listed = mt.ListMeetings(event_id=entry.event_id, limit=100)
        meetings = await client.call(mt.LIST_MEETINGS, listed, region, actor=staff)
        found[f"meetings {entry.event_id}"] = meetings.model_dump()
        try:
            schedule = await client.call(
                mt.GET_SCHEDULE, mt.GetSchedule(event_id=entry.event_id), region, actor=staff
            )
            found[f"schedule {entry.event_id}"] = schedule.version
        except Refused as refused:
            assert refused.code == "not_found"
    period = rg.GetKpis(period_from=date(date.today().year, 1, 1), period_to=date.today())
    found["kpis"] = (await client.call(rg.GET_KPIS, period, region, actor=staff)).model_dump()
    facts = await client.call(rg.LIST_FACTS, rg.ListFacts(limit=100), region, actor=staff)
    found["facts"] = facts.model_dump()
    answers = rp.ListSurveyAnswers(limit=100)
    found["answers"] = (
        await client.call(rp.LIST_SURVEY_ANSWERS, answers, region, actor=staff)
    ).model_dump()
    figures = await client.call(rp.LIST_FIGURES, rp.ListFigures(region=region), region)
    found["figures"] = figures.model_dump()
    return found


@pytest.mark.usefixtures("region_app")
async def test_each_demo_person_sees_a_region_a_few_months_in_and_a_second_load_changes_nothing(
    servers: Servers, region: str, client: BusClient
) -> None:
    await load(servers, region)
    staff = Actor(id=f"staff@{region}.example", role="map_staff", region=region)
    first = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=1), region, actor=staff)
    demo_sme = SmeRef(region=region, sme_id=first.items[0].sme_id)  # the demo contact's SME
    contact = Actor(id="sme@x.example", role="sme", region=region, sme_id=demo_sme.sme_id)

    # The demo SME's partner search finds published profiles and says why each fits.
    found = await client.call(
        mt.FIND_PARTNERS, mt.FindPartners(seeker=demo_sme, limit=20), region, actor=contact
    )
    assert len(found.items) >= 5, found
    assert all(m.reasons for m in found.items)
    assert any(r.startswith("complementary type") for m in found.items for r in m.reasons)
    assert any(r.startswith("cluster ") for m in found.items for r in m.reasons)
    assert all("(demo)" in m.title for m in found.items)

    # Its events: a seat at each demo brokerage event; requests sent and received, one to answer.
    events = await brokerage_events(client, region)
    main, second, held = events["demo-100"], events["demo-101"], events["demo-300"]
    mine = await client.call(
        ev.LIST_SME_REGISTRATIONS, ev.ListSmeRegistrations(sme=demo_sme), region, actor=contact
    )
    assert {r.event_id for r in mine.items} >= {main.event_id, second.event_id, held.event_id}
    asked = mt.ListMeetings(event_id=main.event_id, participant=demo_sme)
    meetings = (await client.call(mt.LIST_MEETINGS, asked, region, actor=contact)).items
    waiting = [m for m in meetings if m.status == "requested"]
    assert {m.receiver == demo_sme for m in waiting} == {True, False}  # to answer; awaiting
    assert any(m.status == "accepted" and m.slot is not None for m in meetings)

    # The organiser's events: participants, requests and a published schedule; a second event
    # with accepted requests and no schedule yet, for them to run; one held, with outcomes.
    organiser = Actor(id=f"organiser@{region}.example", role="organiser", region=region,
                      event_ids=[e.event_id for e in events.values()])  # fmt: skip
    participants = await client.call(
        mt.LIST_PARTICIPANTS, mt.ListParticipants(event_id=main.event_id, limit=100), region,
        actor=organiser,
    )  # fmt: skip
    assert participants.total >= 12 and len(participants.clusters) >= 3
    assert all(p.profiles for p in participants.items if p.sme != demo_sme)
    schedule = await client.call(
        mt.GET_SCHEDULE, mt.GetSchedule(event_id=main.event_id), region, actor=organiser
    )
    assert len(schedule.meetings) >= 10
    assert all(m.starts_at > datetime.now(UTC) for m in schedule.meetings)
    every = mt.ListMeetings(event_id=main.event_id, limit=100)
    listed = await client.call(mt.LIST_MEETINGS, every, region, actor=organiser)
    statuses = {m.status for m in listed.items}
    assert statuses == {"requested", "accepted", "declined"}
    accepted = mt.ListMeetings(event_id=second.event_id, status="accepted", limit=100)
    assert (await client.call(mt.LIST_MEETINGS, accepted, region, actor=organiser)).items
    with pytest.raises(Refused) as unscheduled:
        await client.call(
            mt.GET_SCHEDULE, mt.GetSchedule(event_id=second.event_id), region, actor=organiser
        )
    assert unscheduled.value.code == "not_found"
    assert held.ends_at_utc < datetime.now(UTC)
    past = await client.call(
        mt.GET_SCHEDULE, mt.GetSchedule(event_id=held.event_id), region, actor=organiser
    )
    assert past.meetings and all(m.ends_at < datetime.now(UTC) for m in past.meetings)
    outcomes = await client.call(
        mt.LIST_MEETINGS, mt.ListMeetings(event_id=held.event_id, status="accepted", limit=100),
        region, actor=organiser,
    )  # fmt: skip
    assert {m.outcome for m in outcomes.items} == {
        "cooperation_possible", "informative_no_cooperation", "insufficient_interest",
        "did_not_take_place",
    }  # fmt: skip

    # The indicators of the year: every stage, stories, the facts, the events held, attendees;
    # contacts brokered, meetings held and cooperation possible.
    period = rg.GetKpis(period_from=date(date.today().year, 1, 1), period_to=date.today())
    kpis = await client.call(rg.GET_KPIS, period, region, actor=staff)
    zero = [name for name, value in kpis.total.model_dump().items() if value == 0]
    assert zero == [], kpis.total
    assert len(kpis.by_cluster) >= 3
    steering = Actor(id=f"steering@{region}.example", role="steering", region=region)
    meeting_kpis = await client.call(
        mt.GET_MEETING_KPIS, mt.GetMeetingKpis(), region, actor=steering
    )
    counts = meeting_kpis.total
    assert counts.contacts_brokered > counts.meetings_held > counts.cooperation_possible > 0

    # The reports: this month's figures count the demo (a month of the held event too), some
    # SMEs answered their surveys, and the year's monitoring report is made from them.
    month = date.today().strftime("%Y-%m")
    figures = await client.call(rp.LIST_FIGURES, rp.ListFigures(region=region), region,
                                actor=staff)  # fmt: skip
    this_month = next(s for s in figures.items if s.month == month)
    assert this_month.total.selected and this_month.total.internationalised
    done = this_month.meetings_to_date
    assert done.contacts_brokered > done.meetings_held > done.cooperation_possible > 0
    held_month = held.starts_at_utc.strftime("%Y-%m")
    assert next(s for s in figures.items if s.month == held_month).total.brokerage_events == 1
    feedback = await client.call(
        rp.GET_FEEDBACK_SUMMARY,
        rp.GetFeedbackSummary(from_date=date(date.today().year, 1, 1), to_date=date.today()),
        region, actor=staff,
    )  # fmt: skip
    assert feedback.answers >= 3 and feedback.obstacles and feedback.quotes
    report = await client.call(
        rp.GET_MONITORING_REPORT,
        rp.GetMonitoringReport(period_from=date(date.today().year, 1, 1),
                               period_to=date.today(), format="html_fragment"),
        region, actor=steering, timeout_s=60,
    )  # fmt: skip
    assert report.text and region in report.regions

    # Loaded again: nothing changes, nothing is added.
    before = await state(client, region, staff)
    await load(servers, region)
    assert await state(client, region, staff) == before
