"""The participants' own reports of a meeting's outcome, over the real bus (issue 31 item 4):
each side reports once, while the event is on or within REPORT_DAYS after it; a contact reads
only their own side's report, the event's organiser both; the reports stay out of the meeting
events; refused to a third company's contact, before the event, for a meeting not accepted, and
a second time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contracts import events as ev
from contracts import matching as c
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.matching.domain.meetings import Brokerage, Meeting, report_window
from services.matching.tests.test_matching_bus import brokerage, event_with_participants, request
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")


def contact(ref: SmeRef) -> Actor:
    return Actor(id=f"c@{ref.sme_id}.ee", role="sme", region=ref.region, sme_id=ref.sme_id)


async def running_event(client: BusClient, region: str) -> tuple[str, list[SmeRef]]:
    """A brokerage event that began today (Helsinki) and ends tomorrow, with three participants."""
    today = datetime.now(ZoneInfo("Europe/Helsinki")).date()
    days = [today, today + timedelta(days=1)]
    entry = brokerage(days=[d.isoformat() for d in days], day_start="00:00").model_copy(
        update={"external_id": f"on-{uuid.uuid4()}",
                "starts_at": datetime.combine(days[0], datetime.min.time()),
                "ends_at": datetime.combine(days[1], datetime.min.time()) + timedelta(hours=17)}
    )  # fmt: skip
    event = await client.call(ev.PUBLISH_EVENT, entry, region)
    people = [SmeRef(sme_id=f"on-{i}", region=region) for i in range(3)]
    for i, ref in enumerate(people):
        signing_up = ev.RegisterParticipant(
            event_id=event.event_id, person_name=f"P {i}", email=f"c@on-{i}.ee", sme=ref
        )
        await client.call(ev.REGISTER_PARTICIPANT, signing_up, region)

    async def joined() -> bool:
        query = c.GetAvailability(event_id=event.event_id, participant=people[-1])
        try:
            await client.call(c.GET_AVAILABILITY, query, region)
        except Refused:
            return False
        return True

    await eventually(joined, until=bool)
    return event.event_id, people


async def accepted(client: BusClient, region: str, event_id: str, a: SmeRef, b: SmeRef) -> str:
    asked = await request(client, region, event_id, a, b)
    answer = c.RespondMeeting(meeting_id=asked.meeting_id, accept=True, responder=b)
    await client.call(c.RESPOND_MEETING, answer, region)
    return asked.meeting_id


async def test_each_side_reports_once_and_the_organiser_reads_both(
    client: BusClient, region: str
) -> None:
    event_id, p = await running_event(client, region)
    meeting_id = await accepted(client, region, event_id, p[0], p[1])

    async def report(by: SmeRef, outcome: str, actor: Actor | None = None) -> Any:
        data = c.ReportMeetingOutcome(meeting_id=meeting_id, reporter=by, outcome=outcome)
        return await client.call(c.REPORT_MEETING_OUTCOME, data, region,
                                 actor=actor or contact(by))  # fmt: skip

    mine = await report(p[0], "cooperation_possible")
    assert [(r.by, r.outcome) for r in mine.reports] == [(p[0], "cooperation_possible")]
    theirs = await report(p[1], "informative_no_cooperation")
    assert [r.by for r in theirs.reports] == [p[1]]  # a contact sees only their own side's
    with pytest.raises(Refused) as again:
        await report(p[0], "insufficient_interest")
    assert (again.value.code, again.value.details["reported"]) == (
        "conflict",
        "cooperation_possible",
    )
    for who, as_whom in ((p[2], contact(p[2])), (p[1], contact(p[0]))):
        with pytest.raises(Refused) as refusal:
            await report(who, "did_not_take_place", as_whom)
        assert refusal.value.code == "forbidden"
    # The organiser reads both reports; the organisers' own outcome is still theirs to record.
    organiser = Actor(id="org@x.ee", role="organiser", region=region, event_ids=[event_id])
    both = await client.call(c.GET_MEETING, c.GetMeeting(meeting_id=meeting_id), region,
                             actor=organiser)  # fmt: skip
    assert {(r.by.sme_id, r.outcome) for r in both.reports} == {
        (p[0].sme_id, "cooperation_possible"), (p[1].sme_id, "informative_no_cooperation")
    }  # fmt: skip
    assert both.outcome is None
    listed = await client.call(c.LIST_MEETINGS, c.ListMeetings(event_id=event_id, participant=p[1]),
                               region, actor=contact(p[1]))  # fmt: skip
    assert [r.by for r in listed.items[0].reports] == [p[1]]


async def test_no_report_before_the_event_nor_for_a_meeting_not_accepted(
    client: BusClient, region: str
) -> None:
    event_id, p = await event_with_participants(client, region, 3)  # an event a month ahead
    meeting_id = await accepted(client, region, event_id, p[0], p[1])
    data = c.ReportMeetingOutcome(
        meeting_id=meeting_id, reporter=p[0], outcome="cooperation_possible"
    )
    with pytest.raises(Refused) as early:
        await client.call(c.REPORT_MEETING_OUTCOME, data, region, actor=contact(p[0]))
    assert early.value.code == "conflict" and "opens_at" in early.value.details
    running, q = await running_event(client, region)
    asked = await request(client, region, running, q[0], q[1])
    pending = c.ReportMeetingOutcome(meeting_id=asked.meeting_id, reporter=q[0],
                                     outcome="cooperation_possible")  # fmt: skip
    with pytest.raises(Refused) as not_held:
        await client.call(c.REPORT_MEETING_OUTCOME, pending, region, actor=contact(q[0]))
    assert not_held.value.code == "conflict"


def test_reports_close_report_days_after_the_last_slot_and_stay_out_of_the_events() -> None:
    setup = brokerage().brokerage
    assert setup is not None
    event = Brokerage(event_id="e", region="r", setup=setup.model_dump(mode="json"),
                      timezone="Europe/Helsinki")  # fmt: skip
    opens, closes = report_window(event)
    a, b = SmeRef(sme_id="a", region="r"), SmeRef(sme_id="b", region="r")
    m = Meeting(meeting_id="m", event_id="e", region="r", requester=a, receiver=b, priority=2,
                remote=False, status="accepted")  # fmt: skip
    with pytest.raises(Refused) as late:
        m.report(a, "cooperation_possible", closes + timedelta(seconds=1), event)
    assert "closes_at" in late.value.details
    m.report(a, "cooperation_possible", closes, event)
    m.cancel(b)  # an event recorded after the report does not carry it
    [(_, told)] = m.events
    assert told.meeting.reports == [] and m.view().reports[0].by == a
    assert opens < closes and opens.tzinfo is not None and closes.tzinfo == UTC
