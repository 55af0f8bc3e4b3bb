"""Value types shared by several services' payloads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

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


def _amount_schema(max_digits: int, decimal_places: int, maximum: int | None = None) -> Any:
    """A decimal's JSON Schema as it is validated: a number, or its text of bounded length."""
    number: dict[str, Any] = {"type": "number", "minimum": 0}
    if maximum is not None:
        number["maximum"] = maximum
    whole = max_digits - decimal_places
    text = {
        "type": "string",
        "maxLength": max_digits + 1,
        "pattern": rf"^\d{{1,{whole}}}(\.\d{{1,{decimal_places}}})?$",
    }
    return WithJsonSchema({"anyOf": [number, text]})


Euro = Annotated[
    Decimal,
    Field(ge=0, max_digits=15, decimal_places=2, description="EUR"),
    _amount_schema(15, 2),
]
# Annual work units, as the SME definition counts staff.
WorkUnits = Annotated[
    Decimal,
    Field(ge=0, max_digits=9, decimal_places=2, description="Annual work units"),
    _amount_schema(9, 2),
]
Share = Annotated[
    Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4), _amount_schema(5, 4, maximum=1)
]
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


def _few_words(text: str) -> str:
    if len(text.split()) > MAX_SEARCH_WORDS:
        raise ValueError(f"at most {MAX_SEARCH_WORDS} words")
    return text


MAX_SEARCH_WORDS = 12
# What a person types into a search box: each word becomes one clause of the search.
SearchText = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_few_words),
    Field(description=f"Free text: up to 200 characters and {MAX_SEARCH_WORDS} words"),
]

# A value shown on one line (a title, a name, a place): no line break or other control
# character, which could rewrite a mail header or an iCal line built from it.
SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
Visibility = Literal["private", "network", "public"]


class SmeRef(Payload):
    """An SME anywhere in the network: its home region and its id there."""

    region: str = Field(pattern=r"^[a-z]+$", max_length=40)
    sme_id: str = Field(min_length=1, max_length=200)

    @property
    def key(self) -> str:
        """``region:sme_id``: how read models and pages name an SME of the network."""
        return f"{self.region}:{self.sme_id}"


class Page(Payload):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: Cursor | None = None


class Accepted(Payload):
    """A command that changes one record answers with its id and new version."""

    id: str
    version: int
