"""Where the surveys and their answers are kept. A survey's document holds it and the outbox of
its survey_opened; an answer's document (its id one per person and survey, so a second answer
is a duplicate key, whatever the race) holds it, the person's digest and the outbox of its
survey_answered. Queries read by ``_id`` or by equality on an indexed field (see
mapnet/runtime/mongo.py for what nx-27017 answers from an index)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from contracts import reports as c
from contracts.envelope import Envelope
from mapnet.runtime import outbox
from mapnet.runtime.mongo import Database
from mapnet.runtime.paging import keyset_page

from ..domain.feedback import answer_id

SURVEYS = "surveys"
ANSWERS = "survey_answers"
# The SMEs erased here, by key only (``region:sme_id``): a fact about one of them that arrives
# late, or again, opens no survey (an erasure is for good).
ERASED = "erased_smes"
_KEYS = {"_id", "outbox", "outbox_pending", "sme_key", "person", "day", "kind"}


def _day(at: datetime) -> str:
    return at.date().isoformat()


def _survey_doc(s: c.Survey) -> dict[str, Any]:
    return s.model_dump(mode="json") | {
        "_id": s.survey_id,
        "sme_key": s.sme.key,
        "day": _day(s.opened_at),
        "kind": s.occasion.kind,
    }


def _survey(doc: dict[str, Any]) -> c.Survey:
    return c.Survey.model_validate({k: v for k, v in doc.items() if k not in _KEYS})


def _answer(doc: dict[str, Any]) -> c.SurveyAnswer:
    return c.SurveyAnswer.model_validate({k: v for k, v in doc.items() if k not in _KEYS})


class FeedbackRepository:
    def __init__(self, db: Database) -> None:
        self.surveys = db[SURVEYS]
        self.answers = db[ANSWERS]
        self.erased = db[ERASED]

    async def create_indexes(self) -> None:
        for coll in (self.surveys, self.answers):
            await coll.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
            await coll.create_index([("sme_key", ASCENDING)], name="sme_key")
            await coll.create_index([("day", ASCENDING)], name="day")
        await self.answers.create_index([("person", ASCENDING)], name="person")

    # --- surveys -----------------------------------------------------------------------------

    async def open(self, survey: c.Survey, events: Sequence[Envelope[Any]]) -> bool:
        """Store a survey with its survey_opened; False if it was open already (the same fact
        told again, or another occasion's fact naming the same meeting, event or stage), or if
        its SME was erased. Checked again after the write: an erasure that ran meanwhile wrote
        its tombstone before closing the SME's surveys, so one of the two removes this one."""
        if await self.is_erased(survey.sme.key):
            return False
        try:
            await self.surveys.insert_one(outbox.new_record(_survey_doc(survey), events))
        except DuplicateKeyError:
            return False
        if await self.is_erased(survey.sme.key):
            await self.surveys.delete_one({"_id": survey.survey_id})
            return False
        return True

    async def is_erased(self, sme_key: str) -> bool:
        return await self.erased.find_one({"_id": sme_key}) is not None

    async def survey(self, survey_id: str) -> c.Survey | None:
        doc = await self.surveys.find_one({"_id": survey_id})
        return _survey(doc) if doc else None

    async def surveys_of(self, sme_key: str) -> list[c.Survey]:
        return [_survey(d) async for d in self.surveys.find({"sme_key": sme_key})]

    async def answered_by(self, person: str, survey_ids: list[str]) -> set[str]:
        """Which of these surveys the person answered (read by the answers' ids)."""
        ids = {answer_id(s, person): s for s in survey_ids}
        found = self.answers.find({"_id": {"$in": list(ids)}}, {"_id": 1})
        return {ids[d["_id"]] async for d in found}

    async def opened_between(self, start: date, end: date) -> list[c.OccasionKind]:
        """The kinds of the surveys opened in a period, one per survey."""
        span = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
        return [d["kind"] async for d in self.surveys.find(span, {"kind": 1})]

    # --- answers -----------------------------------------------------------------------------

    async def add_answer(
        self, answer: c.SurveyAnswer, person: str, events: Sequence[Envelope[Any]]
    ) -> bool:
        """Store an answer; False if the person answered this survey already (meanwhile)."""
        doc = answer.model_dump(mode="json") | {
            "_id": answer.answer_id,
            "person": person,
            "sme_key": answer.sme.key if answer.sme else None,
            "day": _day(answer.answered_at),
        }
        try:
            await self.answers.insert_one(outbox.new_record(doc, events))
        except DuplicateKeyError:
            return False
        return True

    async def answer(self, answer_id: str) -> c.SurveyAnswer | None:
        doc = await self.answers.find_one({"_id": answer_id})
        return _answer(doc) if doc else None

    async def answers_between(self, start: date, end: date) -> list[c.SurveyAnswer]:
        """Every answer given in a period (both days included)."""
        span = {"day": {"$gte": start.isoformat(), "$lte": end.isoformat()}}
        return [_answer(d) async for d in self.answers.find(span, {"outbox": 0})]

    async def page(self, q: c.ListSurveyAnswers) -> c.SurveyAnswerPage:
        clauses: list[dict[str, Any]] = []
        span: dict[str, str] = {}
        if q.from_date:
            span["$gte"] = q.from_date.isoformat()
        if q.to_date:
            span["$lte"] = q.to_date.isoformat()
        if span:
            clauses.append({"day": span})
        if q.occasion_kind:
            clauses.append({"occasion.kind": q.occasion_kind})
        docs, cursor = await keyset_page(
            self.answers, clauses, "-answered_at", q.limit, q.cursor, projection={"outbox": 0}
        )
        return c.SurveyAnswerPage(items=[_answer(d) for d in docs], next_cursor=cursor)

    # --- erasure -----------------------------------------------------------------------------

    async def erase_sme(self, sme_key: str) -> list[c.SurveyAnswer]:
        """Close the SME's surveys (nobody of it answers any more), for good (its tombstone
        first: see ``open``), and return its answers, to be stored without who gave them nor
        their words (``replace_answer``)."""
        await self.erased.replace_one({"_id": sme_key}, {"_id": sme_key}, upsert=True)
        await self.surveys.delete_many({"sme_key": sme_key})
        return [_answer(d) async for d in self.answers.find({"sme_key": sme_key})]

    async def answers_of_person(self, person: str) -> list[c.SurveyAnswer]:
        return [_answer(d) async for d in self.answers.find({"person": person})]

    async def replace_answer(self, answer: c.SurveyAnswer) -> None:
        """Store an erased answer: its person and SME are forgotten with its words."""
        fields = answer.model_dump(mode="json") | {"person": None, "sme_key": None}
        await self.answers.update_one({"_id": answer.answer_id}, {"$set": fields})
