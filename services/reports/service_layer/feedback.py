"""The feedback's use cases: a fact of another service opens surveys, an SME's contact answers
one, staff read the answers, staff and steering the figures, and an erasure takes the personal
parts out of the answers. The rules are the domain's (``domain/feedback.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from contracts import reports as c
from contracts.common import SmeRef
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime.unit_of_work import Replied, UnitOfWork

from ..adapters.feedback_repository import ANSWERS, SURVEYS, FeedbackRepository
from ..domain import feedback as fb

Forget = Callable[[str], Awaitable[None]]


class Feedback:
    def __init__(self, uow: UnitOfWork, store: FeedbackRepository, window: timedelta) -> None:
        self.uow = uow
        self.region = uow.region
        self.store = store
        self.window = window

    # --- occasions ---------------------------------------------------------------------------

    async def open_surveys(self, openings: list[fb.Opening], cause: Envelope[Any]) -> int:
        """Open the survey of each occasion still in its window, once: the same fact told again
        opens nothing more. Returns how many were opened now."""
        opened = 0
        for opening in openings:
            survey = fb.open_survey(opening, self.region, self.uow.now(), self.window)
            if survey is None:
                continue
            event = self.uow.event(
                c.SURVEY_OPENED,
                c.SurveyOpened.model_validate(survey.model_dump()),
                cause,
                subject=survey.survey_id,
            )
            if await self.uow.commit(
                SURVEYS, survey.survey_id, [event], self.store.open(survey, [event])
            ):
                opened += 1
        return opened

    # --- answering ---------------------------------------------------------------------------

    async def answer_survey(self, cmd: Envelope[c.AnswerSurvey]) -> Replied:
        survey = await self.store.survey(cmd.data.survey_id)
        if survey is None:
            raise not_found("survey", cmd.data.survey_id)
        person = fb.check_may_answer(survey, cmd.actor)
        given = fb.answer(survey, cmd.data, person, self.uow.now())
        before = await self.store.answer(given.answer_id)
        if before is not None:
            raise fb.already_answered(survey.survey_id, before.answer_id, before.answered_at)
        event = self.uow.event(
            c.SURVEY_ANSWERED, fb.answered_event(given), cmd, subject=given.survey_id
        )
        stored = self.store.add_answer(given, person, [event])
        if not await self.uow.commit(ANSWERS, given.answer_id, [event], stored):
            # The same person answering twice at once: one answer goes in.
            raced = await self.store.answer(given.answer_id)
            answered_at = raced.answered_at if raced else given.answered_at
            raise fb.already_answered(survey.survey_id, given.answer_id, answered_at)
        # The answer, with the words, is kept for repeats under its SME: an erasure of the SME
        # forgets it there too (forget_sme).
        return self.uow.answer(c.ANSWER_SURVEY, cmd, given, refers_to=survey.sme.sme_id)

    async def list_open_surveys(self, query: Envelope[c.ListOpenSurveys]) -> c.OpenSurveys:
        actor = query.actor
        if actor is None or actor.role != "sme" or not actor.sme_id:
            raise Refused("forbidden", "only an SME's contact has surveys to answer")
        if actor.region != self.region:
            return c.OpenSurveys(items=[])
        now = self.uow.now()
        sme = SmeRef(region=self.region, sme_id=actor.sme_id)
        surveys = [s for s in await self.store.surveys_of(sme.key) if now < s.closes_at]
        done = await self.store.answered_by(fb.person_of(actor), [s.survey_id for s in surveys])
        still = [s for s in surveys if s.survey_id not in done]
        still.sort(key=lambda s: (s.opened_at, s.survey_id), reverse=True)
        return c.OpenSurveys(items=still)

    # --- reading -----------------------------------------------------------------------------

    async def list_survey_answers(self, query: Envelope[c.ListSurveyAnswers]) -> c.SurveyAnswerPage:
        fb.check_region_reader(query.actor, self.region)
        return await self.store.page(query.data)

    async def get_feedback_summary(
        self, query: Envelope[c.GetFeedbackSummary]
    ) -> c.FeedbackSummary:
        fb.check_region_reader(query.actor, self.region)
        return await self.summary(query.data.from_date, query.data.to_date)

    async def summary(self, start: date, end: date) -> c.FeedbackSummary:
        """The figures of a period, for the bus and for the reports built in this service."""
        answers = await self.store.answers_between(start, end)
        opened = await self.store.opened_between(start, end)
        return fb.summarise(self.region, start, end, answers, opened)

    # --- erasure -----------------------------------------------------------------------------

    async def forget_sme(self, sme: SmeRef) -> int:
        """The SME's surveys close and its answers lose who gave them and their words."""
        answers = await self.store.erase_sme(sme.key)
        for a in answers:
            await self.store.replace_answer(fb.erased(a))
        return len(answers)

    async def forget_person(self, email_sha256: str) -> int:
        """One contact's answers lose who gave them and their words."""
        answers = await self.store.answers_of_person(email_sha256)
        for a in answers:
            await self.store.replace_answer(fb.erased(a))
        return len(answers)
