"""Guide service: the Market Access Guide's articles, local notes, market facts and search."""

from __future__ import annotations
