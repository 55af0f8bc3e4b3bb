"""The finance link's operations on the bus: offers, an SME's needs, suggestions."""

from __future__ import annotations

from mapnet.runtime.service import Runtime


def build_finance(rt: Runtime) -> None:
    """Routes of the finance link (filled in by the finance work)."""
