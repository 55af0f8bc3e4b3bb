"""The region's monthly figures on the bus: snapshots of counts, shared with the network."""

from __future__ import annotations

import time

from contracts import reports as c
from contracts.envelope import Envelope
from mapnet.runtime.service import Runtime

from ..adapters.figures_repository import FIGURES, FiguresRepository
from ..adapters.figures_sources import RegionSources
from ..service_layer.figures import Figures
from ..settings import ReportsSettings

_FIRST_LOOK_S = 60.0


def build_figures(rt: Runtime) -> None:
    repo = FiguresRepository(rt.db)
    figures = Figures(rt.unit_of_work(), repo, RegionSources(lambda: rt.nc, rt.region, rt.source))
    rt.outbox_collections.append(FIGURES)
    rt.startup.append(repo.create_indexes)

    rt.handles(c.PUBLISH_FIGURES)(figures.publish_figures)
    rt.handles(c.LIST_FIGURES)(figures.list_figures)

    # Every other region's figures, from this region's copy of what they share: read here
    # while the network is cut.
    @rt.consumes_network(c.FIGURES_PUBLISHED)
    async def on_network_figures(event: Envelope[c.FiguresSnapshot]) -> None:
        await figures.copy(event.data)

    # A month that ended is published once by itself; staff publish any month again. The
    # first look comes a little after the start, once the region's services answer.
    config = rt.config if isinstance(rt.config, ReportsSettings) else ReportsSettings()
    tick_s = min(config.figures_check_s, _FIRST_LOOK_S)
    next_look = {"at": time.monotonic() + tick_s}

    async def look() -> None:
        if time.monotonic() >= next_look["at"]:
            next_look["at"] = time.monotonic() + config.figures_check_s
            await figures.publish_due()

    rt.every(tick_s, look, "figures_due")

    rt.publishes(c.FIGURES_PUBLISHED)
