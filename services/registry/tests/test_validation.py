"""National check rules, real NACE codes and real countries, without servers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import registry as c
from contracts.errors import Refused
from services.registry.domain import nace
from services.registry.domain.model import Sme

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def register(**fields: Any) -> Sme:
    base: dict[str, Any] = {
        "legal_name": "Valgus OÜ",
        "registration_number": "14000009",
        "country": "EE",
    }
    cmd = c.RegisterSme.model_validate({**base, **fields})
    return Sme.register("s1", "tallinn", cmd, actor="staff", now=NOW)


def refused_fields(**fields: Any) -> set[str]:
    with pytest.raises(Refused) as refused:
        register(**fields)
    assert refused.value.code == "validation_failed"
    return {f["field"] for f in refused.value.details["fields"]}


def test_the_classification_is_complete() -> None:
    codes = nace.all_codes()
    by_length = {n: sum(1 for code in codes if len(code) == n) for n in (1, 2, 4, 5)}
    assert by_length == {1: 21, 2: 88, 4: 272, 5: 615}
    assert nace.exists("26.70") and not nace.exists("29.70") and not nace.exists("62.10")


def test_each_bad_field_is_named_at_once() -> None:
    assert refused_fields(
        registration_number="14000001",
        vat_id="EE100000001",
        country="EE",
        nace_codes=["62.01", "29.70"],
    ) == {"data.registration_number", "data.vat_id", "data.nace_codes.1"}
    # Countries that do not exist are refused by the shared contract type, for every service.
    with pytest.raises(ValidationError) as invalid:
        register(country="XX", registration_number="123")
    assert [e["loc"] for e in invalid.value.errors()] == [("country",)]


@pytest.mark.parametrize(
    ("country", "number", "vat"),
    [
        ("EE", "14000009", "EE100931558"),
        ("EE", "14000009", "100931558"),
        ("FI", "2077474-0", None),
        ("NO", "965920358", "NO965920358MVA"),
        ("DE", "Berlin HRB 12345", None),
        ("LT", "302345678", None),
    ],
)
def test_valid_numbers_of_several_countries(country: str, number: str, vat: str | None) -> None:
    sme = register(country=country, registration_number=number, vat_id=vat)
    assert sme.data.registration_number == number


def test_changes_and_profiles_are_checked_too() -> None:
    sme = register()
    with pytest.raises(Refused) as refused:
        sme.update(c.SmeChanges(nace_codes=["99.99"]), NOW)
    assert refused.value.details["fields"][0]["field"] == "data.changes.nace_codes.0"
    profile = c.ProfileInput(
        type="business_offer",
        title="Distribution partners wanted",
        summary="x",
        partnership_types=["distribution"],
        expires_on=date(2027, 1, 1),
        target_countries=["SE"],
        nace_codes=["46.24", "99.98"],
    )
    with pytest.raises(Refused) as refused:
        sme.publish_profile(profile, "p1", NOW)
    assert [f["field"] for f in refused.value.details["fields"]] == ["data.profile.nace_codes.1"]
    assert sme.version == 1 and not sme.profiles


@given(number=st.text(min_size=1, max_size=40).filter(lambda s: s.strip()))
def test_any_registration_number_is_accepted_or_refused_never_crashes(number: str) -> None:
    try:
        register(registration_number=number)
    except Refused as refused:
        assert refused.code == "validation_failed"


def test_rules_on_a_raw_body_take_any_shape() -> None:
    from services.registry.domain.validation import profile_rules, register_rules

    assert register_rules({"country": 5, "vat_id": ["x"], "nace_codes": "62.01"}) == []
    assert register_rules([1, 2]) == [] and profile_rules({"profile": "x"}) == []
    fields = {p["field"] for p in register_rules({"country": "EE", "vat_id": "EE1", "x": {}})}
    assert fields == {"data.vat_id"}
    assert profile_rules({"profile": {"nace_codes": [3, "26.79"]}})[0]["field"] == (
        "data.profile.nace_codes.1"
    )
