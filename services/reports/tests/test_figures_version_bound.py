"""A snapshot's version is bounded: a region claiming version 2**62 of its month would outrank
every later publication of it in every copy (the federation test sends one across real
servers); publishing a month past the bound is a typed refusal, not a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contracts import reports as c
from contracts.errors import Refused
from services.reports.domain.figures import check_version


def snapshot(version: int) -> c.FiguresSnapshot:
    return c.FiguresSnapshot(
        region="berlin",
        month="2026-03",
        version=version,
        made_at=datetime.now(UTC),
        total=c.FigureCounts(),
    )


def test_a_version_beyond_any_months_republishing_is_refused_by_the_contract() -> None:
    assert snapshot(c.MAX_FIGURES_VERSION).version == c.MAX_FIGURES_VERSION
    for too_high in (c.MAX_FIGURES_VERSION + 1, 2**62):
        with pytest.raises(ValidationError, match="version"):
            snapshot(too_high)
    # A month republished every three seconds for 31 days stays under the bound.
    assert c.MAX_FIGURES_VERSION > 31 * 24 * 3600 // 3


def test_publishing_a_month_past_the_bound_is_a_conflict() -> None:
    check_version("2026-03", c.MAX_FIGURES_VERSION)
    with pytest.raises(Refused) as refused:
        check_version("2026-03", c.MAX_FIGURES_VERSION + 1)
    assert refused.value.code == "conflict"
