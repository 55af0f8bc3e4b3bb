"""Reports service on the bus: feedback, figures and reports, each in its own module."""

from __future__ import annotations

from mapnet.runtime.service import Runtime

from .feedback_bus import build_feedback
from .figures_bus import build_figures
from .reports_bus import build_reports


def build(rt: Runtime) -> None:
    build_feedback(rt)
    build_figures(rt)
    build_reports(rt)
