"""NACE Rev. 2 hierarchy: section letter > division (2 digits) > group (62.0) > class (62.01)."""

from __future__ import annotations

# Divisions of each section, from the classification.
SECTIONS: dict[str, range] = {
    "A": range(1, 4),
    "B": range(5, 10),
    "C": range(10, 34),
    "D": range(35, 36),
    "E": range(36, 40),
    "F": range(41, 44),
    "G": range(45, 48),
    "H": range(49, 54),
    "I": range(55, 57),
    "J": range(58, 64),
    "K": range(64, 67),
    "L": range(68, 69),
    "M": range(69, 76),
    "N": range(77, 83),
    "O": range(84, 85),
    "P": range(85, 86),
    "Q": range(86, 89),
    "R": range(90, 94),
    "S": range(94, 97),
    "T": range(97, 99),
    "U": range(99, 100),
}


def section_of(division: int) -> str | None:
    return next((s for s, divisions in SECTIONS.items() if division in divisions), None)


def ancestors(code: str) -> list[str]:
    """The code and every level above it, so that a search for 62 finds 62.01."""
    if code.isalpha():
        return [code]
    division = code[:2]
    levels = [division]
    if "." in code:
        group = code[:4]
        levels.append(group)
        if len(code) > 4:
            levels.append(code)
    section = section_of(int(division))
    return ([section] if section else []) + levels
