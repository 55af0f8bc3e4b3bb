"""A month is a calendar month of a year the calendar has: year 0 was a crash of publish_figures
(ValueError from the date), found by the roles matrix's generated payloads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import reports as c


def test_a_month_of_year_zero_is_refused_by_the_contract() -> None:
    with pytest.raises(ValidationError):
        c.PublishFigures(month="0000-01")
    assert c.PublishFigures(month="2026-03").month == "2026-03"
