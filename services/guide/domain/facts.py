"""A market's facts card, computed from maintained data packages, never typed by hand: the
currency (Unicode CLDR through Babel, ISO 4217 names from pycountry), the official languages
(CLDR's territory language data through Babel: pycountry has no table of official languages),
the national public holidays of the next twelve months (holidays), VAT rates (eu-vat-rates-data,
the European Commission's TEDB for the member states), how company and VAT ids look and are
checked (python-stdnum, the modules the registry checks numbers with) and the home region's MAP.

Pure: the day and the network's list of regions are given; nothing is read but the packages'
own data."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import babel
import eu_vat_rates_data
import holidays
import pycountry
import stdnum
from babel import Locale, UnknownLocaleError
from babel.core import get_cldr_version
from babel.languages import get_official_languages
from babel.numbers import get_currency_name, get_territory_currencies
from stdnum import get_cc_module
from stdnum.exceptions import ValidationError as NumberError
from stdnum.util import get_module_description, get_module_name

from contracts import guide as c

CLDR_URL = "https://cldr.unicode.org/"
HOLIDAYS_URL = "https://github.com/vacanza/holidays"
VAT_DATA_URL = "https://github.com/vatnode/eu-vat-rates-data"
TEDB_URL = "https://ec.europa.eu/taxation_customs/tedb/"
STDNUM_URL = "https://arthurdejong.org/python-stdnum/"

# The module of python-stdnum that checks a country's company registration number: the same as
# the registry service's (services/registry/domain/validation.py). python-stdnum has none for the
# Lithuanian legal entity code nor the Polish KRS number; for Poland the registry checks REGON.
COMPANY_MODULES: dict[str, str] = {
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
# Where the registry's module is not the one for the number the register gives (eu-vat-rates-
# data's registry_code_name): both are shown.
_MODULE_IS_REGISTRY_CODE = {"PL": False}

# Figures of eu-vat-rates-data that disagree with the EU's published table, with what the card
# shows instead. Applied only while the package still says the wrong figure, so a fixed release
# needs no change here (services/guide/tests/test_facts.py checks the figures against the table).
VAT_CORRECTIONS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "PL": (
        {"super_reduced": 8.0},
        {"super_reduced": None},
        "eu-vat-rates-data lists 8 % as a super-reduced rate; the EU's table of VAT rates lists "
        "no super-reduced rate for Poland (8 % is its second reduced rate)",
    ),
}

_EXAMPLE = re.compile(r">>> validate\('([^']+)'\)")


@dataclass(frozen=True)
class RegionEntry:
    """One region of the network's list (deploy/regions.toml), with its MAP's public contact
    where the list gives one."""

    region: str
    city: str
    country: str
    map_name: str = ""
    map_email: str = ""
    map_url: str = ""
    map_phone: str = ""


@dataclass(frozen=True)
class RegionList:
    """The network's regions, and where and as of when they were read."""

    regions: tuple[RegionEntry, ...]
    title: str
    as_of: date
    note: str = ""
    # market → its home region, as the articles reckon it (adapters/markets.py), where it is
    # given; else the region whose country the market is (the last by id, as there).
    homes: tuple[tuple[str, str], ...] = ()

    def home_of(self, market: str) -> RegionEntry | None:
        by_id = {entry.region: entry for entry in self.regions}
        if self.homes:
            home = dict(self.homes).get(market)
            if home is None:
                return None
            return by_id.get(home) or RegionEntry(region=home, city="", country=market)
        homes = sorted((r for r in self.regions if r.country == market), key=lambda r: r.region)
        return homes[-1] if homes else None


def market_facts(
    market: str, today: date, regions: RegionList, language: str = "en"
) -> c.MarketFacts:
    # A copy: the cached card stays as computed whatever a caller does with its own.
    return _card(market.upper(), today, regions, _locale(language)).model_copy(deep=True)


@lru_cache(maxsize=512)
def _card(market: str, today: date, regions: RegionList, locale: str) -> c.MarketFacts:
    country = pycountry.countries.get(alpha_2=market)
    return c.MarketFacts(
        market=market,
        country_name=Locale.parse(locale).territories.get(market)
        or (country.name if country else market),
        computed_on=today,
        currency=currency_fact(market, today, locale),
        languages=languages_fact(market, today, locale),
        holidays=holidays_fact(market, today, locale),
        vat=vat_fact(market),
        identifiers=identifier_facts(market, today),
        map_contact=map_contact(market, regions),
    )


def _locale(language: str) -> str:
    try:
        return str(Locale.parse(language))
    except (UnknownLocaleError, ValueError):
        return "en"


def _cldr(today: date, note: str = "") -> c.FactSource:
    return c.FactSource(
        title=f"Unicode CLDR {get_cldr_version()} (Babel {babel.__version__})",
        url=CLDR_URL,
        as_of=today,
        note=note,
    )


def currency_fact(market: str, today: date, locale: str = "en") -> c.CurrencyFact:
    codes = get_territory_currencies(market, start_date=today, tender=True)
    if not codes:
        return c.CurrencyFact(
            code=None, source=_cldr(today, f"CLDR knows no currency in use in {market}")
        )
    code = codes[0]
    iso = pycountry.currencies.get(alpha_3=code)
    name = get_currency_name(code, locale=locale) or (iso.name if iso else code)
    return c.CurrencyFact(code=code, name=name, source=_cldr(today))


def languages_fact(market: str, today: date, locale: str = "en") -> c.LanguagesFact:
    codes = list(get_official_languages(market, de_facto=True))
    names = Locale.parse(locale).languages
    note = "" if codes else f"CLDR records no official language of {market}"
    return c.LanguagesFact(
        codes=codes,
        names=[names.get(code) or _iso_language(code) for code in codes],
        source=_cldr(today, note or "national official languages; regional ones not listed"),
    )


def _iso_language(code: str) -> str:
    found = pycountry.languages.get(alpha_2=code) or pycountry.languages.get(alpha_3=code)
    return str(found.name) if found else code


def twelve_months_on(today: date) -> date:
    """The day before the same day next year (29 February: the 28th)."""
    try:
        return today.replace(year=today.year + 1) - timedelta(days=1)
    except ValueError:
        return date(today.year + 1, 2, 28)


def holidays_fact(market: str, today: date, locale: str = "en") -> c.HolidaysFact:
    end = twelve_months_on(today)
    source = c.FactSource(
        title=f"holidays {holidays.__version__}",
        url=HOLIDAYS_URL,
        as_of=today,
        note="national public holidays; states and regions may add their own",
    )
    if market not in holidays.list_supported_countries():
        source.note = f"the holidays package has no calendar of {market}"
        return c.HolidaysFact(start=today, end=end, days=[], source=source)
    supported = holidays.country_holidays(market).supported_languages
    calendar = holidays.country_holidays(
        market, years=range(today.year, end.year + 1), language=_holiday_language(locale, supported)
    )
    days = [
        c.Holiday(day=day, name=name)
        for day, name in sorted(calendar.items())
        if today <= day <= end
    ]
    return c.HolidaysFact(start=today, end=end, days=days, source=source)


def _holiday_language(locale: str, supported: tuple[str, ...]) -> str | None:
    """The holidays package's language for a locale: the same, or its language in some
    territory (``sv`` → ``sv_FI``), else English, else the country's own."""
    language = locale.split("_")[0]
    for wanted in (locale, language, "en"):
        for offered in supported:
            if offered == wanted or offered.split("_")[0] == wanted:
                return offered
    return None


def _percent(value: Any) -> float | None:
    return None if value is None else float(value)


def vat_fact(market: str) -> c.VatFact:
    as_of = date.fromisoformat(eu_vat_rates_data.data_version)
    title = f"eu-vat-rates-data {eu_vat_rates_data.data_version}"
    raw = eu_vat_rates_data.get_rate(market)
    if raw is None:
        return c.VatFact(
            status="not_in_data",
            source=c.FactSource(
                title=title,
                url=VAT_DATA_URL,
                as_of=as_of,
                note=f"not in the EU VAT data: eu-vat-rates-data has no rates of {market}; "
                "ask the country's tax authority",
            ),
        )
    rates: dict[str, Any] = dict(raw)
    notes = []
    if raw["eu_member"]:
        url, notes = TEDB_URL, ["the European Commission's TEDB, as eu-vat-rates-data reads it"]
    else:
        url, notes = VAT_DATA_URL, ["outside the EU: kept by hand by eu-vat-rates-data, not "
                                    "from the EU's TEDB; check with the tax authority"]  # fmt: skip
    if market in VAT_CORRECTIONS:
        wrong, right, why = VAT_CORRECTIONS[market]
        if all(rates.get(k) == v for k, v in wrong.items()):
            rates |= right
            notes.append(why)
    return c.VatFact(
        status="eu" if raw["eu_member"] else "outside_eu",
        name=rates.get("vat_name") or "",
        abbreviation=rates.get("vat_abbr") or "",
        standard=_percent(rates.get("standard")),
        reduced=sorted(float(r) for r in rates.get("reduced") or []),
        super_reduced=_percent(rates.get("super_reduced")),
        parking=_percent(rates.get("parking")),
        source=c.FactSource(title=title, url=url, as_of=as_of, note="; ".join(notes)),
    )


def _example(module: Any) -> str | None:
    """The first number of the module's own documented examples that passes its check."""
    for candidate in _EXAMPLE.findall(module.__doc__ or ""):
        try:
            module.validate(candidate)
        except NumberError:
            continue
        return str(candidate)
    return None


def _described(module: Any) -> str:
    text = get_module_description(module).split("More information:")[0]
    return " ".join(text.split())


def _english(names: Mapping[str, Any] | None, key: str) -> str:
    found = (names or {}).get(key) or {}
    return str(found.get("en") or "")


def _stdnum(today: date, note: str = "") -> c.FactSource:
    return c.FactSource(
        title=f"python-stdnum {stdnum.__version__}", url=STDNUM_URL, as_of=today, note=note
    )


def identifier_facts(market: str, today: date) -> list[c.IdentifierFact]:
    raw: Mapping[str, Any] | None = eu_vat_rates_data.get_rate(market)
    names: Mapping[str, Any] = (raw or {}).get("identifiers") or {}
    register = ", ".join(
        n
        for n in (_english(names, "registry_name"), _english(names, "registry_authority_name"))
        if n
    )
    facts: list[c.IdentifierFact] = []
    company = COMPANY_MODULES.get(market)
    module = get_cc_module(market.lower(), company) if company else None
    registry_code = _english(names, "registry_code_name")
    data_note = f"names: eu-vat-rates-data {eu_vat_rates_data.data_version}" if raw else ""
    if module is not None and _MODULE_IS_REGISTRY_CODE.get(market, True):
        facts.append(_identifier("company", module, today, register, data_note))
    else:
        if registry_code or register:
            facts.append(
                c.IdentifierFact(
                    kind="company",
                    name=registry_code or "company registration number",
                    description="python-stdnum has no check for it: only its plain shape is "
                    "checked",
                    issued_by=register,
                    source=_stdnum(today, data_note),
                )
            )
        if module is not None:
            facts.append(_identifier("company", module, today, "", ""))
    vat = get_cc_module(market.lower(), "vat")
    if vat is not None:
        # Russia has no VAT number of its own: the taxpayer number (INN) serves.
        kind: c.IdentifierKind = "tax" if market == "RU" else "vat"
        shape = (raw or {}).get("format")
        fact = _identifier(kind, vat, today, "", data_note)
        if shape:
            fact.description = f"{fact.description} Shape: {shape}."
        facts.append(fact)
    return facts


def _identifier(
    kind: c.IdentifierKind, module: Any, today: date, issued_by: str, note: str
) -> c.IdentifierFact:
    return c.IdentifierFact(
        kind=kind,
        name=get_module_name(module),
        description=_described(module),
        example=_example(module),
        checked_by=module.__name__,
        issued_by=issued_by,
        source=_stdnum(today, note),
    )


def _joined(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


# Where a region's operator sets its MAP's contact: said on the card where none is set.
CONTACT_SETTING = (
    "its operator sets map_name, map_email, map_url and map_phone on the region's line of "
    "deploy/regions.toml (or of the file MAPNET_REGIONS_FILE names) and restarts the guide"
)


def map_contact(market: str, regions: RegionList) -> c.MapContact:
    """The market's home region's MAP as the network's list gives it: its contact only as the
    region's operator set it, never made up; where none is set, the card says so and where it
    is set."""
    home = regions.home_of(market)
    source = c.FactSource(title=regions.title, as_of=regions.as_of, note=regions.note)
    if home is None:
        source.note = _joined(
            regions.note, f"no region of the network is in {market}: ask your own region's MAP"
        )
        return c.MapContact(region=None, source=source)
    contact_set = bool(home.map_name or home.map_email or home.map_url or home.map_phone)
    if not contact_set:
        source.note = _joined(
            regions.note, f"region {home.region} has not set its MAP's contact: {CONTACT_SETTING}"
        )
    return c.MapContact(
        region=home.region,
        city=home.city,
        contact_set=contact_set,
        name=home.map_name,
        email=home.map_email,
        url=home.map_url,
        phone=home.map_phone,
        source=source,
    )
