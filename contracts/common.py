"""Value types shared by several services' payloads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import pycountry
from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from .envelope import Payload


def _existing_country(code: str) -> str:
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code} is not an ISO 3166-1 country code")
    return code


CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_existing_country),
    Field(description="ISO 3166-1 alpha-2"),
]
# A NACE Rev. 2 code at any level: section letter, division 62, group 62.0, class 62.01.
NaceCode = Annotated[str, StringConstraints(pattern=r"^([A-U]|\d{2}(\.\d{1,2})?)$")]
LanguageCode = Annotated[
    str, StringConstraints(pattern=r"^[a-z]{2}$"), Field(description="ISO 639-1")
]
Keyword = Annotated[str, StringConstraints(min_length=1, max_length=60)]
Euro = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2, description="EUR")]
# Wall-clock time at a venue, read with the entry's `timezone`: not an instant, so not the
# offset-bearing `date-time` format. An offset, if a client sends one, is converted to wall time.
LocalDateTime = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "format": "local-date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$",
            "description": "Local wall time at the venue, without offset (RFC 3339 "
            "date-time minus the offset, e.g. 2026-05-04T09:00:00), in the entry's time zone",
            "examples": ["2026-05-04T09:00:00"],
        }
    ),
]
Cursor = Annotated[str, StringConstraints(max_length=500)]

# A value shown on one line (a title, a name, a place): no line break or other control
# character, which could rewrite a mail header or an iCal line built from it.
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
Visibility = Literal["private", "network", "public"]


class SmeRef(Payload):
    """An SME anywhere in the network: its home region and its id there."""

    region: str = Field(pattern=r"^[a-z]+$")
    sme_id: str = Field(min_length=1)


class Page(Payload):
    limit: int = Field(default=20, ge=1, le=200)
    cursor: Cursor | None = None


class Accepted(Payload):
    """A command that changes one record answers with its id and new version."""

    id: str
    version: int
