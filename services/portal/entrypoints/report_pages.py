"""What the region achieved: success stories told by staff, and the indicators (SMEs at each
stage of the journey, success stories, contacts brokered, meetings held) for a period, as
tables and bar charts drawn on the server (SVG: no script, readable by a screen reader through
the table beside each)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, get_args

from fastapi import FastAPI, Request
from fastapi.responses import Response

from contracts import matching as mt
from contracts import registry as rg
from contracts.access import STAFF
from contracts.errors import Refused

from ..domain.users import User
from .forms import listed, posted, problems, validated
from .i18n import tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

AGREEMENTS = get_args(rg.PartnershipType)
JOURNEY = ("identified", "selected", "trained", "coached", "internationalised", "success_stories")


def bars(values: dict[str, int]) -> list[dict[str, Any]]:
    """Each value as a bar of a chart 100 units wide: (label, value, width)."""
    top = max(values.values(), default=0) or 1
    return [
        {"label": k.replace("_", " "), "value": v, "width": round(100 * v / top, 1)}
        for k, v in values.items()
    ]


class ReportPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def story_form(self, request: Request, person: User) -> Response:
        given = {"smes": request.query_params.get("sme", "")}
        return self.portal.page(
            request, "story.html", person=person, values=given, errors=[], agreements=AGREEMENTS
        )

    async def story(self, request: Request, person: User) -> Response:
        form = await posted(request)
        values = {
            k: str(form.get(k) or "").strip()
            for k in ("title", "text", "agreement_type", "happened_on", "smes", "clusters")
        }
        given = {
            **values,
            "publication_consent": form.get("publication_consent") == "on",
            "smes": [_ref(s, person.region) for s in listed(values["smes"])],
            "clusters": listed(values["clusters"]),
        }
        try:
            story = validated(rg.PublishSuccessStory, given)
            await self.portal.call(rg.PUBLISH_SUCCESS_STORY, story, person.actor())
        except Refused as refusal:
            if refusal.code not in ("validation_failed", "not_found"):
                raise
            return self.portal.page(
                request,
                "story.html",
                400,
                person=person,
                values=values,
                errors=problems(refusal),
                agreements=AGREEMENTS,
            )
        return self.portal.page(
            request,
            "notice.html",
            person=person,
            title=tr("Story told"),
            message=tr("“%(title)s” counts among the region's success stories.", title=story.title),
            back="/kpis",
        )

    async def kpis(self, request: Request, person: User) -> Response:
        today = datetime.now(UTC).date()
        given = {
            "period_from": request.query_params.get("period_from") or date(today.year, 1, 1),
            "period_to": request.query_params.get("period_to") or today,
        }
        query = validated(rg.GetKpis, given)
        actor = person.actor()
        kpis, meetings = await asyncio.gather(
            self.portal.call(rg.GET_KPIS, query, actor),
            self.portal.call(mt.GET_MEETING_KPIS, mt.GetMeetingKpis(), actor),
        )
        journey = kpis.total.model_dump()
        brokered = meetings.total.model_dump()
        return self.portal.page(
            request,
            "kpis.html",
            person=person,
            kpis=kpis,
            query=query,
            journey=bars({k: journey[k] for k in JOURNEY}),
            meetings=bars(brokered),
            clusters=kpis.by_cluster,
        )


def _ref(text: str, region: str) -> dict[str, str]:
    """An SME named by its id (this region's) or as region:id."""
    home, _, sme_id = text.rpartition(":")
    return {"region": home or region, "sme_id": sme_id}


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    reports = ReportPages(portal)
    pages.get(app, "/stories/new", reports.story_form, *STAFF)
    pages.post(app, "/stories/new", reports.story, *STAFF)
    pages.get(app, "/kpis", reports.kpis, *STAFF, "steering")
