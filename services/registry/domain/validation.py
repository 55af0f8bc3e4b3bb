"""Field checks that need more than a type: countries that exist (pycountry), VAT ids and
registration numbers by their national check rules (python-stdnum), NACE codes of the real
classification. Each problem names its field; nothing is stored while any remains."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pycountry
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as NumberError

from contracts.errors import Refused

from . import nace

FieldProblem = dict[str, str]

# Company registration numbers with a check rule in python-stdnum, by country. Elsewhere a
# number is accepted when it has the plain shape of one.
_REGISTRATION = {
    "DE": "handelsregisternummer",
    "DK": "cvr",
    "EE": "registrikood",
    "FI": "ytunnus",
    "LV": "pvn",
    "NO": "orgnr",
    "PL": "regon",
    "RU": "ogrn",
    "SE": "orgnr",
}
_PLAIN_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,39}$")


def _module(country: str, name: str) -> Any:
    return get_cc_module(country.lower(), name)


def _problem(field: str, message: str, kind: str) -> FieldProblem:
    return {"field": field, "message": message, "type": kind}


def country_problem(field: str, code: str) -> FieldProblem | None:
    if pycountry.countries.get(alpha_2=code) is None:
        return _problem(field, f"{code} is not an ISO 3166-1 country code", "country")
    return None


def vat_problem(field: str, country: str, vat_id: str) -> FieldProblem | None:
    number = vat_id.replace(" ", "").upper()
    try:
        if country.lower() in eu_vat.MEMBER_STATES:
            prefix = "EL" if country == "GR" else country
            eu_vat.validate(number if number[:2].isalpha() else prefix + number)
        elif module := _module(country, "vat"):
            module.validate(number)
        elif not _PLAIN_NUMBER.match(number):
            raise NumberError("not a VAT number")
    except NumberError as exc:
        return _problem(field, f"not a valid {country} VAT id: {exc}", "vat_id")
    return None


def registration_problem(field: str, country: str, number: str) -> FieldProblem | None:
    module = _module(country, _REGISTRATION[country]) if country in _REGISTRATION else None
    try:
        if module is not None:
            module.validate(number)
        elif not _PLAIN_NUMBER.match(number):
            raise NumberError("not a registration number")
    except NumberError as exc:
        return _problem(field, f"not a valid {country} registration number: {exc}", "registration")
    return None


def nace_problems(field: str, codes: Iterable[str]) -> list[FieldProblem]:
    return [
        _problem(f"{field}.{i}", f"{code} is not a NACE Rev. 2 code", "nace")
        for i, code in enumerate(codes)
        if isinstance(code, str) and not nace.exists(code)
    ]


def sme_problems(values: Mapping[str, Any], prefix: str, country: str) -> list[FieldProblem]:
    """Problems of the SME fields present in ``values`` (a whole SME or only its changes)."""
    found: list[FieldProblem | None] = []
    if "country" in values:
        found.append(country_problem(f"{prefix}.country", values["country"]))
    if values.get("registration_number"):
        found.append(
            registration_problem(
                f"{prefix}.registration_number", country, values["registration_number"]
            )
        )
    if values.get("vat_id"):
        found.append(vat_problem(f"{prefix}.vat_id", country, values["vat_id"]))
    problems = [p for p in found if p]
    problems += nace_problems(f"{prefix}.nace_codes", values.get("nace_codes") or [])
    return problems


def profile_problems(values: Mapping[str, Any], prefix: str) -> list[FieldProblem]:
    problems = nace_problems(f"{prefix}.nace_codes", values.get("nace_codes") or [])
    for i, code in enumerate(values.get("target_countries") or []):
        if not isinstance(code, str):
            continue
        if problem := country_problem(f"{prefix}.target_countries.{i}", code):
            problems.append(problem)
    return problems


def require(check: Callable[[], list[FieldProblem]]) -> None:
    if problems := check():
        names = ", ".join(sorted({p["field"] for p in problems}))
        raise Refused("validation_failed", f"invalid fields: {names}", fields=problems)


def _strings(values: Any, names: Iterable[str]) -> dict[str, Any]:
    """The named values of a raw body that are of the type the rules read; the schema names
    the others."""
    if not isinstance(values, Mapping):
        return {}
    found: dict[str, Any] = {n: values[n] for n in names if isinstance(values.get(n), str)}
    for listed in ("nace_codes", "target_countries"):
        items = values.get(listed)
        if isinstance(items, list):
            found[listed] = items  # each rule passes over items of another type
    return found


def register_rules(data: Any) -> list[FieldProblem]:
    """``sme_problems`` of a raw register_sme body, for an answer that names every bad field."""
    values = _strings(data, ("country", "registration_number", "vat_id"))
    values.pop("country", None)  # the schema checks the country code itself
    country = data.get("country") if isinstance(data, Mapping) else None
    return sme_problems(values, "data", country if isinstance(country, str) else "")


def register_many_rules(data: Any) -> list[FieldProblem]:
    """``register_rules`` of each row of a raw register_smes body (data.rows.<i>.sme.…)."""
    rows = data.get("rows") if isinstance(data, Mapping) else None
    problems: list[FieldProblem] = []
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        sme = row.get("sme") if isinstance(row, Mapping) else None
        for problem in register_rules(sme):
            field = f"data.rows.{i}.sme" + problem["field"].removeprefix("data")
            problems.append({**problem, "field": field})
    return problems


def profile_rules(data: Any) -> list[FieldProblem]:
    """``profile_problems`` of a raw draft_profile or publish_profile body."""
    profile = data.get("profile") if isinstance(data, Mapping) else None
    return profile_problems(_strings(profile, ()), "data.profile")
