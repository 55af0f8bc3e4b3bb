"""get_unplaced over the real bus: after scheduling, the accepted requests left out with why and
what would place them; only the event's organiser and the region's staff read it."""

from __future__ import annotations

import pytest

from contracts import matching as c
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import event_with_participants, request

pytestmark = pytest.mark.usefixtures("region_app")


async def test_the_requests_left_out_are_told_with_why_and_only_to_the_events_organiser(
    client: BusClient, region: str
) -> None:
    # Four slots, two tables, at most one meeting per participant: participant 0 is asked by
    # 1 and 2 and can hold only one of the two.
    event_id, p = await event_with_participants(client, region, 4, max_meetings_per_participant=1)
    for a, b in ((1, 0), (2, 0)):
        asked = await request(client, region, event_id, p[a], p[b])
        await client.call(
            c.RESPOND_MEETING,
            c.RespondMeeting(meeting_id=asked.meeting_id, accept=True, responder=p[b]),
            region,
        )
    organiser = Actor(id="org@tallinn.example", role="organiser", region=region,
                      event_ids=[event_id])  # fmt: skip
    with pytest.raises(Refused) as before:  # nothing to explain before a schedule
        await client.call(c.GET_UNPLACED, c.GetUnplaced(event_id=event_id), region,
                          actor=organiser)  # fmt: skip
    assert before.value.code == "not_found"
    await client.call(c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id, time_limit_s=2), region)
    told = await client.call(
        c.GET_UNPLACED, c.GetUnplaced(event_id=event_id), region, actor=organiser
    )
    assert told.placed == 1 and told.version == 1
    [left_out] = told.items
    assert left_out.reasons == ["cap_reached"]
    assert p[0] in left_out.at_cap and left_out.receiver == p[0]
    assert [r.changes for r in left_out.remedies] == [["lift_cap"]]

    staff = Actor(id="staff@tallinn.example", role="map_staff", region=region)
    assert (
        await client.call(c.GET_UNPLACED, c.GetUnplaced(event_id=event_id), region, actor=staff)
    ).items == told.items

    others = [
        Actor(id="org@elsewhere.example", role="organiser", region=region, event_ids=["other"]),
        Actor(id="staff@riga.example", role="map_staff", region="riga"),
        Actor(id="mari@sme.example", role="sme", region=region, sme_id=p[0].sme_id),
        Actor(id="steering@tallinn.example", role="steering", region=region),
    ]
    for actor in others:
        with pytest.raises(Refused) as refusal:
            await client.call(c.GET_UNPLACED, c.GetUnplaced(event_id=event_id), region,
                              actor=actor)  # fmt: skip
        assert refusal.value.code == "forbidden", actor.role
