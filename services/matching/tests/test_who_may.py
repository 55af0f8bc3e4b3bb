"""Who may do what in matching, over the real bus: an organiser runs, reads and acts only at
their own events (get_schedule gave any organiser any event's agenda); staff of another region
act only for their own region's SMEs and read no meeting here; a contact seeks partners and
reads meetings only as their own SME."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import matching as c
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import event_with_participants, request

pytestmark = pytest.mark.usefixtures("region_app")


async def refused(
    client: BusClient, op: Operation[Any, Any], data: Any, region: str, actor: Actor
) -> str:
    with pytest.raises(Refused) as refusal:
        await client.call(op, data, region, actor=actor)
    return refusal.value.code


async def test_an_organiser_reads_and_acts_only_at_their_own_events(
    client: BusClient, region: str
) -> None:
    event_id, p = await event_with_participants(client, region, 3)
    asked = await request(client, region, event_id, p[0], p[1], message="Shall we talk?")
    accepted = await client.call(
        c.RESPOND_MEETING,
        c.RespondMeeting(meeting_id=asked.meeting_id, accept=True, responder=p[1]),
        region,
    )
    assert accepted.status == "accepted"
    await client.call(c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id), region)
    other = Actor(id="org@elsewhere.example", role="organiser", region=region,
                  event_ids=["another-event"])  # fmt: skip
    attempts: list[tuple[Operation[Any, Any], Any]] = [
        (c.GET_SCHEDULE, c.GetSchedule(event_id=event_id)),
        (c.GET_MEETING, c.GetMeeting(meeting_id=asked.meeting_id)),
        (c.LIST_MEETINGS, c.ListMeetings(event_id=event_id)),
        (c.GET_MEETING_KPIS, c.GetMeetingKpis(event_id=event_id)),
        (c.GET_MEETING_KPIS, c.GetMeetingKpis()),
        (c.REQUEST_MEETING, c.RequestMeeting(event_id=event_id, requester=p[2], receiver=p[0])),
        (c.CANCEL_MEETING, c.CancelMeeting(meeting_id=asked.meeting_id, by=p[0])),
        (c.SET_AVAILABILITY, c.SetAvailability(event_id=event_id, participant=p[2], slots=[0])),
        (c.GET_AVAILABILITY, c.GetAvailability(event_id=event_id, participant=p[2])),
        (c.RECORD_MEETING_OUTCOME, c.RecordMeetingOutcome(meeting_id=asked.meeting_id,
                                                          outcome="cooperation_possible")),
    ]  # fmt: skip
    for op, data in attempts:
        assert await refused(client, op, data, region, other) == "forbidden", op.name
    still = await client.call(c.GET_MEETING, c.GetMeeting(meeting_id=asked.meeting_id), region)
    assert (still.status, still.outcome) == ("accepted", None)
    # The event's own organiser reads and runs it.
    own = other.model_copy(update={"event_ids": [event_id]})
    agenda = await client.call(c.GET_SCHEDULE, c.GetSchedule(event_id=event_id), region, actor=own)
    assert [m.meeting_id for m in agenda.meetings] == [asked.meeting_id]
    figures = await client.call(
        c.GET_MEETING_KPIS, c.GetMeetingKpis(event_id=event_id), region, actor=own
    )
    assert figures.region == region


async def test_staff_of_another_region_act_only_for_their_own_regions_smes(
    client: BusClient, region: str
) -> None:
    event_id, p = await event_with_participants(client, region, 2)
    asked = await request(client, region, event_id, p[0], p[1])
    elsewhere = Actor(id="staff@riga.example", role="map_staff", region="riga")
    attempts: list[tuple[Operation[Any, Any], Any]] = [
        (c.REQUEST_MEETING, c.RequestMeeting(event_id=event_id, requester=p[1], receiver=p[0])),
        (c.RESPOND_MEETING, c.RespondMeeting(meeting_id=asked.meeting_id, accept=False,
                                             responder=p[1])),
        (c.CANCEL_MEETING, c.CancelMeeting(meeting_id=asked.meeting_id, by=p[0])),
        (c.SET_AVAILABILITY, c.SetAvailability(event_id=event_id, participant=p[0], slots=[])),
        (c.GET_AVAILABILITY, c.GetAvailability(event_id=event_id, participant=p[0])),
        (c.GET_SCHEDULE, c.GetSchedule(event_id=event_id)),
        (c.FIND_PARTNERS, c.FindPartners(seeker=p[0])),
        (c.GET_MEETING, c.GetMeeting(meeting_id=asked.meeting_id)),
        (c.LIST_MEETINGS, c.ListMeetings(event_id=event_id)),
        (c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id)),
        (c.LOCK_MEETING, c.LockMeeting(meeting_id=asked.meeting_id, locked=True, slot=0,
                                       table=0)),
    ]  # fmt: skip
    for op, data in attempts:
        assert await refused(client, op, data, region, elsewhere) == "forbidden", op.name
    still = await client.call(c.GET_MEETING, c.GetMeeting(meeting_id=asked.meeting_id), region)
    assert still.status == "requested"
    # For an SME of their own region they may ask here (it is not a participant: not_found).
    riga_sme = SmeRef(sme_id="riga-sme", region="riga")
    mine = c.RequestMeeting(event_id=event_id, requester=riga_sme, receiver=p[0])
    assert await refused(client, c.REQUEST_MEETING, mine, region, elsewhere) == "not_found"


async def test_a_contact_seeks_partners_only_as_their_own_sme(
    client: BusClient, region: str
) -> None:
    contact = Actor(id="mari@ours.ee", role="sme", region=region, sme_id="ours")
    theirs = c.FindPartners(seeker=SmeRef(sme_id="theirs", region=region))
    assert await refused(client, c.FIND_PARTNERS, theirs, region, contact) == "forbidden"
    ours = c.FindPartners(seeker=SmeRef(sme_id="ours", region=region))
    assert await refused(client, c.FIND_PARTNERS, ours, region, contact) == "not_found"
