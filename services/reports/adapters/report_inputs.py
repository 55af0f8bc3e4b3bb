"""What the reports are made from, asked over the bus each time (never copied here): the monthly
figures of every region (this region's copies, list_figures), this region's feedback
(get_feedback_summary), and for a cluster report its SMEs (the registry, asked for the person
who asked for the report, so a role that may not list SMEs gets none) and its calendar entries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

from nats.aio.client import Client as NATS
from pydantic import BaseModel

from contracts import events as ev
from contracts import registry as rg
from contracts import reports as c
from contracts.access import Actor
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.runtime.bus import BusClient

# How many of a cluster's SMEs the report reads one by one for their profiles' keywords.
KEYWORD_SMES = 300


class ReportInputs:
    def __init__(self, connection: Callable[[], NATS | None], region: str, source: str) -> None:
        """``connection``: the service's NATS connection once it is started."""
        self._connection = connection
        self.region = region
        self.source = source

    def _bus(self, actor: Actor | None = None) -> BusClient:
        nc = self._connection()
        if nc is None:
            raise Refused("region_unavailable", "the reports service is not connected yet")
        return BusClient(nc, source=self.source, role="service", actor=actor, home=self.region)

    async def _call(
        self, op: Operation[Any, Any], data: BaseModel, actor: Actor | None = None
    ) -> Any:
        return await self._bus(actor).call(op, data, self.region, timeout_s=30)

    async def snapshots(self, region: str | None, month_to: str) -> list[c.FiguresSnapshot]:
        """Every month's latest snapshot of a region (or every region) up to ``month_to``."""
        found: list[c.FiguresSnapshot] = []
        cursor: str | None = None
        while True:
            page = await self._call(
                c.LIST_FIGURES,
                c.ListFigures(region=region, month_to=month_to, limit=100, cursor=cursor),
            )
            found += page.items
            if not (cursor := page.next_cursor):
                return found

    async def feedback(self, start: date, end: date) -> c.FeedbackSummary:
        summary: c.FeedbackSummary = await self._call(
            c.GET_FEEDBACK_SUMMARY, c.GetFeedbackSummary(from_date=start, to_date=end)
        )
        return summary

    async def cluster_smes(
        self, cluster: str, actor: Actor
    ) -> tuple[list[rg.SmeSummary], list[rg.SmeView]] | None:
        """The region's SMEs of the cluster, every one (for the counts), and the first
        KEYWORD_SMES of them with their profiles (for the keywords), as the registry shows them
        to ``actor``; None when it may not list them."""
        summaries: list[rg.SmeSummary] = []
        cursor: str | None = None
        try:
            while True:
                page = await self._call(
                    rg.SEARCH_SMES,
                    rg.SearchSmes(cluster=cluster, region=self.region, limit=100, cursor=cursor),
                    actor,
                )
                summaries += page.items
                if not (cursor := page.next_cursor):
                    break
        except Refused as refusal:
            if refusal.code == "forbidden":
                return None
            raise
        gate = asyncio.Semaphore(16)

        async def one(sme_id: str) -> rg.SmeView | None:
            async with gate:
                try:
                    view: rg.SmeView = await self._call(rg.GET_SME, rg.GetSme(sme_id=sme_id))
                    return view
                except Refused as refusal:
                    if refusal.code == "not_found":  # erased meanwhile
                        return None
                    raise

        views = await asyncio.gather(*(one(s.sme_id) for s in summaries[:KEYWORD_SMES]))
        return summaries, [v for v in views if v is not None]

    async def cluster_events(
        self, cluster: str, start: date, end: date, region: str | None
    ) -> list[ev.CalendarEntry]:
        found: list[ev.CalendarEntry] = []
        cursor: str | None = None
        while True:
            page = await self._call(
                ev.LIST_CALENDAR,
                ev.ListCalendar(
                    cluster=cluster,
                    region=region,
                    period_from=datetime.combine(start, time.min, UTC),
                    period_to=datetime.combine(end, time.max, UTC),
                    limit=100,
                    cursor=cursor,
                ),
            )
            found += page.items
            if not (cursor := page.next_cursor):
                return found
