"""get_unplaced and place_meeting over the real bus: after scheduling, the accepted requests left
out with why and what would place them; a meeting added or moved by hand, checked against both
agendas, the tables and the cap; only the event's organiser and the region's staff do either."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from contracts import matching as c
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.matching.service_layer import handlers
from services.matching.tests.test_matching_bus import event_with_participants, request
from tests.fixtures import Servers
from tests.helpers import eventually, published

pytestmark = pytest.mark.usefixtures("region_app")


async def accepted(
    client: BusClient, region: str, event_id: str, p: list[SmeRef], *pairs: tuple[int, int]
) -> list[str]:
    """Each pair's meeting, requested by the first and accepted by the second: their ids."""
    ids = []
    for a, b in pairs:
        asked = await request(client, region, event_id, p[a], p[b])
        answer = c.RespondMeeting(meeting_id=asked.meeting_id, accept=True, responder=p[b])
        await client.call(c.RESPOND_MEETING, answer, region)
        ids.append(asked.meeting_id)
    return ids


async def test_the_requests_left_out_are_told_with_why_and_only_to_the_events_organiser(
    client: BusClient, region: str
) -> None:
    # Four slots, two tables, at most one meeting per participant: participant 0 is asked by
    # 1 and 2 and can hold only one of the two.
    event_id, p = await event_with_participants(client, region, 4, max_meetings_per_participant=1)
    await accepted(client, region, event_id, p, (1, 0), (2, 0))
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


async def test_the_organiser_adds_and_moves_a_meeting_by_hand_checked_against_both_agendas(
    servers: Servers, client: BusClient, region: str
) -> None:
    event_id, p = await event_with_participants(client, region, 4, max_meetings_per_participant=1)
    ids = await accepted(client, region, event_id, p, (1, 0), (2, 0))
    organiser = Actor(id="org@tallinn.example", role="organiser", region=region,
                      event_ids=[event_id])  # fmt: skip
    with pytest.raises(Refused) as unscheduled:
        await client.call(c.PLACE_MEETING, c.PlaceMeeting(meeting_id=ids[0], slot=0, table=0),
                          region, actor=organiser)  # fmt: skip
    assert unscheduled.value.code == "not_found"  # no schedule yet
    schedule = await client.call(
        c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id, time_limit_s=2), region
    )
    [held] = schedule.meetings
    [left_out] = schedule.unscheduled
    free = next(s for s in range(4) if s != held.slot)

    # Adding the one left out breaks the cap of participant 0: refused, naming it.
    with pytest.raises(Refused) as capped:
        await client.call(c.PLACE_MEETING,
                          c.PlaceMeeting(meeting_id=left_out, slot=free, table=0),
                          region, actor=organiser)  # fmt: skip
    assert capped.value.code == "conflict" and "cap 1" in capped.value.message
    # An on-site meeting needs a table; a table beyond the event's is refused.
    for table, code in ((None, "validation_failed"), (2, "conflict")):
        with pytest.raises(Refused) as bad:
            await client.call(c.PLACE_MEETING,
                              c.PlaceMeeting(meeting_id=held.meeting_id, slot=free, table=table),
                              region, actor=organiser)  # fmt: skip
        assert bad.value.code == code, table

    # Moving the held one to a free slot: the schedule's next version, told once.
    moved = await client.call(c.PLACE_MEETING,
                              c.PlaceMeeting(meeting_id=held.meeting_id, slot=free, table=1),
                              region, actor=organiser)  # fmt: skip
    assert (moved.version, moved.meeting.slot, moved.meeting.table) == (2, free, 1)
    assert moved.previous is not None and moved.previous.slot == held.slot
    again = await client.call(c.PLACE_MEETING,
                              c.PlaceMeeting(meeting_id=held.meeting_id, slot=free, table=1),
                              region, actor=organiser)  # fmt: skip
    assert again.version == 2  # the same place again changes nothing
    now = await client.call(c.GET_SCHEDULE, c.GetSchedule(event_id=event_id), region)
    assert now.version == 2 and [(m.slot, m.table) for m in now.meetings] == [(free, 1)]
    told = await published(servers.nats_url, c.MEETING_PLACED, region)
    assert [e["meeting"]["meeting_id"] for e in told] == [held.meeting_id]
    # The other regions' copies take the new version (schedule_changed, with the same write).
    [changed] = [
        e
        for e in await published(servers.nats_url, c.SCHEDULE_CHANGED, region)
        if e["event_id"] == event_id
    ]
    assert changed["version"] == 2 and [m["slot"] for m in changed["meetings"]] == [free]

    # A locked meeting stays where it is until unlocked.
    await client.call(c.LOCK_MEETING, c.LockMeeting(meeting_id=held.meeting_id), region)
    with pytest.raises(Refused) as locked:
        await client.call(c.PLACE_MEETING,
                          c.PlaceMeeting(meeting_id=held.meeting_id, slot=held.slot, table=0),
                          region, actor=organiser)  # fmt: skip
    assert locked.value.code == "conflict" and "unlock" in locked.value.message

    for actor in (
        Actor(id="org@elsewhere.example", role="organiser", region=region, event_ids=["other"]),
        Actor(id="staff@riga.example", role="map_staff", region="riga"),
        Actor(id="mari@sme.example", role="sme", region=region, sme_id=p[0].sme_id),
    ):
        with pytest.raises(Refused) as refusal:
            await client.call(c.PLACE_MEETING,
                              c.PlaceMeeting(meeting_id=left_out, slot=free, table=0),
                              region, actor=actor)  # fmt: skip
        assert refusal.value.code == "forbidden", actor.role


async def test_a_cancelled_meeting_leaves_the_published_schedule_at_once_and_in_its_next_version(
    servers: Servers, client: BusClient, region: str
) -> None:
    event_id, p = await event_with_participants(client, region, 4)
    ids = await accepted(client, region, event_id, p, (1, 0), (2, 3))
    schedule = await client.call(
        c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id, time_limit_s=2), region
    )
    assert {m.meeting_id for m in schedule.meetings} == set(ids)
    await client.call(c.CANCEL_MEETING, c.CancelMeeting(meeting_id=ids[0], by=p[1]), region)

    # At once: neither the schedule nor the side's agenda nor its calendar file has it.
    now = await client.call(c.GET_SCHEDULE, c.GetSchedule(event_id=event_id), region)
    assert [m.meeting_id for m in now.meetings] == [ids[1]]
    agenda = await client.call(
        c.GET_SCHEDULE, c.GetSchedule(event_id=event_id, participant=p[0], format="ical"), region
    )
    assert agenda.meetings == [] and agenda.ical is not None and ids[0] not in agenda.ical

    # Then the stored schedule's next version, told to the network once.
    async def changes() -> list[Any]:
        every = await published(servers.nats_url, c.SCHEDULE_CHANGED, region)
        return [e for e in every if e["event_id"] == event_id]

    [told] = await eventually(changes, until=bool)
    assert told["version"] == 2 and [m["meeting_id"] for m in told["meetings"]] == [ids[1]]
    stored = await client.call(c.GET_SCHEDULE, c.GetSchedule(event_id=event_id), region)
    assert stored.version == 2


async def test_a_meeting_cancelled_while_the_schedule_is_made_leaves_it_too(
    servers: Servers, client: BusClient, region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler read the meeting as accepted before it was cancelled and stored it after
    (so the cancellation's own unschedule found nothing to remove): it leaves the schedule
    right after, in the next version the network's copies take."""
    event_id, p = await event_with_participants(client, region, 4)
    ids = await accepted(client, region, event_id, p, (1, 0), (2, 3))
    solving, cancelled = threading.Event(), threading.Event()
    real = handlers.solve

    def slow(*args: Any, **kwargs: Any) -> Any:
        solving.set()
        cancelled.wait(10)  # the cancellation is stored while the solver runs
        return real(*args, **kwargs)

    monkeypatch.setattr(handlers, "solve", slow)
    scheduling = asyncio.create_task(client.call(
        c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id, time_limit_s=2), region,
        timeout_s=30))  # fmt: skip
    await asyncio.to_thread(solving.wait, 10)
    await client.call(c.CANCEL_MEETING, c.CancelMeeting(meeting_id=ids[0], by=p[1]), region)
    cancelled.set()
    made = await scheduling
    assert [m.meeting_id for m in made.meetings] == [ids[1]] and made.version == 2

    async def changes() -> list[Any]:
        every = await published(servers.nats_url, c.SCHEDULE_CHANGED, region)
        return [e for e in every if e["event_id"] == event_id]

    [told] = await eventually(changes, until=bool)
    assert told["version"] == 2 and [m["meeting_id"] for m in told["meetings"]] == [ids[1]]
