"""Matching service on the bus: its operations, and the registry's and events service's events
it builds its read model from."""

from __future__ import annotations

from contracts import events as events_contract
from contracts import matching as c
from contracts import registry as registry_contract
from contracts.common import SmeRef
from contracts.envelope import Envelope
from mapnet.runtime.service import Runtime

from ..adapters.profile_index import ProfileIndex
from ..adapters.read_model import ReadModel
from ..adapters.repository import MEETINGS, SCHEDULES, MeetingRepository
from ..service_layer.handlers import Matching


def build(rt: Runtime) -> None:
    meetings = MeetingRepository(rt.db)
    read_model = ReadModel(rt.db)
    matching = Matching(
        rt.region,
        meetings,
        read_model,
        ProfileIndex(read_model),
        rt.envelope,
        lambda mid, events: rt.written(MEETINGS, mid, events),
        lambda event_id, events: rt.written(SCHEDULES, event_id, events),
    )
    rt.outbox_collections += [MEETINGS, SCHEDULES]
    rt.startup += [meetings.create_indexes, read_model.create_indexes]

    # A meeting's id derives from the command id: a repeat finds it.
    rt.handles(c.REQUEST_MEETING, remember_replies=False)(matching.request_meeting)
    rt.handles(c.RESPOND_MEETING)(matching.respond_meeting)
    rt.handles(c.CANCEL_MEETING)(matching.cancel_meeting)
    rt.handles(c.LOCK_MEETING)(matching.lock_meeting)
    rt.handles(c.SET_AVAILABILITY)(matching.set_availability)
    rt.handles(c.SCHEDULE_EVENT)(matching.schedule_event)
    rt.handles(c.RECORD_MEETING_OUTCOME)(matching.record_meeting_outcome)
    rt.handles(c.GET_SCHEDULE)(matching.get_schedule)
    rt.handles(c.GET_MEETING_KPIS)(matching.get_meeting_kpis)
    rt.handles(c.FIND_PARTNERS)(matching.find_partners)

    ev, reg = events_contract, registry_contract

    @rt.consumes(ev.EVENT_PUBLISHED)
    async def on_event_published(event: Envelope[ev.EventPublished]) -> None:
        await read_model.put_event(event.data.model_dump(mode="json"))

    @rt.consumes(ev.EVENT_CANCELLED)
    async def on_event_cancelled(event: Envelope[ev.EventCancelled]) -> None:
        await read_model.cancel_event(event.data.event_id)

    @rt.consumes(ev.REGISTRATION_CONFIRMED)
    async def on_registration_confirmed(event: Envelope[ev.RegistrationChanged]) -> None:
        r = event.data.registration
        if r.sme is not None:
            remote = r.participation == "remote"
            await read_model.join(r.event_id, r.sme, remote, r.registration_id)

    @rt.consumes(ev.REGISTRATION_CANCELLED)
    async def on_registration_cancelled(event: Envelope[ev.RegistrationChanged]) -> None:
        r = event.data.registration
        if r.sme is not None:
            await read_model.leave(r.event_id, r.sme, r.registration_id)

    async def put_sme(event: Envelope[reg.SmeRegistered] | Envelope[reg.SmeUpdated]) -> None:
        await read_model.put_sme(event.data.model_dump(mode="json"))

    rt.consumes(reg.SME_REGISTERED)(put_sme)
    rt.consumes(reg.SME_UPDATED)(put_sme)

    @rt.consumes(reg.PROFILE_PUBLISHED)
    async def on_profile_published(event: Envelope[reg.ProfilePublished]) -> None:
        d = event.data.model_dump(mode="json")
        await read_model.put_profile(d["sme"], d["profile"])

    @rt.consumes(reg.PROFILE_WITHDRAWN)
    async def on_profile_withdrawn(event: Envelope[reg.ProfileWithdrawn]) -> None:
        await read_model.withdraw_profile(event.data.profile_id)

    @rt.consumes(reg.SME_ERASED)
    async def on_sme_erased(event: Envelope[reg.SmeErased]) -> None:
        await read_model.erase_sme(SmeRef(sme_id=event.data.sme_id, region=event.data.region))

    # --- what the other regions share -------------------------------------------------------

    @rt.consumes_network(reg.SME_SHARED)
    async def on_network_sme_shared(event: Envelope[reg.SmeShared]) -> None:
        d = event.data.model_dump(mode="json")
        await read_model.put_shared(d["sme"], d["profiles"])

    @rt.consumes_network(reg.SME_UNSHARED)
    async def on_network_sme_unshared(event: Envelope[reg.SmeUnshared]) -> None:
        ref = SmeRef(sme_id=event.data.sme_id, region=event.data.region)
        await read_model.unshare_sme(ref, event.data.version)

    rt.consumes_network(reg.SME_ERASED)(on_sme_erased)

    @rt.consumes_network(c.SCHEDULE_PUBLISHED)
    async def on_network_schedule(event: Envelope[c.SchedulePublished]) -> None:
        await read_model.put_schedule_copy(event.data.model_dump(mode="json"))

    rt.publishes(
        c.MEETING_REQUESTED,
        c.MEETING_ACCEPTED,
        c.MEETING_DECLINED,
        c.MEETING_CANCELLED,
        c.SCHEDULE_PUBLISHED,
        c.MEETING_OUTCOME_RECORDED,
    )
