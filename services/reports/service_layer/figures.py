"""The region's monthly figures: made from what its services answer, stored with the shared
event that carries them to every region (a re-publication is the month's next version), kept as
copies when other regions publish theirs, and listed for a region or the whole network."""

from __future__ import annotations

from typing import Any

from contracts import reports as c
from contracts.access import STAFF
from contracts.envelope import Envelope
from contracts.errors import Refused
from mapnet.runtime.unit_of_work import UnitOfWork

from ..adapters.figures_repository import FiguresRepository, record_id
from ..adapters.figures_sources import RegionSources
from ..domain import figures as domain


class Figures:
    def __init__(self, uow: UnitOfWork, repo: FiguresRepository, sources: RegionSources) -> None:
        self.uow = uow
        self.repo = repo
        self.sources = sources
        self.region = uow.region

    async def publish_figures(self, cmd: Envelope[c.PublishFigures]) -> c.FiguresSnapshot:
        actor = cmd.actor
        if actor is not None and actor.role in STAFF and actor.region != self.region:
            raise Refused(
                "forbidden",
                f"staff of {actor.region} publish only their own region's figures",
            )
        domain.check_has_begun(cmd.data.month, self.uow.now().date())
        return await self.publish(cmd.data.month, cmd)

    async def publish(self, month: str, cause: Envelope[Any] | str) -> c.FiguresSnapshot:
        """Asks the services, then stores and shares the month's next version."""
        first, last = domain.month_days(month)
        kpis = await self.sources.kpis(first, last)
        meetings = await self.sources.meetings()
        feedback = await self.sources.feedback(first, last)
        version = await self.repo.version(self.region, month) + 1
        domain.check_version(month, version)
        snapshot = domain.snapshot(
            self.region, month, version, self.uow.now(), kpis, meetings, feedback
        )
        key = record_id(self.region, month)
        event = self.uow.event(c.FIGURES_PUBLISHED, snapshot, cause, subject=key)
        await self.uow.commit(self.repo.name, key, [event], self.repo.put_own(snapshot, [event]))
        return snapshot

    async def publish_due(self) -> c.FiguresSnapshot | None:
        """On the schedule: the month that ended last, once, if it has no figures yet."""
        month = domain.previous_month(self.uow.now().date())
        if await self.repo.version(self.region, month):
            return None
        return await self.publish(month, f"figures-{self.region}-{month}")

    async def list_figures(self, query: Envelope[c.ListFigures]) -> c.FiguresPage:
        q = query.data
        domain.check_months(q.month_from, q.month_to)
        found, cursor = await self.repo.page(q)
        return c.FiguresPage(items=found, next_cursor=cursor)

    async def copy(self, snapshot: c.FiguresSnapshot) -> None:
        if snapshot.region != self.region:
            await self.repo.put_copy(snapshot)
