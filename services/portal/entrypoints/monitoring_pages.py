"""The monitoring and cluster reports in the portal, for the region's staff and the steering
group (the network's figures, from every region's snapshot, for both; another region's for
steering). The reports service
renders them: the page holds the report's section as it sends it (its Jinja2 templates escape
every text; its charts are SVG images in data URIs, nothing that runs), and offers the same
report as PDF and CSV for download. The portal imports nothing of the reports service."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from markupsafe import Markup

from contracts import reports as c
from contracts.access import STAFF
from contracts.errors import Refused

from ..domain.users import User
from ..service_layer.filters import region_clusters
from .forms import problems, validated

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

FIELDS = ("period_from", "period_to", "region", "network", "cluster", "format", "table")


def _given(request: Request, person: User) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    q = request.query_params
    given: dict[str, Any] = {
        "period_from": q.get("period_from") or date(today.year, 1, 1).isoformat(),
        "period_to": q.get("period_to") or today.isoformat(),
        # Staff and steering report on the whole network (counts of every region's snapshots).
        "network": q.get("network") == "on" and person.role in (*STAFF, "steering"),
        "region": (q.get("region") or "").strip() or None,
    }
    if q.get("cluster"):
        given["cluster"] = q["cluster"].strip()
    return given


class MonitoringPages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def _ask(self, person: User, given: dict[str, Any]) -> c.RenderedReport:
        op: Any = c.GET_CLUSTER_REPORT if given.get("cluster") else c.GET_MONITORING_REPORT
        query = validated(op.data, given)
        reply: c.RenderedReport = await self.portal.call(op, query, person.actor(), timeout_s=120)
        return reply

    async def report(self, request: Request, person: User) -> Response:
        given = _given(request, person)
        # The cluster filter offers the clusters of the region's SMEs.
        clusters = await region_clusters(self.portal.call, person.actor())
        fragment, errors, reply = Markup(""), [], None
        try:
            reply = await self._ask(person, given | {"format": "html_fragment"})
            fragment = Markup(reply.text or "")  # rendered and escaped by the reports service
        except Refused as refusal:
            if refusal.code not in ("validation_failed", "forbidden"):
                raise
            errors = problems(refusal)
        links = {k: v for k, v in given.items() if v not in (None, False)}
        return self.portal.page(
            request,
            "monitoring.html",
            400 if errors else 200,
            person=person,
            values=given,
            errors=errors,
            report=reply,
            fragment=fragment,
            query=links,
            clusters=list(clusters),
        )

    async def download(self, request: Request, person: User) -> Response:
        given = _given(request, person)
        form = request.query_params.get("format", "pdf")
        given["format"] = form if form in ("pdf", "csv", "html") else "pdf"
        if table := request.query_params.get("table"):
            given["table"] = table
        try:
            reply = await self._ask(person, given)
        except Refused as refusal:
            if refusal.code not in ("validation_failed", "forbidden"):
                raise
            status = 403 if refusal.code == "forbidden" else 400
            return Response("; ".join(problems(refusal)), status, media_type="text/plain")
        body = base64.b64decode(reply.content) if reply.content else (reply.text or "").encode()
        return Response(
            body,
            media_type=reply.media_type,
            headers={"Content-Disposition": f'attachment; filename="{reply.filename}"'},
        )


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    reports = MonitoringPages(portal)
    pages.get(app, "/reports", reports.report, *STAFF, "steering")
    pages.get(app, "/reports/download", reports.download, *STAFF, "steering")
