"""The region's monthly figures on the bus: snapshots of counts, shared with the network."""

from __future__ import annotations

from contracts import reports as c
from mapnet.runtime.service import Runtime


def build_figures(rt: Runtime) -> None:
    """Routes of this part (filled in by its work)."""
    rt.not_yet(c.PUBLISH_FIGURES, c.LIST_FIGURES)
    rt.publishes(c.FIGURES_PUBLISHED)
