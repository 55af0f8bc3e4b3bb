"""The region's monthly figures on the bus: snapshots of counts, shared with the network."""

from __future__ import annotations

from mapnet.runtime.service import Runtime


def build_figures(rt: Runtime) -> None:
    """Routes of this part (filled in by its work)."""
