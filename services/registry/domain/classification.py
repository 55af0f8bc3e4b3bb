"""Derived classes of an SME, each with the reasons that explain it.

- Size (Recommendation 2003/361/EC): staff in annual work units and turnover *or* balance-sheet
  total: micro < 10 and <= EUR 2 m; small < 50 and <= EUR 10 m; medium < 250 and turnover
  <= EUR 50 m or balance sheet <= EUR 43 m. The latest year with figures counts.
- Growth (Eurostat-OECD): high-growth if it had at least 10 employees at the start of a three-year
  period and average annualised employee growth above 10 % over it; a gazelle is a high-growth
  enterprise at most five years old at the end of the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from contracts.registry import YearlyFigures

M = Decimal(1_000_000)
# (class, staff below, turnover ceiling, balance-sheet ceiling)
SIZE_CEILINGS = (
    ("micro", Decimal(10), 2 * M, 2 * M),
    ("small", Decimal(50), 10 * M, 10 * M),
    ("medium", Decimal(250), 50 * M, 43 * M),
)
GROWTH_YEARS = 3
GROWTH_RATE = Decimal("0.10")
MIN_START_STAFF = Decimal(10)
GAZELLE_MAX_AGE_YEARS = 5


@dataclass(frozen=True)
class Derived:
    value: str
    reasons: list[str]


def size_class(figures: list[YearlyFigures]) -> Derived:
    if not figures:
        return Derived("unknown", ["no yearly figures given"])
    latest = max(figures, key=lambda f: f.year)
    money = [v for v in (latest.turnover_eur, latest.balance_sheet_eur) if v is not None]
    if not money:
        return Derived(
            "unknown", [f"{latest.year}: neither turnover nor balance-sheet total given"]
        )
    for name, staff_below, turnover_max, balance_max in SIZE_CEILINGS:
        staff_ok = latest.staff_headcount < staff_below
        turnover_ok = latest.turnover_eur is not None and latest.turnover_eur <= turnover_max
        balance_ok = (
            latest.balance_sheet_eur is not None and latest.balance_sheet_eur <= balance_max
        )
        if staff_ok and (turnover_ok or balance_ok):
            which = "turnover" if turnover_ok else "balance-sheet total"
            limit = turnover_max if turnover_ok else balance_max
            return Derived(
                name,
                [
                    f"{latest.year}: {latest.staff_headcount} staff < {staff_below}",
                    f"{latest.year}: {which} within EUR {limit / M:g} m",
                ],
            )
    return Derived(
        "not_sme",
        [
            f"{latest.year}: {latest.staff_headcount} staff, turnover "
            f"{latest.turnover_eur}, balance sheet {latest.balance_sheet_eur} exceed the medium "
            "ceilings (< 250 staff and EUR 50 m turnover or EUR 43 m balance sheet)"
        ],
    )


def growth_class(figures: list[YearlyFigures], founded_on: date | None) -> Derived:
    by_year = {f.year: f.staff_headcount for f in figures}
    if not by_year:
        return Derived("unknown", ["no yearly figures given"])
    end = max(by_year)
    start = end - GROWTH_YEARS
    if start not in by_year:
        return Derived("unknown", [f"no staff figure for {start}, three years before {end}"])
    staff_start, staff_end = by_year[start], by_year[end]
    if staff_start < MIN_START_STAFF:
        return Derived("neither", [f"{start}: {staff_start} staff, fewer than 10 at the start"])
    annual = (staff_end / staff_start) ** (Decimal(1) / GROWTH_YEARS) - 1
    rate = f"{annual * 100:.1f} %"
    if annual <= GROWTH_RATE:
        return Derived("neither", [f"{start}-{end}: average annual staff growth {rate} ≤ 10 %"])
    reasons = [f"{start}-{end}: {staff_start} → {staff_end} staff, {rate} a year > 10 %"]
    if founded_on is None:
        return Derived("high_growth", [*reasons, "founding date unknown: cannot be a gazelle"])
    age = end - founded_on.year
    if age <= GAZELLE_MAX_AGE_YEARS:
        return Derived("gazelle", [*reasons, f"{age} years old in {end} (≤ 5)"])
    return Derived("high_growth", [*reasons, f"{age} years old in {end} (> 5): not a gazelle"])
