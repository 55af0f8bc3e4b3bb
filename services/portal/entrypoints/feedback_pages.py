"""The SMEs' feedback in the portal: the surveys a company's contact may still answer, on their
home page, and the survey's form (a 1-5 rating, what helped, the obstacles met in up to three
markets from the fixed list with their own words, and whether the answer may be quoted). The
reports service decides who may answer, until when, and once; its refusals are shown on the
form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from contracts import reports as rp
from contracts.errors import Refused

from ..domain.users import User
from ..service_layer.feedback import MARKETS_ON_FORM, OBSTACLES, Feedback, SurveyCard
from .forms import posted, problems, validated
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

REFUSED_FORM = {"validation_failed": 400, "forbidden": 403, "conflict": 409, "not_found": 404}


def _values(form: Any) -> dict[str, Any]:
    """What the form sent, as it shows again when refused."""
    markets = [
        {
            "market": str(form.get(f"market-{i}") or "").strip().upper(),
            "obstacles": form.getlist(f"obstacles-{i}"),
            "text": str(form.get(f"text-{i}") or "").strip(),
        }
        for i in range(MARKETS_ON_FORM)
    ]
    return {
        "rating": str(form.get("rating") or ""),
        "helped": str(form.get("helped") or "").strip(),
        "markets": markets,
        "may_quote": form.get("may_quote") == "on",
    }


def _answer(survey_id: str, values: dict[str, Any]) -> rp.AnswerSurvey:
    """The answer the form makes; a market row left empty is not one."""
    markets = [m for m in values["markets"] if m["market"] or m["obstacles"] or m["text"]]
    given = {"survey_id": survey_id, "helped": values["helped"], "markets": markets,
             "may_quote": values["may_quote"]}  # fmt: skip
    if values["rating"]:
        given["rating"] = values["rating"]
    return validated(rp.AnswerSurvey, given)


def _empty() -> dict[str, Any]:
    blank = {"market": "", "obstacles": [], "text": ""}
    return {"rating": "", "helped": "", "markets": [dict(blank) for _ in range(MARKETS_ON_FORM)],
            "may_quote": False}  # fmt: skip


class FeedbackPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.feedback = Feedback(portal.call)

    def _form(
        self,
        request: Request,
        person: User,
        card: SurveyCard | None,
        survey_id: str,
        values: dict[str, Any],
        status: int = 200,
        errors: list[str] | None = None,
    ) -> Response:
        return self.portal.page(
            request, "survey.html", status, person=person, card=card, survey_id=survey_id,
            values=values, errors=errors or [], obstacles=OBSTACLES,
        )  # fmt: skip

    async def survey_page(self, request: Request, person: User) -> Response:
        survey_id = request.path_params["survey_id"]
        card = await self.feedback.survey(survey_id, person.actor())
        if card is None:
            raise Refused(
                "not_found", tr("this survey is not open to you: answered, closed or not yours")
            )
        return self._form(request, person, card, survey_id, _empty())

    async def answer(self, request: Request, person: User) -> Response:
        form = await posted(request)
        survey_id = request.path_params["survey_id"]
        values = _values(form)
        try:
            await self.portal.call(rp.ANSWER_SURVEY, _answer(survey_id, values), person.actor())
        except Refused as refusal:
            if refusal.code not in REFUSED_FORM:
                raise
            card = await self.feedback.survey(survey_id, person.actor())
            return self._form(request, person, card, survey_id, values,
                              REFUSED_FORM[refusal.code], problems(refusal))  # fmt: skip
        return RedirectResponse("/?answered=1", status_code=303)


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    feedback = FeedbackPages(portal)
    pages.get(app, "/surveys/{survey_id}", feedback.survey_page, "sme")
    pages.post(app, "/surveys/{survey_id}", feedback.answer, "sme")
