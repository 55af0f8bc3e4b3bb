"""Matching use cases: meetings at brokerage events, the schedule, outcomes and partner search."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import datetime
from typing import Any

from contracts import matching as c
from contracts.common import SmeRef
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime.access import command_key
from mapnet.runtime.unit_of_work import UnitOfWork

from ..adapters.profile_index import Filters, ProfileIndex
from ..adapters.read_model import ReadModel
from ..adapters.repository import MEETINGS, SCHEDULES, MeetingRepository
from ..domain import kpis, marketplace
from ..domain.access import (
    check_acts_for,
    check_home_staff,
    check_kpis_reader,
    check_organiser,
    check_staff_for,
)
from ..domain.meetings import Brokerage, Meeting, key, seen_by, slot_times
from ..domain.ranking import seeker_from
from ..domain.rooms import room_url
from ..domain.schedule_problem import MeetingSpec, Problem
from ..domain.scheduler import solve, spec_weight
from ..domain.unplaced import explain, placing_problems

_NAMESPACE = uuid.UUID("5d0b8f3c-2a71-4e6b-b1c9-8e4f6a2d9c13")


# Reads of the schedule again after another change was stored meanwhile (a conflict).
_SCHEDULE_RETRIES = 3


class Matching:
    def __init__(
        self,
        uow: UnitOfWork,
        meetings: MeetingRepository,
        read_model: ReadModel,
        index: ProfileIndex,
    ) -> None:
        self.uow = uow
        self.region = uow.region
        self.meetings = meetings
        self.read_model = read_model
        self.index = index
        # Remote meetings' rooms: the region's template (None: no links) and its key, read at
        # start (set_rooms).
        self.room_template: str | None = None
        self.room_secret = ""

    def set_rooms(self, template: str | None, secret: str) -> None:
        self.room_template, self.room_secret = template, secret

    def _with_rooms(self, items: list[c.ScheduledMeeting]) -> list[c.ScheduledMeeting]:
        """Each remote meeting (no table) with its room's link, for those the access checks
        let read it: its two sides, the event's organisers and staff, the region's services."""
        if not self.room_template or not self.room_secret:
            return items
        return [
            s.model_copy(
                update={"room_url": room_url(self.room_template, self.room_secret, s.meeting_id)}
            )
            if s.table is None
            else s
            for s in items
        ]

    def now(self) -> datetime:
        return self.uow.now()

    async def _event(self, event_id: str) -> Brokerage:
        event = await self.read_model.event(event_id, wait=True)
        if event is None:
            raise not_found("brokerage event", event_id)
        return event

    async def _participant(self, event_id: str, sme: SmeRef, field: str) -> dict[str, Any]:
        found = await self.read_model.participant(event_id, sme, wait=True)
        if found is None:
            raise Refused(
                "not_found",
                f"{key(sme)} is not a confirmed participant of event {event_id}",
                fields=[{"field": f"data.{field}", "message": "not a participant", "type": "ref"}],
            )
        return found

    async def _placement(self, event_id: str) -> dict[str, list[Any]]:
        schedule = await self.meetings.schedule(event_id)
        return schedule["placement"] if schedule else {}

    async def _view(self, m: Meeting) -> c.Meeting:
        slot, table = (await self._placement(m.event_id)).get(m.meeting_id, (None, None))
        return m.view(slot, table)

    async def _store(self, m: Meeting, expected: int, cause: Envelope[Any]) -> c.Meeting:
        await self.uow.save(
            m,
            cause,
            collection=MEETINGS,
            key=m.meeting_id,
            write=lambda events: self.meetings.save(m, expected, events),
        )
        return await self._view(m)

    # --- meetings ----------------------------------------------------------------------------

    async def request_meeting(self, cmd: Envelope[c.RequestMeeting]) -> c.Meeting:
        d = cmd.data
        check_acts_for(cmd.actor, d.requester, "requester")
        check_staff_for(cmd.actor, d.requester, "requester", self.region)
        check_organiser(cmd.actor, d.event_id)
        meeting_id = str(uuid.uuid5(_NAMESPACE, f"{self.region}:{command_key(cmd)}"))
        if existing := await self.meetings.get(meeting_id):
            return await self._view(existing)  # the same command again
        event = await self._event(d.event_id)
        requester = await self._participant(d.event_id, d.requester, "requester")
        receiver = await self._participant(d.event_id, d.receiver, "receiver")
        if key(d.requester) != key(d.receiver) and (
            back := await self.meetings.between(d.event_id, d.requester, d.receiver)
        ):
            expected = back.version
            back.asked_back(d.requester, d.priority)
            return await self._store(back, expected, cmd)
        meeting = Meeting.request(
            meeting_id,
            event,
            d,
            bool(requester.get("remote") or receiver.get("remote")),
            await self.meetings.sent_by(d.event_id, d.requester),
            self.now(),
        )
        await self.uow.save(
            meeting,
            cmd,
            collection=MEETINGS,
            key=meeting_id,
            write=lambda events: self.meetings.add(meeting, events),
        )
        return meeting.view()

    async def _change(self, meeting_id: str, cmd: Envelope[Any], change: Any) -> c.Meeting:
        m = await self.meetings.require(meeting_id)
        check_organiser(cmd.actor, m.event_id)
        expected = m.version
        change(m)
        return await self._store(m, expected, cmd)

    async def respond_meeting(self, cmd: Envelope[c.RespondMeeting]) -> c.Meeting:
        d = cmd.data
        check_acts_for(cmd.actor, d.responder, "responder")
        check_staff_for(cmd.actor, d.responder, "responder", self.region)
        done = await self._change(d.meeting_id, cmd, lambda m: m.respond(d.responder, d.accept))
        return seen_by(done, cmd.actor)

    async def cancel_meeting(self, cmd: Envelope[c.CancelMeeting]) -> c.Meeting:
        d = cmd.data
        check_acts_for(cmd.actor, d.by, "by")
        check_staff_for(cmd.actor, d.by, "by", self.region)
        return seen_by(await self._change(d.meeting_id, cmd, lambda m: m.cancel(d.by)), cmd.actor)

    async def report_meeting_outcome(self, cmd: Envelope[c.ReportMeetingOutcome]) -> c.Meeting:
        """A participant's own report of what the meeting led to; the organisers read both."""
        d = cmd.data
        check_acts_for(cmd.actor, d.reporter, "reporter")
        meeting = await self.meetings.require(d.meeting_id)
        event = await self._event(meeting.event_id)
        now = self.now()
        done = await self._change(
            d.meeting_id, cmd, lambda m: m.report(d.reporter, d.outcome, now, event)
        )
        return seen_by(done, cmd.actor)

    async def record_meeting_outcome(self, cmd: Envelope[c.RecordMeetingOutcome]) -> c.Meeting:
        d = cmd.data
        check_home_staff(cmd.actor, self.region)
        meeting = await self.meetings.require(d.meeting_id)
        check_organiser(cmd.actor, meeting.event_id)
        return await self._change(d.meeting_id, cmd, lambda m: m.record_outcome(d.outcome))

    async def lock_meeting(self, cmd: Envelope[c.LockMeeting]) -> c.Meeting:
        d = cmd.data
        check_home_staff(cmd.actor, self.region)
        m = await self.meetings.require(d.meeting_id)
        check_organiser(cmd.actor, m.event_id)
        event = await self._event(m.event_id)
        slot, table = d.slot, d.table
        if d.locked and slot is None:  # fix it where the schedule has it
            slot, table = (await self._placement(m.event_id)).get(m.meeting_id, (None, None))
        if d.locked and table is None and not m.remote:
            raise Refused(
                "validation_failed",
                "data.table: an on-site meeting is fixed at a table",
                fields=[{"field": "data.table", "message": "needed", "type": "missing"}],
            )
        if table is not None and table >= int(event.setup["tables"]):
            raise Refused("validation_failed", f"data.table: the event has {event.setup['tables']}")
        return await self._change(
            d.meeting_id, cmd, lambda m: m.lock(d.locked, slot, table, event.slots)
        )

    async def set_availability(self, cmd: Envelope[c.SetAvailability]) -> c.Availability:
        d = cmd.data
        check_acts_for(cmd.actor, d.participant, "participant")
        check_staff_for(cmd.actor, d.participant, "participant", self.region)
        check_organiser(cmd.actor, d.event_id)
        event = await self._event(d.event_id)
        await self._participant(d.event_id, d.participant, "participant")
        if bad := [s for s in d.slots if not 0 <= s < event.slots]:
            raise Refused(
                "validation_failed",
                f"data.slots: the event has slots 0 to {event.slots - 1}",
                fields=[{"field": "data.slots", "message": f"no slots {bad}", "type": "range"}],
            )
        await self.read_model.set_availability(d.event_id, d.participant, d.slots)
        return c.Availability(event_id=d.event_id, participant=d.participant, slots=d.slots)

    async def get_availability(self, query: Envelope[c.GetAvailability]) -> c.AvailabilityNow:
        q = query.data
        check_acts_for(query.actor, q.participant, "participant")
        check_staff_for(query.actor, q.participant, "participant", self.region)
        check_organiser(query.actor, q.event_id)
        event = await self._event(q.event_id)
        found = await self._participant(q.event_id, q.participant, "participant")
        given = found.get("available")
        slots = list(range(event.slots)) if given is None else list(given)
        return c.AvailabilityNow(
            event_id=q.event_id, participant=q.participant, slots=slots, given=given is not None
        )

    # --- the schedule ------------------------------------------------------------------------

    async def _problem(
        self, event: Brokerage, accepted: list[Meeting], placed: dict[str, list[Any]]
    ) -> Problem:
        """The event's accepted meetings as the scheduler's problem: its slots, tables and
        cap, each participant's free slots, and where the schedule before had each meeting."""
        participants = await self.read_model.participants_of(event.event_id)
        return Problem(
            slots=event.slots,
            tables=int(event.setup["tables"]),
            slots_per_day=int(event.setup["slots_per_day"]),
            meetings=[
                MeetingSpec(
                    meeting_id=m.meeting_id,
                    a=key(m.requester),
                    b=key(m.receiver),
                    weight=spec_weight(m.priority, m.mutual),
                    remote=m.remote,
                    locked=(m.lock_slot, m.lock_table)
                    if m.locked and m.lock_slot is not None
                    else None,
                    previous=tuple(placed[m.meeting_id]) if m.meeting_id in placed else None,
                )
                for m in accepted
            ],
            available={
                key(SmeRef.model_validate(p["sme"])): frozenset(p["available"])
                for p in participants
                if p.get("available") is not None
            },
            max_meetings_per_participant=event.setup.get("max_meetings_per_participant"),
        )

    async def schedule_event(self, cmd: Envelope[c.ScheduleEvent]) -> c.Schedule:
        check_home_staff(cmd.actor, self.region)
        check_organiser(cmd.actor, cmd.data.event_id)
        event = await self._event(cmd.data.event_id)
        accepted = await self.meetings.of_event(event.event_id, "accepted")
        previous = await self.meetings.schedule(event.event_id)
        placed = previous["placement"] if previous else {}
        problem = await self._problem(event, accepted, placed)
        result = await asyncio.to_thread(solve, problem, cmd.data.time_limit_s)
        version = (previous["version"] if previous else 0) + 1
        by_id = {m.meeting_id: m for m in accepted}
        schedule = c.Schedule(
            event_id=event.event_id,
            region=self.region,
            version=version,
            meetings=[
                self._scheduled(event, by_id[mid], slot, table)
                for mid, (slot, table) in sorted(result.placement.items(), key=lambda i: i[1][0])
            ],
            unscheduled=sorted(set(by_id) - set(result.placement)),
            bound=result.bound,
        )
        published = self.uow.event(
            c.SCHEDULE_PUBLISHED,
            c.SchedulePublished(**schedule.model_dump()),
            cmd,
            subject=event.event_id,
        )
        state = {
            "version": version,
            "placement": {mid: list(pos) for mid, pos in result.placement.items()},
            "schedule": schedule.model_dump(mode="json"),
            "solver": {"status": result.status, "seconds": result.seconds, "moved": result.moved},
        }
        expected = previous["version"] if previous else 0
        await self.uow.commit(
            SCHEDULES,
            event.event_id,
            [published],
            self.meetings.save_schedule(event.event_id, state, expected, [published]),
        )
        return await self._then_without_cancelled(event.event_id, cmd, schedule)

    @staticmethod
    def _scheduled(
        event: Brokerage, m: Meeting, slot: int, table: int | None
    ) -> c.ScheduledMeeting:
        starts, ends = slot_times(event, slot)
        return c.ScheduledMeeting(
            meeting_id=m.meeting_id,
            slot=slot,
            starts_at=starts,
            ends_at=ends,
            table=table,
            participants=[m.requester, m.receiver],
        )

    async def get_schedule(self, query: Envelope[c.GetSchedule]) -> c.Schedule:
        q = query.data
        check_acts_for(query.actor, q.participant, "participant")
        check_staff_for(query.actor, q.participant, "participant", self.region)
        check_organiser(query.actor, q.event_id)
        # Another region's schedule answers from the copy it shared with this one.
        own = await self.meetings.schedule(q.event_id)
        stored = own or await self.read_model.schedule_copy(q.event_id)
        if stored is None:
            await self._event(q.event_id)
            raise not_found("schedule of event", q.event_id)
        schedule = c.Schedule.model_validate(stored["schedule"])
        items = schedule.meetings
        if own is not None:
            # Cancelled since it was stored: gone at once here, before unschedule_cancelled
            # has stored the schedule without it (the copies take that version).
            gone = {m.meeting_id for m in await self.meetings.of_event(q.event_id, "cancelled")}
            items = [s for s in items if s.meeting_id not in gone]
        if q.participant is not None:
            items = [s for s in items if key(q.participant) in {key(p) for p in s.participants}]
        if q.table is not None:
            items = [s for s in items if s.table == q.table]
        if own is not None:  # the rooms of the host's meetings are the host's to name
            items = self._with_rooms(items)
        schedule = schedule.model_copy(update={"meetings": items})
        if q.format == "ical":
            from ..adapters.ical import schedule_ical

            schedule = schedule.model_copy(update={"ical": schedule_ical(schedule, q.participant)})
        return schedule

    async def place_meeting(self, cmd: Envelope[c.PlaceMeeting]) -> c.MeetingPlaced:
        """An accepted meeting put where the organiser says, every other meeting where it is:
        refused naming what it would break. The same place again changes (and mails) nothing."""
        d = cmd.data
        check_home_staff(cmd.actor, self.region)
        m = await self.meetings.require(d.meeting_id)
        check_organiser(cmd.actor, m.event_id)
        if m.status != "accepted":
            raise Refused("conflict", f"meeting {m.meeting_id} is {m.status}, not accepted")
        if m.locked:
            raise Refused("conflict", f"meeting {m.meeting_id} is locked: unlock it first")
        if m.remote != (d.table is None):
            need = "no table: it is remote" if m.remote else "a table: it is on site"
            raise Refused("validation_failed", f"data.table: {need}",
                          fields=[{"field": "data.table", "message": need}])  # fmt: skip
        event = await self._event(m.event_id)
        stored = await self.meetings.schedule(m.event_id)
        if stored is None:
            raise not_found("schedule of event", m.event_id)
        schedule = c.Schedule.model_validate(stored["schedule"])
        before = next((s for s in schedule.meetings if s.meeting_id == m.meeting_id), None)
        if before is not None and (before.slot, before.table) == (d.slot, d.table):
            return c.MeetingPlaced(
                event_id=m.event_id, region=self.region, version=schedule.version,
                meeting=before, previous=before,
            )  # fmt: skip
        accepted = await self.meetings.of_event(m.event_id, "accepted")
        by_id = {a.meeting_id: a for a in accepted}
        placement = {mid: (p[0], p[1]) for mid, p in stored["placement"].items() if mid in by_id}
        problem = await self._problem(event, accepted, {})
        if problems := placing_problems(problem, placement, m.meeting_id, d.slot, d.table):
            raise Refused("conflict", "; ".join(problems), problems=problems)
        placed = self._scheduled(event, m, d.slot, d.table)
        version = schedule.version + 1
        kept = [s for s in schedule.meetings if s.meeting_id != m.meeting_id]
        schedule = schedule.model_copy(
            update={
                "version": version,
                "meetings": sorted([*kept, placed], key=lambda s: (s.slot, s.table or 0)),
                "unscheduled": [u for u in schedule.unscheduled if u != m.meeting_id],
            }
        )
        told = c.MeetingPlaced(event_id=m.event_id, region=self.region, version=version,
                               meeting=placed, previous=before)  # fmt: skip
        changed = c.ScheduleChanged(**schedule.model_dump())
        published = [
            self.uow.event(c.MEETING_PLACED, told, cmd, subject=m.event_id),
            self.uow.event(c.SCHEDULE_CHANGED, changed, cmd, subject=m.event_id),
        ]
        state = {
            "version": version,
            "placement": {
                mid: list(pos)
                for mid, pos in (placement | {m.meeting_id: (d.slot, d.table)}).items()
            },
            "schedule": schedule.model_dump(mode="json"),
            "solver": stored.get("solver"),
        }
        await self.uow.commit(
            SCHEDULES,
            m.event_id,
            published,
            self.meetings.save_schedule(m.event_id, state, stored["version"], published),
        )
        await self._then_without_cancelled(m.event_id, cmd, schedule)
        return told

    async def unschedule_cancelled(self, event: Envelope[c.MeetingChanged]) -> None:
        """A cancelled meeting leaves the published schedule (its slot and table are free
        again), in a new version the other regions' copies take: matching hears its own
        meeting_cancelled, so that this happens even if the process stopped right after the
        cancellation was stored. Heard twice, the second finds nothing to remove."""
        await self._without_cancelled(event.data.meeting.event_id, event)

    async def _without_cancelled(self, event_id: str, cause: Envelope[Any]) -> c.Schedule | None:
        """The published schedule without the event's cancelled meetings, stored in a new
        version (schedule_changed) if it held any. Run after every change of the schedule as
        well: a meeting cancelled while a schedule was being made (read before, stored after,
        so its own unschedule_cancelled found nothing) leaves it then. The schedule as it now
        is; None without one."""
        stored = await self.meetings.schedule(event_id)
        if stored is None:
            return None
        schedule = c.Schedule.model_validate(stored["schedule"])
        cancelled = {m.meeting_id for m in await self.meetings.of_event(event_id, "cancelled")}
        gone = cancelled & ({s.meeting_id for s in schedule.meetings} | set(schedule.unscheduled))
        if not gone:
            return schedule
        version = schedule.version + 1
        schedule = schedule.model_copy(
            update={
                "version": version,
                "meetings": [s for s in schedule.meetings if s.meeting_id not in gone],
                "unscheduled": [u for u in schedule.unscheduled if u not in gone],
            }
        )
        told = c.ScheduleChanged(**schedule.model_dump())
        changed = self.uow.event(c.SCHEDULE_CHANGED, told, cause, subject=event_id)
        state = {
            "version": version,
            "placement": {mid: p for mid, p in stored["placement"].items() if mid not in gone},
            "schedule": schedule.model_dump(mode="json"),
            "solver": stored.get("solver"),
        }
        await self.uow.commit(
            SCHEDULES,
            event_id,
            [changed],
            self.meetings.save_schedule(event_id, state, stored["version"], [changed]),
        )
        return schedule

    async def _then_without_cancelled(
        self, event_id: str, cause: Envelope[Any], made: c.Schedule
    ) -> c.Schedule:
        """After a change of the schedule: the schedule as it stands once the meetings
        cancelled meanwhile have left it. A concurrent change of the schedule (a conflict: most
        often the cancellation's own unschedule_cancelled, which stored the next version
        first) is read again, so that the answer is never the version that still held a
        cancelled meeting (it was, one run in ten of the test)."""
        for _ in range(_SCHEDULE_RETRIES):
            try:
                now = await self._without_cancelled(event_id, cause)
            except Refused as refusal:
                if refusal.code != "conflict":
                    raise
                continue
            return now or made
        return made

    async def get_unplaced(self, query: Envelope[c.GetUnplaced]) -> c.UnplacedRequests:
        """The accepted meetings the published schedule left out, each with why and what would
        place it, told from the event as it is now (so a cap lifted since shows as "run again")."""
        check_home_staff(query.actor, self.region)
        check_organiser(query.actor, query.data.event_id)
        event = await self._event(query.data.event_id)
        stored = await self.meetings.schedule(event.event_id)
        if stored is None:
            raise not_found("schedule of event", event.event_id)
        accepted = await self.meetings.of_event(event.event_id, "accepted")
        problem = await self._problem(event, accepted, {})
        by_id = {m.meeting_id: m for m in accepted}
        # Meetings cancelled since the schedule was built free their places.
        placement = {mid: (p[0], p[1]) for mid, p in stored["placement"].items() if mid in by_id}
        items = []
        for miss in explain(problem, placement):
            m = by_id[miss.meeting_id]
            sides = {key(m.requester): m.requester, key(m.receiver): m.receiver}
            items.append(
                c.UnplacedRequest(
                    meeting_id=m.meeting_id,
                    requester=m.requester,
                    receiver=m.receiver,
                    priority=m.priority,
                    remote=m.remote,
                    reasons=list(miss.reasons),
                    at_cap=[sides[p] for p in miss.at_cap],
                    common_slots=miss.common_slots,
                    remedies=[
                        c.UnplacedRemedy(changes=list(r.changes), slot=r.slot, table=r.table)
                        for r in miss.remedies
                    ],
                )
            )
        schedule = stored["schedule"]
        return c.UnplacedRequests(
            event_id=event.event_id,
            version=stored["version"],
            placed=len(placement),
            bound=schedule.get("bound"),
            items=items,
        )

    async def get_meeting(self, query: Envelope[c.GetMeeting]) -> c.Meeting:
        check_home_staff(query.actor, self.region)
        m = await self.meetings.require(query.data.meeting_id)
        actor = query.actor
        if actor is not None and actor.role == "sme":
            mine = [r for r in (m.requester, m.receiver)
                    if (r.sme_id, r.region) == (actor.sme_id, actor.region)]  # fmt: skip
            check_acts_for(actor, mine[0] if mine else None, "meeting_id")
        check_organiser(actor, m.event_id)
        return seen_by(await self._view(m), actor)

    async def list_meetings(self, query: Envelope[c.ListMeetings]) -> c.MeetingPage:
        q = query.data
        check_acts_for(query.actor, q.participant, "participant")
        check_home_staff(query.actor, self.region)
        check_organiser(query.actor, q.event_id)
        offset = _offset(q.cursor)
        found = await self.meetings.listed(q.event_id, q.participant, q.status, offset, q.limit + 1)
        if not found and offset == 0:
            await self._event(q.event_id)  # no meetings, or no such event: say which
        placement = await self._placement(q.event_id)
        return c.MeetingPage(
            items=[
                seen_by(m.view(*placement.get(m.meeting_id, (None, None))), query.actor)
                for m in found[: q.limit]
            ],
            next_cursor=_cursor(offset + q.limit) if len(found) > q.limit else None,
        )

    async def list_participants(self, query: Envelope[c.ListParticipants]) -> c.ParticipantPage:
        """The event's marketplace, to its organisers, this region's staff and the contacts of
        the SMEs with a seat at it; another region's people see its companies as that region's
        partner search would."""
        q, actor = query.data, query.actor
        check_home_staff(actor, self.region)
        check_organiser(actor, q.event_id)
        offset = _offset(q.cursor)
        await self._event(q.event_id)
        if actor is not None and actor.role == "sme":
            me = SmeRef(sme_id=actor.sme_id or "", region=actor.region)
            if await self.read_model.participant(q.event_id, me) is None:
                raise Refused(
                    "forbidden",
                    f"the participants of event {q.event_id} are shown to its participants: "
                    f"{key(me)} has no seat at it",
                )
        joined = await self.read_model.participants_of(q.event_id)
        keys = [key(SmeRef.model_validate(j["sme"])) for j in joined]
        smes, profiles = await self.read_model.smes_and_profiles(keys)
        viewer = actor.region if actor is not None else self.region
        today = self.now().date()
        everyone = [
            marketplace.participant(j, smes.get(k), profiles.get(k, []), viewer, today)
            for j, k in zip(joined, keys, strict=True)
        ]
        wanted = marketplace.Wanted(
            q.country, q.cluster, q.profile_type, q.text, q.sme.key if q.sme else None
        )
        found = marketplace.ordered([p for p in everyone if marketplace.fits(p, wanted)])
        return c.ParticipantPage(
            items=found[offset : offset + q.limit],
            next_cursor=_cursor(offset + q.limit) if len(found) > offset + q.limit else None,
            total=len(found),
            countries=sorted({p.country for p in everyone if p.country}),
            clusters=sorted({cl for p in everyone for cl in p.clusters}),
        )

    async def get_meeting_kpis(self, query: Envelope[c.GetMeetingKpis]) -> c.MeetingKpis:
        check_kpis_reader(query.actor, query.data.event_id)
        if query.data.event_id:
            meetings = await self.meetings.of_event(query.data.event_id)
        else:
            meetings = await self.meetings.all()
        keys = sorted({key(ref) for m in meetings for ref in (m.requester, m.receiver)})
        clusters = await self.read_model.clusters_of(keys)
        return kpis.meeting_kpis(self.region, meetings, clusters)

    # --- partner search ----------------------------------------------------------------------

    async def find_partners(self, query: Envelope[c.FindPartners]) -> c.PartnerPage:
        q = query.data
        check_acts_for(query.actor, q.seeker, "seeker")
        check_staff_for(query.actor, q.seeker, "seeker", self.region)
        offset = _offset(q.cursor)
        sme = await self.read_model.sme(q.seeker)
        if sme is None:
            raise not_found("SME", key(q.seeker))
        own = await self.read_model.profiles_of(q.seeker)
        if q.profile_id is not None:
            own = [p for p in own if p["profile_id"] == q.profile_id]
            if not own:
                raise not_found("profile", q.profile_id)
        seeker = seeker_from(sme, own)
        await self.index.refresh()
        filters = Filters(q.country, q.region, q.profile_type, q.nace, q.cluster, q.size_class)
        ranked = self.index.search(seeker, filters, self.now().date(), offset + q.limit + 1)
        page = ranked[offset : offset + q.limit]
        more = len(ranked) > offset + q.limit
        return c.PartnerPage(
            clusters=self.index.cluster_names(seeker, self.now().date()),
            items=[
                c.PartnerMatch(
                    sme=SmeRef(sme_id=doc["sme"]["sme_id"], region=doc["sme"]["region"]),
                    legal_name=doc["sme"]["legal_name"],
                    profile_id=doc["profile"]["profile_id"],
                    profile_type=doc["profile"]["type"],
                    title=doc["profile"]["title"],
                    score=total,
                    reasons=reasons,
                    country=doc["sme"].get("country"),
                )
                for doc, total, reasons in page
            ],
            next_cursor=_cursor(offset + q.limit) if more else None,
        )


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        offset = -1
    if not 0 <= offset <= 10_000:
        raise Refused(
            "invalid_cursor",
            "the cursor is not one this service gave out",
            fields=[{"field": "data.cursor", "message": "not a cursor", "type": "cursor"}],
        )
    return offset
