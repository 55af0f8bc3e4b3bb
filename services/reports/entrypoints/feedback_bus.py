"""The SMEs' feedback on the bus: surveys after meetings, events, courses and coaching stages."""

from __future__ import annotations

from mapnet.runtime.service import Runtime


def build_feedback(rt: Runtime) -> None:
    """Routes of this part (filled in by its work)."""
