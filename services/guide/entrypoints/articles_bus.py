"""The Market Access Guide's operations on the bus: articles, notes, facts, search."""

from __future__ import annotations

from mapnet.runtime.service import Runtime


def build_articles(rt: Runtime) -> None:
    """Routes of the guide's articles (filled in by the articles work)."""
