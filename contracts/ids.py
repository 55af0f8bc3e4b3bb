"""Identifiers every contract uses."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

REGION_PATTERN = r"^[a-z]+$"
RegionId = Annotated[str, StringConstraints(pattern=REGION_PATTERN, min_length=2, max_length=40)]
