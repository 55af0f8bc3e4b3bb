"""Guide service: the finance link (finance offers, an SME's finance needs, suggestions)."""

from __future__ import annotations
