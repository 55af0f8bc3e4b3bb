"""The SMEs' feedback as the portal shows it, from the reports service's answers: the surveys a
company's contact may still answer (on their home page), each saying what it asks about."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from contracts import events as ev
from contracts import reports as rp
from contracts.access import Actor
from contracts.errors import Refused

from .guide import Call

OBSTACLES = rp.OBSTACLES
# How many markets the form asks about at once (an answer may name up to ten).
MARKETS_ON_FORM = 3


@dataclass(frozen=True)
class SurveyCard:
    survey_id: str
    kind: str
    title: str  # of the event (or the meeting's event); "" for a coaching stage
    stage: str  # the coaching stage reached, for a coaching stage
    closes_on: str


@dataclass(frozen=True)
class HomeSurveys:
    cards: list[SurveyCard]
    unavailable: bool  # the reports service did not answer: the page says so


class Feedback:
    def __init__(self, call: Call) -> None:
        self.call = call

    async def open_surveys(self, actor: Actor) -> list[SurveyCard]:
        """The surveys the person may still answer, newest first; none for anyone but an SME's
        contact. The reports service's refusal (it does not answer) is raised."""
        if actor.role != "sme":
            return []
        found: rp.OpenSurveys = await self.call(rp.LIST_OPEN_SURVEYS, rp.ListOpenSurveys(), actor)
        return list(await asyncio.gather(*(self._card(s, actor) for s in found.items)))

    async def for_home(self, actor: Actor) -> HomeSurveys:
        """The home page's surveys: a page the person needs is not lost to the reports service
        (or the bus) being away, it says the surveys cannot be shown now instead."""
        try:
            return HomeSurveys(await self.open_surveys(actor), unavailable=False)
        except Refused:
            return HomeSurveys([], unavailable=True)

    async def survey(self, survey_id: str, actor: Actor) -> SurveyCard | None:
        for card in await self.open_surveys(actor):
            if card.survey_id == survey_id:
                return card
        return None

    async def _card(self, survey: rp.Survey, actor: Actor) -> SurveyCard:
        occasion = survey.occasion
        title = ""
        event_id = occasion.event_id if occasion.kind == "meeting" else occasion.ref
        if occasion.kind != "coaching_stage" and event_id:
            try:
                entry = await self.call(ev.GET_EVENT, ev.GetEvent(event_id=event_id), actor)
                title = entry.title
            except Refused:
                pass  # the event is gone or not shown: the survey still asks about it
        stage = occasion.ref if occasion.kind == "coaching_stage" else ""
        closes_on = survey.closes_at.date().isoformat()
        return SurveyCard(survey.survey_id, occasion.kind, title, stage, closes_on)
