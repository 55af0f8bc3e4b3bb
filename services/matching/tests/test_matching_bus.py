"""Matching over real NATS and the MongoDB-compatible server, fed by the real registry and events
services through their event streams."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from contracts import events as ev
from contracts import matching as c
from contracts import registry as reg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.matching.domain.meetings import key
from services.matching.domain.schedule_problem import MeetingSpec, Problem, violations
from tests.fixtures import Servers
from tests.helpers import eventually, published

pytestmark = pytest.mark.usefixtures("region_app")

SOON = (datetime.now(UTC) + timedelta(days=30)).date()


def brokerage(deadline: datetime | None = None, **setup: Any) -> ev.PublishEvent:
    return ev.PublishEvent.model_validate(
        {
            "partner_id": "map",
            "external_id": f"b-{uuid.uuid4()}",
            "kind": "brokerage_event",
            "title": "Baltic Sea Brokerage Day",
            "starts_at": f"{SOON}T09:00:00",
            "ends_at": f"{SOON}T17:00:00",
            "timezone": "Europe/Helsinki",
            "country": "FI",
            "brokerage": {
                "days": [SOON.isoformat()],
                "day_start": "09:00",
                "slots_per_day": 4,
                "slot_minutes": 30,
                "breaks_after_slot": [2],
                "tables": 2,
                "registration_deadline": (
                    deadline or datetime.now(UTC) + timedelta(days=10)
                ).isoformat(),
                "participation_types": ["on_site", "remote"],
                "max_requests_per_participant": 3,
            }
            | setup,
        }
    )


async def event_with_participants(
    client: BusClient, region: str, n: int, **kwargs: Any
) -> tuple[str, list[SmeRef]]:
    event = await client.call(ev.PUBLISH_EVENT, brokerage(**kwargs), region)
    people = [SmeRef(sme_id=f"sme-{i}", region=region) for i in range(n)]
    for i, sme in enumerate(people):
        await client.call(
            ev.REGISTER_PARTICIPANT,
            ev.RegisterParticipant(
                event_id=event.event_id,
                person_name=f"Person {i}",
                email=f"p{i}@example.fi",
                sme=sme,
                participation="remote" if i == n - 1 else "on_site",
            ),
            region,
        )

    async def joined() -> int:
        try:
            await client.call(
                c.SET_AVAILABILITY,
                c.SetAvailability(
                    event_id=event.event_id, participant=people[-1], slots=[0, 1, 2, 3]
                ),
                region,
            )
        except Refused:
            return 0
        return 1

    await eventually(joined, until=lambda ok: ok == 1)
    return event.event_id, people


async def request(
    client: BusClient, region: str, event_id: str, a: SmeRef, b: SmeRef, **extra: Any
) -> c.Meeting:
    return await client.call(
        c.REQUEST_MEETING,
        c.RequestMeeting(event_id=event_id, requester=a, receiver=b, **extra),
        region,
    )


async def test_requests_through_acceptance_to_a_valid_published_schedule(
    client: BusClient, region: str
) -> None:
    event_id, p = await event_with_participants(client, region, 5)
    # Person 0 is only available in the first two slots.
    await client.call(
        c.SET_AVAILABILITY,
        c.SetAvailability(event_id=event_id, participant=p[0], slots=[0, 1]),
        region,
    )
    asked = c.GetAvailability(event_id=event_id, participant=p[0])
    now = await client.call(c.GET_AVAILABILITY, asked, region)
    assert now.slots == [0, 1] and now.given
    asked = c.GetAvailability(event_id=event_id, participant=p[1])
    never = await client.call(c.GET_AVAILABILITY, asked, region)
    assert never.slots == [0, 1, 2, 3] and not never.given
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3), (3, 4), (1, 4)]
    meetings = [await request(client, region, event_id, p[a], p[b]) for a, b in pairs]
    for m in meetings[:-1]:
        answered = await client.call(
            c.RESPOND_MEETING,
            c.RespondMeeting(meeting_id=m.meeting_id, accept=True, responder=m.receiver),
            region,
        )
        assert answered.status == "accepted"
    declined = await client.call(
        c.RESPOND_MEETING,
        c.RespondMeeting(meeting_id=meetings[-1].meeting_id, accept=False, responder=p[4]),
        region,
    )
    assert declined.status == "declined"

    schedule = await client.call(
        c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id, time_limit_s=5), region
    )
    assert schedule.version == 1
    # Person 0 can hold only two of three meetings; everything else fits.
    assert len(schedule.meetings) == 5 and len(schedule.unscheduled) == 1
    assert schedule.bound == 5  # proven: no schedule holds the sixth, and this one is optimal
    problem = Problem(
        slots=4,
        tables=2,
        slots_per_day=4,
        meetings=[
            MeetingSpec(
                m.meeting_id,
                f"{m.requester.region}:{m.requester.sme_id}",
                f"{m.receiver.region}:{m.receiver.sme_id}",
                remote=m.remote,
            )
            for m in meetings[:-1]
        ],
        available={f"{region}:sme-0": frozenset({0, 1})},
    )
    placement = {s.meeting_id: (s.slot, s.table) for s in schedule.meetings}
    assert violations(problem, placement) == []
    remote = [s for s in schedule.meetings if s.meeting_id == meetings[5].meeting_id]
    assert remote and remote[0].table is None  # person 4 takes part remotely
    # Slot 3 comes after the break that follows slot 2: 09:00 + 3 slots + a 30-minute break.
    helsinki_11 = datetime.combine(SOON, time(11, 0), ZoneInfo("Europe/Helsinki"))
    assert all(s.starts_at == helsinki_11 for s in schedule.meetings if s.slot == 3)
    # get_event lists the same times, as wall time at the venue.
    details = await client.call(ev.GET_EVENT, ev.GetEvent(event_id=event_id), region)
    slot_starts = {t.slot: t.starts_at for t in details.slots}
    assert len(slot_starts) == 4 and slot_starts[3] == datetime.combine(SOON, time(11, 0))
    for s in schedule.meetings:
        helsinki = s.starts_at.astimezone(ZoneInfo("Europe/Helsinki"))
        assert slot_starts[s.slot] == helsinki.replace(tzinfo=None)

    mine = await client.call(
        c.GET_SCHEDULE, c.GetSchedule(event_id=event_id, participant=p[0], format="ical"), region
    )
    assert len(mine.meetings) == 2 and mine.ical
    assert len(icalendar.Calendar.from_ical(mine.ical).walk("VEVENT")) == 2
    table0 = await client.call(c.GET_SCHEDULE, c.GetSchedule(event_id=event_id, table=0), region)
    assert all(s.table == 0 for s in table0.meetings)


async def test_locked_meetings_keep_their_place_and_reruns_move_little(
    client: BusClient, region: str
) -> None:
    event_id, p = await event_with_participants(client, region, 4)
    pairs = [(0, 1), (2, 3), (0, 2), (1, 3)]
    meetings = [await request(client, region, event_id, p[a], p[b]) for a, b in pairs]
    for m in meetings:
        await client.call(
            c.RESPOND_MEETING,
            c.RespondMeeting(meeting_id=m.meeting_id, accept=True, responder=m.receiver),
            region,
        )
    locked = await client.call(
        c.LOCK_MEETING, c.LockMeeting(meeting_id=meetings[0].meeting_id, slot=3, table=1), region
    )
    assert (locked.locked, locked.locked_slot, locked.locked_table) == (True, 3, 1)
    first = await client.call(
        c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id, time_limit_s=3), region
    )
    placed = {s.meeting_id: (s.slot, s.table) for s in first.meetings}
    assert placed[meetings[0].meeting_id] == (3, 1) and len(placed) == 4
    # A late request, then a re-run: the meetings already placed stay where they were.
    late = await request(client, region, event_id, p[0], p[3])
    await client.call(
        c.RESPOND_MEETING,
        c.RespondMeeting(meeting_id=late.meeting_id, accept=True, responder=p[3]),
        region,
    )
    second = await client.call(
        c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id, time_limit_s=3), region
    )
    again = {s.meeting_id: (s.slot, s.table) for s in second.meetings}
    assert second.version == 2 and late.meeting_id in again
    assert all(again[mid] == pos for mid, pos in placed.items())


async def test_a_person_just_confirmed_is_a_participant_at_once(
    client: BusClient, region: str
) -> None:
    """No waiting in the test: the command is sent the moment the events service answers."""
    entry = brokerage().model_copy(update={"capacity": 2})
    event = await client.call(ev.PUBLISH_EVENT, entry, region)
    people = [SmeRef(sme_id=f"sme-{i}", region=region) for i in range(3)]
    registrations = [
        await client.call(
            ev.REGISTER_PARTICIPANT,
            ev.RegisterParticipant(
                event_id=event.event_id, person_name=f"P {i}", email=f"p{i}@x.fi", sme=sme
            ),
            region,
        )
        for i, sme in enumerate(people)
    ]
    # Published and registered a moment ago: a request between the two confirmed goes through.
    await request(client, region, event.event_id, people[0], people[1])
    assert [r.status for r in registrations] == ["confirmed", "confirmed", "waitlisted"]
    await client.call(
        ev.CANCEL_REGISTRATION,
        ev.CancelRegistration(registration_id=registrations[0].registration_id),
        region,
    )
    # The third person moved up from the waitlist just now.
    met = await request(client, region, event.event_id, people[2], people[1])
    assert met.status == "requested"


async def test_refusals_are_typed(client: BusClient, region: str) -> None:
    event_id, p = await event_with_participants(client, region, 3)
    with pytest.raises(Refused) as refused:
        await request(client, region, event_id, p[0], p[0])
    assert refused.value.code == "validation_failed"
    assert refused.value.details["fields"][0]["field"] == "data.receiver"
    stranger = SmeRef(sme_id="nobody", region=region)
    with pytest.raises(Refused) as refused:
        await request(client, region, event_id, p[0], stranger)
    assert refused.value.code == "not_found"
    assert refused.value.details["fields"][0]["field"] == "data.receiver"
    with pytest.raises(Refused) as refused:
        await request(client, region, "no-such-event", p[0], p[1])
    assert refused.value.code == "not_found"

    first = await request(client, region, event_id, p[0], p[1])
    with pytest.raises(Refused) as refused:
        await request(client, region, event_id, p[0], p[1])
    assert refused.value.code == "duplicate"
    # Asked back by the receiver: both want it, so it is accepted as mutual.
    mutual = await request(client, region, event_id, p[1], p[0], priority=3)
    assert mutual.meeting_id == first.meeting_id and mutual.status == "accepted" and mutual.mutual
    with pytest.raises(Refused) as refused:
        await client.call(
            c.RESPOND_MEETING,
            c.RespondMeeting(meeting_id=first.meeting_id, accept=True, responder=p[2]),
            region,
        )
    assert refused.value.code in {"forbidden", "conflict"}

    # The cap of 3 requests per participant.
    capped_id, q = await event_with_participants(client, region, 5, max_requests_per_participant=2)
    await request(client, region, capped_id, q[0], q[1])
    await request(client, region, capped_id, q[0], q[2])
    with pytest.raises(Refused) as refused:
        await request(client, region, capped_id, q[0], q[3])
    assert refused.value.code == "conflict" and refused.value.details["cap"] == 2


async def test_requests_after_the_deadline_are_refused(client: BusClient, region: str) -> None:
    # Registration closes at the deadline too, so it is set before the participants register;
    # a set-up that leaves less than left_s to ask before it (a loaded machine) is made again
    # with twice the time, so the window is measured from the end of the set-up, however long
    # that took, and stays a few seconds on a quiet machine.
    left_s, open_s = 2.0, 4.0
    while True:
        deadline = datetime.now(UTC) + timedelta(seconds=open_s)
        event_id, p = await event_with_participants(client, region, 3, deadline=deadline)
        if datetime.now(UTC) <= deadline - timedelta(seconds=left_s):
            break
        open_s *= 2
        assert open_s <= 64, f"set-up took longer than {open_s / 2:.0f} s"
    # Before the deadline the same requester may ask (one request of the three allowed).
    before = await request(client, region, event_id, p[0], p[1])
    assert before.status == "requested"
    await asyncio.sleep((deadline - datetime.now(UTC)).total_seconds() + 0.05)
    with pytest.raises(Refused) as refused:
        await request(client, region, event_id, p[0], p[2])
    # Refused for the deadline: not the cap, a cancelled event or a duplicate.
    assert refused.value.code == "conflict"
    assert datetime.fromisoformat(refused.value.details["deadline"]) == deadline
    assert "cap" not in refused.value.details
    assert "closed" in refused.value.message


async def test_outcomes_feed_the_kpis_by_region_and_cluster(client: BusClient, region: str) -> None:
    event_id, p = await event_with_participants(client, region, 3)
    ab = await request(client, region, event_id, p[0], p[1])
    ac = await request(client, region, event_id, p[0], p[2])
    for m in (ab, ac):
        await client.call(
            c.RESPOND_MEETING,
            c.RespondMeeting(meeting_id=m.meeting_id, accept=True, responder=m.receiver),
            region,
        )
    await client.call(
        c.RECORD_MEETING_OUTCOME,
        c.RecordMeetingOutcome(meeting_id=ab.meeting_id, outcome="cooperation_possible"),
        region,
    )
    await client.call(
        c.RECORD_MEETING_OUTCOME,
        c.RecordMeetingOutcome(meeting_id=ac.meeting_id, outcome="did_not_take_place"),
        region,
    )
    kpis = await client.call(c.GET_MEETING_KPIS, c.GetMeetingKpis(event_id=event_id), region)
    assert kpis.total == c.MeetingCounts(
        contacts_brokered=2, meetings_held=1, cooperation_possible=1
    )
    assert kpis.by_region[region].contacts_brokered == 2


async def test_a_meeting_held_is_told_to_the_network_once_and_counted_once_across_regions(
    servers: Servers, client: BusClient, region: str
) -> None:
    """meeting_held (shared: each side's home region surveys its SME) is published when the
    outcome first says the meeting took place, naming no outcome; a meeting between SMEs of two
    regions is one trans-national contact, though it is in both regions' rows. A meeting between
    two SMEs of the host's own region is not told to the network."""
    event_id, (home, other) = await event_with_participants(client, region, 2)
    guest = SmeRef(sme_id="guest-1", region="berlin")
    await client.call(
        ev.REGISTER_PARTICIPANT,
        ev.RegisterParticipant(event_id=event_id, person_name="Jan", email="jan@uf.de", sme=guest),
        region,
    )

    async def asked_guest() -> c.Meeting | None:
        try:
            return await request(client, region, event_id, home, guest)
        except Refused:  # the guest's registration has not reached matching yet
            return None

    across = await eventually(asked_guest, until=lambda m: m is not None)
    assert across is not None
    inside = await request(client, region, event_id, other, home)
    for m in (across, inside):
        yes = c.RespondMeeting(meeting_id=m.meeting_id, accept=True, responder=m.receiver)
        await client.call(c.RESPOND_MEETING, yes, region)
    for outcome in ("informative_no_cooperation", "cooperation_possible", "did_not_take_place"):
        told = c.RecordMeetingOutcome(meeting_id=across.meeting_id, outcome=outcome)
        await client.call(c.RECORD_MEETING_OUTCOME, told, region)
    # Between two SMEs of this region: surveyed here from its outcome, told to no other region.
    at_home = c.RecordMeetingOutcome(meeting_id=inside.meeting_id, outcome="cooperation_possible")
    await client.call(c.RECORD_MEETING_OUTCOME, at_home, region)

    held = await published(servers.nats_url, c.MEETING_HELD, region)
    await asyncio.sleep(0.5)  # an outcome changed to another that says held tells nothing more
    held = await published(servers.nats_url, c.MEETING_HELD, region)
    assert held == [
        {"meeting_id": across.meeting_id, "event_id": event_id, "region": region,
         "participants": [home.model_dump(), guest.model_dump()]}
    ]  # fmt: skip
    assert c.MEETING_HELD.network and "outcome" not in held[0]

    kpis = await client.call(c.GET_MEETING_KPIS, c.GetMeetingKpis(event_id=event_id), region)
    assert kpis.total.contacts_brokered == 2
    assert kpis.across_regions == c.MeetingCounts(
        contacts_brokered=1, meetings_held=0, cooperation_possible=0
    )
    assert (
        kpis.by_region[region].contacts_brokered,
        kpis.by_region["berlin"].contacts_brokered,
    ) == (2, 1)


def sme(name: str, reg_no: str, **extra: Any) -> reg.RegisterSme:
    return reg.RegisterSme.model_validate(
        {"legal_name": name, "registration_number": reg_no, "country": "EE",
         "share_with_network": True} | extra
    )  # fmt: skip


def profile(kind: str, title: str, summary: str, **extra: Any) -> reg.ProfileInput:
    return reg.ProfileInput.model_validate(
        {"type": kind, "title": title, "summary": summary, "partnership_types": ["licence"],
         "expires_on": (date.today() + timedelta(days=200)).isoformat()} | extra
    )  # fmt: skip


async def test_find_partners_ranks_complementary_profiles_with_reasons(
    client: BusClient, region: str
) -> None:
    async def registered(name: str, reg_no: str, p: reg.ProfileInput, **extra: Any) -> str:
        view = await client.call(reg.REGISTER_SME, sme(name, reg_no, **extra), region)
        await client.call(
            reg.PUBLISH_PROFILE, reg.PublishProfile(sme_id=view.sme_id, profile=p), region
        )
        return view.sme_id

    seeker = await registered(
        "Laser Seekers OÜ", "14000009",
        profile("technology_request", "Femtosecond laser for glass cutting",
                "We need an ultrafast laser source for cutting thin glass", nace_codes=["26.70"]),
        nace_codes=["26.70"], clusters=["photonics"],
    )  # fmt: skip
    offer = await registered(
        "Ultrafast Optics OÜ", "14000015",
        profile("technology_offer", "Ultrafast femtosecond laser source",
                "Compact femtosecond laser for glass and sapphire cutting",
                nace_codes=["26.70"], keywords=["laser", "glass"]),
        nace_codes=["26.70"], clusters=["photonics"],
    )  # fmt: skip
    await registered(
        "Other Seeker OÜ", "14000021",
        profile("technology_request", "Looking for a femtosecond laser",
                "Another company that wants glass cutting lasers"),
    )  # fmt: skip
    await registered(
        "Cloud Books OÜ", "14000038",
        profile("technology_offer", "Accounting in the cloud", "SaaS bookkeeping for SMEs"),
        clusters=["ICT"],
    )  # fmt: skip
    await registered(
        "Private Laser OÜ", "14000044",
        profile("technology_offer", "Femtosecond laser glass cutting", "Hidden offer",
                visibility="private"),
        clusters=["Secret optics"],
    )  # fmt: skip

    async def search() -> c.PartnerPage:
        try:
            return await client.call(
                c.FIND_PARTNERS, c.FindPartners(seeker=SmeRef(sme_id=seeker, region=region)), region
            )
        except Refused as refused:  # the seeker has not reached matching's read model yet
            print(refused.code, refused.message)
            return c.PartnerPage(items=[])

    # All three visible partners (not the private one, not the seeker) have reached matching.
    page = await eventually(search, until=lambda page: len(page.items) >= 3)
    best = page.items[0]
    assert best.sme.sme_id == offer
    assert any(r.startswith("terms:") and "femtosecond" in r for r in best.reasons)
    assert "complementary type: technology_offer" in best.reasons
    assert "same NACE class 26.70" in best.reasons
    names = [m.legal_name for m in page.items]
    assert "Private Laser OÜ" not in names and "Laser Seekers OÜ" not in names
    assert names.index("Ultrafast Optics OÜ") < names.index("Cloud Books OÜ")
    # The clusters the search may be filtered by: those of the companies it reads (not of
    # one whose only profile is private).
    assert page.clusters == ["ICT", "photonics"]

    filtered = await client.call(
        c.FIND_PARTNERS,
        c.FindPartners(
            seeker=SmeRef(sme_id=seeker, region=region), profile_type="technology_request"
        ),
        region,
    )
    assert [m.legal_name for m in filtered.items] == ["Other Seeker OÜ"]

    await client.call(reg.ERASE_SME, reg.EraseSme(sme_id=offer, reason="asked"), region)
    await eventually(search, until=lambda page: all(m.sme.sme_id != offer for m in page.items))


async def test_a_contact_lists_and_answers_only_as_their_own_sme(
    client: BusClient, region: str
) -> None:
    event_id, p = await event_with_participants(client, region, 4)
    asked = await request(client, region, event_id, p[0], p[1], message="Shall we talk?")
    await request(client, region, event_id, p[2], p[3])
    await request(client, region, event_id, p[2], p[0])
    contact = Actor(id="maria@example.fi", role="sme", region=region, sme_id=p[0].sme_id)

    mine = await client.call(c.LIST_MEETINGS, c.ListMeetings(event_id=event_id, participant=p[0]),
                             region, actor=contact)  # fmt: skip
    assert sorted(key(m.receiver) for m in mine.items) == sorted([key(p[1]), key(p[0])])
    assert {m.message for m in mine.items} >= {"Shall we talk?"}
    first = await client.call(c.LIST_MEETINGS, c.ListMeetings(event_id=event_id, limit=2), region)
    after = c.ListMeetings(event_id=event_id, limit=2, cursor=first.next_cursor)
    rest = await client.call(c.LIST_MEETINGS, after, region)
    assert len(first.items) == 2 and len(rest.items) == 1 and rest.next_cursor is None

    refusable: list[tuple[Any, Any]] = [
        (c.LIST_MEETINGS, c.ListMeetings(event_id=event_id)),
        (c.LIST_MEETINGS, c.ListMeetings(event_id=event_id, participant=p[1])),
        (
            c.RESPOND_MEETING,
            c.RespondMeeting(meeting_id=asked.meeting_id, accept=True, responder=p[1]),
        ),
        (c.REQUEST_MEETING, c.RequestMeeting(event_id=event_id, requester=p[3], receiver=p[1])),
        (c.CANCEL_MEETING, c.CancelMeeting(meeting_id=asked.meeting_id, by=p[1])),
    ]
    for op, data in refusable:
        with pytest.raises(Refused) as refused:
            await client.call(op, data, region, actor=contact)
        assert refused.value.code == "forbidden", op.name
    organiser = Actor(id="org@example.fi", role="organiser", region=region, event_ids=["other"])
    with pytest.raises(Refused) as refused:
        await client.call(c.SCHEDULE_EVENT, c.ScheduleEvent(event_id=event_id), region,
                          actor=organiser)  # fmt: skip
    assert refused.value.code == "forbidden"
    with pytest.raises(Refused) as refused:
        await client.call(c.LIST_MEETINGS, c.ListMeetings(event_id="no-such-event"), region)
    assert refused.value.code == "not_found"
