"""Every request has bounds: each text field a length, each list a number of items, a search
a number of words. What a request may cost is then what its contract allows (bench/hostile.py
measures a region's health query while the worst allowed requests run)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import events as ev
from contracts import registry as rg
from contracts.errors import Refused
from contracts.operations import CATALOGUE
from mapnet.runtime.bus import BusClient

# Strings bounded otherwise: by their format, or a pattern of fixed length.
_BOUNDED_FORMATS = {"date", "date-time", "time", "email", "uri", "local-date-time"}


def unbounded(schema: dict[str, Any], defs: dict[str, Any], path: str) -> list[str]:
    if "$ref" in schema:
        return unbounded(defs[schema["$ref"].split("/")[-1]], defs, path)
    found = [p for key in ("anyOf", "oneOf", "allOf") for sub in schema.get(key, [])
             for p in unbounded(sub, defs, path)]  # fmt: skip
    kind = schema.get("type")
    if kind == "string" and not (
        {"maxLength", "enum", "const"} & set(schema)
        or schema.get("format") in _BOUNDED_FORMATS
        or _decimal(schema)
    ):
        found.append(path)
    if kind == "array":
        if "maxItems" not in schema:
            found.append(path + "[]")
        found += unbounded(schema.get("items", {}), defs, path + ".*")
    for name, field in schema.get("properties", {}).items():
        found += unbounded(field, defs, f"{path}.{name}")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and "enum" not in schema.get("propertyNames", {}):
        found.append(path + "{}")
    return found


def _decimal(schema: dict[str, Any]) -> bool:
    # pydantic's Decimal as text: its digits are bounded by max_digits when validated.
    return str(schema.get("pattern", "")).startswith("^(?!^[-+.]*$)[+-]?0*")


@pytest.mark.parametrize(
    "op", [op for op in CATALOGUE.values() if op.kind != "event"], ids=lambda op: op.name
)
def test_every_text_and_list_of_a_request_is_bounded(op: Any) -> None:
    schema = op.envelope.model_json_schema()
    assert unbounded(schema["properties"]["data"], schema.get("$defs", {}), "data") == []


async def test_a_search_of_more_words_or_text_than_a_person_types_is_refused(
    client: BusClient, region: str, region_app: Any
) -> None:
    words = " ".join(f"w{i}" for i in range(13))
    cases: list[tuple[Any, Any]] = [
        (rg.SEARCH_SMES, rg.SearchSmes.model_construct(text=words)),
        (ev.LIST_CALENDAR, ev.ListCalendar.model_construct(text="x" * 7_000_000)),
    ]
    for op, query in cases:
        with pytest.raises(Refused) as refused:
            await client.call(op, query, region, timeout_s=20)
        assert refused.value.code == "validation_failed"
        assert refused.value.details["fields"][0]["field"] == "data.text"
