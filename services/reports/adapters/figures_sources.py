"""What the figures ask the region's services over the bus, as the reports service (role
service): the registry's indicators for the month, matching's meetings to date, the feedback's
counts of the month (this service's own part, asked as any other). Asked each time a month is
published, never copied."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from nats.aio.client import Client as NATS

from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as c
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient


class RegionSources:
    def __init__(self, connection: Callable[[], NATS | None], region: str, source: str) -> None:
        self._connection = connection
        self.region = region
        self.source = source

    def _bus(self) -> BusClient:
        nc = self._connection()
        if nc is None:
            raise Refused("region_unavailable", "the reports service is not connected yet")
        return BusClient(nc, source=self.source, role="service")

    async def kpis(self, first: date, last: date) -> rg.Kpis:
        """The registry's indicators; refused region_unavailable (naming it) if it does not
        answer: without them there are no figures to publish."""
        try:
            return await self._bus().call(
                rg.GET_KPIS, rg.GetKpis(period_from=first, period_to=last), self.region
            )
        except Refused as refused:
            if refused.code != "region_unavailable":
                raise
            raise Refused(
                "region_unavailable",
                "the registry did not answer: no figures published",
                service="registry",
                reason=refused.details.get("reason"),
            ) from None

    async def meetings(self) -> mt.MeetingKpis | None:
        """Matching's counts to date; None if it does not answer (the snapshot says so)."""
        try:
            return await self._bus().call(mt.GET_MEETING_KPIS, mt.GetMeetingKpis(), self.region)
        except Refused as refused:
            if refused.code != "region_unavailable":
                raise
            return None

    async def feedback(self, first: date, last: date) -> c.FeedbackSummary | None:
        """The feedback's counts of the month; None if it does not answer (the snapshot says
        so). Its quotes are not kept: an answer's words stay in its region."""
        try:
            summary: c.FeedbackSummary = await self._bus().call(
                c.GET_FEEDBACK_SUMMARY, c.GetFeedbackSummary(from_date=first, to_date=last),
                self.region,
            )  # fmt: skip
        except Refused as refused:
            if refused.code != "region_unavailable":
                raise
            return None
        return summary
