"""The SMEs' feedback on the bus: surveys after meetings, events, courses and coaching stages."""

from __future__ import annotations

from datetime import timedelta

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as c
from contracts.common import SmeRef
from contracts.envelope import Envelope
from mapnet.runtime.service import Runtime

from ..adapters.feedback_repository import ANSWERS, SURVEYS, FeedbackRepository
from ..domain import feedback as fb
from ..service_layer.feedback import Feedback
from ..settings import ReportsSettings


def build_feedback(rt: Runtime) -> None:
    """Routes of this part: its commands and queries, the facts that open surveys (durable,
    idempotent consumers: a survey's id is its SME and occasion, so a fact told twice opens it
    once), and the erasures that take the personal parts out of the answers."""
    s = rt.config_as(ReportsSettings) if rt.config is not None else ReportsSettings()
    store = FeedbackRepository(rt.db)
    feedback = Feedback(rt.unit_of_work(), store, timedelta(days=s.survey_answer_days))
    rt.outbox_collections += [SURVEYS, ANSWERS]
    rt.startup.append(store.create_indexes)

    # answer_survey keeps its first answer in the reply cache under the SME (Replied): a repeat
    # of the same envelope gets it again; another envelope is refused as answered.
    rt.handles(c.ANSWER_SURVEY)(feedback.answer_survey)
    rt.handles(c.LIST_OPEN_SURVEYS)(feedback.list_open_surveys)
    rt.handles(c.LIST_SURVEY_ANSWERS)(feedback.list_survey_answers)
    rt.handles(c.GET_FEEDBACK_SUMMARY)(feedback.get_feedback_summary)

    async def on_meeting_outcome(event: Envelope[mt.MeetingChanged]) -> None:
        openings = fb.meeting_held(event.data.meeting, rt.region, event.time)
        await feedback.open_surveys(openings, event)

    async def on_attendance(event: Envelope[ev.RegistrationChanged]) -> None:
        openings = fb.attended(event.data.registration, rt.region, event.time)
        await feedback.open_surveys(openings, event)

    async def on_stage_changed(event: Envelope[rg.SmeStageChanged]) -> None:
        await feedback.open_surveys(fb.stage_reached(event.data, rt.region), event)

    # A meeting at another region's brokerage event, from this region's copy of what that
    # region shares (it names no outcome, only that the meeting took place): this region opens
    # the surveys of its own SMEs among the sides, and no other. The copy is the host's word on
    # its own event: the consumer refuses one whose publisher is not the region it names.
    async def on_meeting_held_elsewhere(event: Envelope[mt.MeetingHeld]) -> None:
        openings = fb.meeting_held_elsewhere(event.data, rt.region, event.time)
        await feedback.open_surveys(openings, event)

    rt.consumes(mt.MEETING_OUTCOME_RECORDED)(on_meeting_outcome)
    rt.consumes_network(mt.MEETING_HELD)(on_meeting_held_elsewhere)
    rt.consumes(ev.ATTENDANCE_RECORDED)(on_attendance)
    rt.consumes(rg.SME_STAGE_CHANGED)(on_stage_changed)

    # Surveys are opened to this region's SMEs only: its own erasures reach every answer.
    async def on_sme_erased(event: Envelope[rg.SmeErased]) -> None:
        d = event.data
        if d.region == rt.region:
            await feedback.forget_sme(SmeRef(region=d.region, sme_id=d.sme_id))
            await rt.forget_sme(d.sme_id)

    async def on_contact_erased(event: Envelope[rg.ContactErased]) -> None:
        d = event.data
        if d.region == rt.region and d.email_sha256:
            await feedback.forget_person(d.email_sha256)
            await rt.forget_contact(d.sme_id, d.email_sha256)

    rt.consumes(rg.SME_ERASED)(on_sme_erased)
    rt.consumes(rg.CONTACT_ERASED)(on_contact_erased)

    rt.publishes(c.SURVEY_OPENED, c.SURVEY_ANSWERED)
