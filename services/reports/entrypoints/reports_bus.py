"""Reports on the bus: the monitoring report and cluster reports in HTML, PDF and CSV."""

from __future__ import annotations

from mapnet.runtime.service import Runtime


def build_reports(rt: Runtime) -> None:
    """Routes of this part (filled in by its work)."""
