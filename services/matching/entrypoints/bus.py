"""Matching service on the bus: its operations, and the registry's and events service's events
it builds its read model from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from contracts import events as ev
from contracts import matching as c
from contracts import registry as reg
from contracts.common import SmeRef
from contracts.envelope import Envelope
from mapnet.runtime.audit import AuditLog
from mapnet.runtime.service import Runtime

from ..adapters.profile_index import ProfileIndex
from ..adapters.read_model import ReadModel
from ..adapters.repository import MEETINGS, SCHEDULES, MeetingRepository
from ..service_layer.handlers import Matching
from ..settings import MatchingSettings

Handler = Callable[[Envelope[Any]], Awaitable[None]]
Forget = Callable[[str], Awaitable[None]]


def build(rt: Runtime) -> None:
    meetings = MeetingRepository(rt.db)
    read_model = ReadModel(rt.db)
    index = ProfileIndex(read_model)
    matching = Matching(rt.unit_of_work(), meetings, read_model, index)
    rt.outbox_collections += [MEETINGS, SCHEDULES]
    settings = rt.config_as(MatchingSettings)

    async def name_the_rooms() -> None:
        if settings.meeting_room_url:
            matching.set_rooms(settings.meeting_room_url, await meetings.room_secret())

    rt.startup += [meetings.create_indexes, read_model.create_indexes, name_the_rooms]
    # The partner-search index loads in the background and follows the read model's changes.
    rt.startup.append(index.start)
    rt.shutdown.insert(0, index.stop)

    for op, handler in _requests(matching).items():
        rt.handles(op)(handler)
    # A cancelled meeting leaves the published schedule (matching hears its own event).
    rt.consumes(c.MEETING_CANCELLED)(matching.unschedule_cancelled)

    # The read model: this region's brokerage events, registrations, SMEs and profiles ...
    erased = _erased(read_model, meetings, rt.forget_replies, rt.audit)
    for op, handle in _read_model_routes(read_model, erased).items():
        rt.consumes(op)(handle)
    # ... and what the other regions share.
    for op, handle in _network_routes(read_model, erased).items():
        rt.consumes_network(op)(handle)

    # A shared SME's copy is kept at its newest version: handling it twice changes nothing.
    # Copies piling up under load are written a batch at a time.
    rt.consumes_network_batches(reg.SME_SHARED, idempotent=True)(_smes_shared(read_model))

    # An erased contact's requests here stay, but no longer say who sent them.
    for route in (rt.consumes, rt.consumes_network):
        route(reg.CONTACT_ERASED)(_contact_erased(rt.audit))

    rt.publishes(
        c.MEETING_REQUESTED,
        c.MEETING_ACCEPTED,
        c.MEETING_DECLINED,
        c.MEETING_CANCELLED,
        c.SCHEDULE_PUBLISHED,
        c.SCHEDULE_CHANGED,
        c.MEETING_PLACED,
        c.MEETING_OUTCOME_RECORDED,
        c.MEETING_HELD,
    )


def _requests(matching: Matching) -> dict[Any, Any]:
    """The commands and queries (a meeting's id derives from the caller and command id: a
    repeat after a crash finds it)."""
    return {
        c.REQUEST_MEETING: matching.request_meeting,
        c.RESPOND_MEETING: matching.respond_meeting,
        c.CANCEL_MEETING: matching.cancel_meeting,
        c.LOCK_MEETING: matching.lock_meeting,
        c.SET_AVAILABILITY: matching.set_availability,
        c.SCHEDULE_EVENT: matching.schedule_event,
        c.RECORD_MEETING_OUTCOME: matching.record_meeting_outcome,
        c.REPORT_MEETING_OUTCOME: matching.report_meeting_outcome,
        c.GET_SCHEDULE: matching.get_schedule,
        c.GET_UNPLACED: matching.get_unplaced,
        c.PLACE_MEETING: matching.place_meeting,
        c.GET_MEETING_KPIS: matching.get_meeting_kpis,
        c.LIST_MEETINGS: matching.list_meetings,
        c.LIST_PARTICIPANTS: matching.list_participants,
        c.GET_MEETING: matching.get_meeting,
        c.GET_AVAILABILITY: matching.get_availability,
        c.FIND_PARTNERS: matching.find_partners,
    }


def _smes_shared(read_model: ReadModel) -> Callable[[list[Envelope[reg.SmeShared]]], Any]:
    async def on_smes_shared(events: list[Envelope[reg.SmeShared]]) -> None:
        shared = [event.data.model_dump(mode="json") for event in events]
        await read_model.put_shared_many([(d["sme"], d["profiles"]) for d in shared])

    return on_smes_shared


def _read_model_routes(read_model: ReadModel, erased: Handler) -> dict[Any, Handler]:
    async def on_event_published(event: Envelope[ev.EventPublished]) -> None:
        await read_model.put_event(event.data.model_dump(mode="json"))

    async def on_event_cancelled(event: Envelope[ev.EventCancelled]) -> None:
        await read_model.cancel_event(event.data.event_id)

    async def on_registration_confirmed(event: Envelope[ev.RegistrationChanged]) -> None:
        r = event.data.registration
        if r.sme is not None:
            remote = r.participation == "remote"
            await read_model.join(r.event_id, r.sme, remote, r.registration_id)

    async def on_registration_cancelled(event: Envelope[ev.RegistrationChanged]) -> None:
        r = event.data.registration
        if r.sme is not None:
            await read_model.leave(r.event_id, r.sme, r.registration_id)

    async def put_sme(event: Envelope[Any]) -> None:
        await read_model.put_sme(event.data.model_dump(mode="json"))

    async def on_profile_published(event: Envelope[reg.ProfilePublished]) -> None:
        d = event.data.model_dump(mode="json")
        await read_model.put_profile(d["sme"], d["profile"])

    async def on_profile_withdrawn(event: Envelope[reg.ProfileWithdrawn]) -> None:
        await read_model.withdraw_profile(event.data.profile_id)

    return {
        ev.EVENT_PUBLISHED: on_event_published,
        ev.EVENT_CANCELLED: on_event_cancelled,
        ev.REGISTRATION_CONFIRMED: on_registration_confirmed,
        ev.REGISTRATION_CANCELLED: on_registration_cancelled,
        reg.SME_REGISTERED: put_sme,
        reg.SME_UPDATED: put_sme,
        reg.PROFILE_PUBLISHED: on_profile_published,
        reg.PROFILE_WITHDRAWN: on_profile_withdrawn,
        reg.SME_ERASED: erased,
    }


def _network_routes(read_model: ReadModel, erased: Handler) -> dict[Any, Handler]:
    async def on_sme_unshared(event: Envelope[reg.SmeUnshared]) -> None:
        ref = SmeRef(sme_id=event.data.sme_id, region=event.data.region)
        await read_model.unshare_sme(ref, event.data.version)

    async def on_schedule(event: Envelope[c.Schedule]) -> None:
        await read_model.put_schedule_copy(event.data.model_dump(mode="json"))

    return {
        reg.SME_UNSHARED: on_sme_unshared,
        reg.SME_ERASED: erased,
        c.SCHEDULE_PUBLISHED: on_schedule,
        c.SCHEDULE_CHANGED: on_schedule,  # moved or cancelled since: the copy follows
    }


def _erased(
    read_model: ReadModel, meetings: MeetingRepository, forget: Forget, audit: AuditLog
) -> Handler:
    async def on_sme_erased(event: Envelope[reg.SmeErased]) -> None:
        erased = SmeRef(sme_id=event.data.sme_id, region=event.data.region)
        await read_model.erase_sme(erased)
        # What its people wrote in meeting requests goes, with the answers that quoted it,
        # and who of them acted here goes from the audit trail.
        for meeting_id in await meetings.forget_messages_of(erased):
            await forget(meeting_id)
        await audit.forget_contacts_of(erased.sme_id, region=erased.region)

    return on_sme_erased


def _contact_erased(audit: AuditLog) -> Handler:
    async def on_contact_erased(event: Envelope[reg.ContactErased]) -> None:
        d = event.data
        if d.email_sha256:
            await audit.forget_contacts_of(d.sme_id, d.email_sha256, region=d.region)

    return on_contact_erased
