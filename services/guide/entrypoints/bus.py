"""Guide service on the bus: the guide's articles and the finance link, each in its own module."""

from __future__ import annotations

from mapnet.runtime.service import Runtime

from .articles_bus import build_articles
from .finance_bus import build_finance


def build(rt: Runtime) -> None:
    build_articles(rt)
    build_finance(rt)
