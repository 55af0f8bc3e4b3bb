"""The facts card's figures against fixtures written from the published sources they name."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import eu_vat_rates_data
import pytest
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat

from services.guide.adapters.regions import (
    DEFAULT_REGIONS_FILE,
    RegionsFileError,
    load_region_list,
)
from services.guide.domain.facts import (
    COMPANY_MODULES,
    VAT_CORRECTIONS,
    RegionList,
    market_facts,
    twelve_months_on,
)

TODAY = date(2026, 12, 5)
NETWORK = load_region_list(DEFAULT_REGIONS_FILE)
TEN = ("DE", "DK", "FI", "NO", "LV", "RU", "SE", "EE", "LT", "PL")
EU_MARKETS = ("DE", "DK", "FI", "LV", "LT", "PL", "SE", "EE")

# The EU's published table of VAT rates, in per cent: standard, reduced (ascending),
# super-reduced, parking. Written on 2026-12-05 from: European Commission, DG Taxation and
# Customs Union, "VAT rates applied in the Member States of the European Union - Situation at
# 1st January 2025" (taxation-customs.ec.europa.eu, the table of the Taxes in Europe Database,
# TEDB), with the changes in force since that date as the member states' tax authorities
# published them:
# - Estonia: standard rate 22 % -> 24 % from 1 July 2025 (Estonian Tax and Customs Board, emta.ee);
# - Finland: reduced rate 14 % -> 13.5 % from 1 January 2026 (Finnish Tax Administration, vero.fi);
# - Lithuania: reduced rate 9 % replaced by 12 % (and 5 %) from 1 January 2026 (Law No XV-287
#   amending Article 19 of the Law on VAT; State Tax Inspectorate, vmi.lt).
# Sweden's temporary 6 % on food from 1 April 2026 (Skatteverket) uses an existing rate.
EU_TABLE: dict[str, tuple[float, list[float], float | None, float | None]] = {
    "DE": (19.0, [7.0], None, None),
    "DK": (25.0, [], None, None),
    "EE": (24.0, [9.0, 13.0], None, None),
    "FI": (25.5, [10.0, 13.5], None, None),
    "LV": (21.0, [5.0, 12.0], None, None),
    "LT": (21.0, [5.0, 12.0], None, None),
    "PL": (23.0, [5.0, 8.0], None, None),
    "SE": (25.0, [6.0, 12.0], None, None),
}
# Norway is outside the EU: Norwegian Tax Administration (skatteetaten.no), "Merverdiavgift -
# satser": general rate 25 %, foodstuffs 15 %, passenger transport, accommodation, cinema and
# some others 12 %. Read 2026-12-05.
NO_RATES = (25.0, [12.0, 15.0])


@pytest.mark.parametrize("market", EU_MARKETS)
def test_vat_rates_of_the_eu_markets_are_the_eu_table_s(market: str) -> None:
    vat = market_facts(market, TODAY, NETWORK).vat
    assert vat.status == "eu"
    assert (vat.standard, vat.reduced, vat.super_reduced, vat.parking) == EU_TABLE[market]
    assert vat.source.as_of == date.fromisoformat(eu_vat_rates_data.data_version)
    assert "TEDB" in vat.source.note


def test_the_package_disagrees_with_the_eu_table_only_where_the_card_corrects_it() -> None:
    """A release of eu-vat-rates-data that changes a figure of the ten makes this fail: then
    the table above, or VAT_CORRECTIONS, is to be looked at again."""
    disagreeing = set()
    for market, (standard, reduced, super_reduced, parking) in EU_TABLE.items():
        raw = eu_vat_rates_data.get_rate(market)
        assert raw is not None
        figures = (raw["standard"], sorted(raw["reduced"]), raw["super_reduced"], raw["parking"])
        if figures != (standard, reduced, super_reduced, parking):
            disagreeing.add(market)
    assert disagreeing == set(VAT_CORRECTIONS) == {"PL"}
    assert "super-reduced" in market_facts("PL", TODAY, NETWORK).vat.source.note


def test_norway_s_rates_are_the_data_s_outside_the_eu_and_say_so() -> None:
    vat = market_facts("NO", TODAY, NETWORK).vat
    assert vat.status == "outside_eu"
    assert (vat.standard, vat.reduced) == NO_RATES
    assert "outside the EU" in vat.source.note


def test_russia_is_not_in_the_eu_vat_data_and_no_rate_is_made_up() -> None:
    vat = market_facts("RU", TODAY, NETWORK).vat
    assert vat.status == "not_in_data"
    assert (vat.standard, vat.reduced, vat.super_reduced) == (None, [], None)
    assert "not in the EU VAT data" in vat.source.note


# ISO 4217 currencies in use (Estonia has the euro since 2011, Latvia 2014, Lithuania 2015).
CURRENCIES = {"DE": "EUR", "DK": "DKK", "FI": "EUR", "NO": "NOK", "LV": "EUR", "RU": "RUB",
              "SE": "SEK", "EE": "EUR", "LT": "EUR", "PL": "PLN"}  # fmt: skip
# Official languages by each country's constitution or language act (Finland: Finnish and
# Swedish; Norway: Norwegian in its two written standards, Bokmål and Nynorsk).
LANGUAGES = {"DE": {"de"}, "DK": {"da"}, "FI": {"fi", "sv"}, "NO": {"nb", "nn"},
             "LV": {"lv"}, "RU": {"ru"}, "SE": {"sv"}, "EE": {"et"}, "LT": {"lt"},
             "PL": {"pl"}}  # fmt: skip


@pytest.mark.parametrize("market", TEN)
def test_currency_and_official_languages(market: str) -> None:
    card = market_facts(market, TODAY, NETWORK)
    assert card.currency.code == CURRENCIES[market]
    assert LANGUAGES[market] <= set(card.languages.codes)
    assert all(name for name in card.languages.names)
    assert card.currency.source.as_of == TODAY


# National days fixed by law, and Easter 2027 (28 March): Good Friday 26 March, Easter Monday
# 29 March (not a public holiday in Russia, which keeps no Easter holiday).
HOLIDAYS = {
    "DE": {date(2027, 10, 3), date(2027, 3, 26), date(2027, 3, 29), date(2026, 12, 25)},
    "DK": {date(2026, 12, 25), date(2027, 3, 29)},
    "FI": {date(2026, 12, 6), date(2027, 3, 26)},
    "NO": {date(2027, 5, 17), date(2027, 3, 29)},
    "LV": {date(2027, 11, 18), date(2027, 5, 4)},
    "RU": {date(2027, 6, 12), date(2027, 11, 4)},
    "SE": {date(2027, 6, 6), date(2027, 3, 26)},
    "EE": {date(2027, 2, 24), date(2027, 6, 24)},
    "LT": {date(2027, 2, 16), date(2027, 3, 11)},
    "PL": {date(2027, 5, 3), date(2027, 11, 11)},
}


@pytest.mark.parametrize("market", TEN)
def test_public_holidays_of_the_next_twelve_months(market: str) -> None:
    holidays = market_facts(market, TODAY, NETWORK).holidays
    days = [h.day for h in holidays.days]
    assert (holidays.start, holidays.end) == (TODAY, date(2027, 12, 4))
    assert days == sorted(days) and all(TODAY <= d <= holidays.end for d in days)
    assert HOLIDAYS[market] <= set(days)
    assert date(2027, 12, 25) not in days  # beyond twelve months
    assert holidays.source.title.startswith("holidays ")


def test_twelve_months_from_a_leap_day() -> None:
    assert twelve_months_on(date(2028, 2, 29)) == date(2029, 2, 28)
    assert twelve_months_on(date(2026, 1, 1)) == date(2026, 12, 31)


@pytest.mark.parametrize("market", TEN)
def test_company_and_vat_ids_are_checked_by_the_registry_s_modules(market: str) -> None:
    ids = market_facts(market, TODAY, NETWORK).identifiers
    by_kind = {fact.kind: fact for fact in ids}
    checked = {fact.checked_by for fact in ids if fact.kind == "company"}
    if market in COMPANY_MODULES:
        assert f"stdnum.{market.lower()}.{COMPANY_MODULES[market]}" in checked
    for fact in ids:
        if fact.checked_by and fact.example:
            module = get_cc_module(market.lower(), fact.checked_by.rsplit(".", 1)[1])
            assert module is not None
            module.validate(fact.example)
    number = by_kind["tax" if market == "RU" else "vat"]
    assert number.example and number.checked_by
    if market in EU_MARKETS:
        prefix = "" if number.example[:2].isalpha() else market
        eu_vat.validate(prefix + number.example)
        assert "Shape:" in number.description


def test_an_id_without_a_stdnum_check_says_so() -> None:
    lithuania = market_facts("LT", TODAY, NETWORK).identifiers
    company = next(fact for fact in lithuania if fact.kind == "company")
    assert company.checked_by is None and company.example is None
    assert "no check" in company.description
    assert "Register of Legal Entities" in company.issued_by


@pytest.mark.parametrize("market", TEN)
def test_the_map_of_each_market_is_its_home_region_s(market: str) -> None:
    contact = market_facts(market, TODAY, NETWORK).map_contact
    home = {"DE": "berlin", "DK": "copenhagen", "FI": "helsinki", "NO": "oslo", "LV": "riga",
            "RU": "stpetersburg", "SE": "stockholm", "EE": "tallinn", "LT": "vilnius",
            "PL": "warsaw"}  # fmt: skip
    assert contact.region == home[market]
    assert contact.source.title == "the network's list of regions (regions.toml)"


def test_a_map_contact_from_the_regions_file(tmp_path: Path) -> None:
    regions = tmp_path / "regions.toml"
    regions.write_text(
        "[regions]\n"
        'tallinn = { city = "Tallinn", country = "EE", map_name = "MAP Tallinn", '
        'map_email = "map@tallinn.example", map_url = "https://map.tallinn.example", '
        'map_phone = "+372 600 0000" }\n'
        'riga = { city = "Riga", country = "LV" }\n'
    )
    listed = load_region_list(regions)
    contact = market_facts("EE", TODAY, listed).map_contact
    assert contact.contact_set
    assert (contact.region, contact.name, contact.email, contact.url, contact.phone) == (
        "tallinn", "MAP Tallinn", "map@tallinn.example", "https://map.tallinn.example",
        "+372 600 0000",
    )  # fmt: skip
    assert contact.source.note == ""
    nobody = market_facts("FR", TODAY, listed).map_contact
    assert nobody.region is None and "no region of the network is in FR" in nobody.source.note


def test_a_map_contact_not_set_is_said_so_never_made_up(tmp_path: Path) -> None:
    """The real MAPs' contacts are not known here: where a region's operator set none, the
    card names the home region, no name, address, link or number of its own, and says where
    the operator sets them."""
    regions = tmp_path / "regions.toml"
    regions.write_text('[regions]\nriga = { city = "Riga", country = "LV" }\n')
    contact = market_facts("LV", TODAY, load_region_list(regions)).map_contact
    assert (contact.region, contact.city, contact.contact_set) == ("riga", "Riga", False)
    assert (contact.name, contact.email, contact.url, contact.phone) == ("", "", "", "")
    note = contact.source.note
    assert "region riga has not set its MAP's contact" in note
    assert "map_name, map_email, map_url and map_phone" in note and "regions.toml" in note
    # deploy/regions.toml as shipped sets no contact: every market of the network says so.
    for market in TEN:
        shipped = market_facts(market, TODAY, NETWORK).map_contact
        assert not shipped.contact_set and shipped.name == "" and "has not set" in (
            shipped.source.note
        )  # fmt: skip


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('country = "EE", map_url = "javascript:alert(1)"', "map_url"),
        ('country = "EE", map_email = "not an address"', "map_email"),
        ('country = "EE", map_phone = "call us"', "map_phone"),
        ('country = "EE", map_name = "MAP\\nTallinn"', "map_name"),
        ('country = "EE", map_name = 7', "map_name"),
        ('country = "Estonia"', "country"),
        ('country = "XX"', "country"),
    ],
)
def test_a_regions_file_that_is_wrong_is_refused_naming_region_and_key(
    tmp_path: Path, line: str, named: str
) -> None:
    """A careless operator's line: a link the card would show to everyone that is no web
    address, a contact that is not one, a country that is no ISO code (its market would have
    no home: every region would write it). Refused, never shown or dropped silently."""
    regions = tmp_path / "regions.toml"
    regions.write_text(f'[regions]\ntallinn = {{ city = "Tallinn", {line} }}\n')
    with pytest.raises(RegionsFileError, match=f"region tallinn's {named}"):
        load_region_list(regions)


def test_a_regions_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    regions = tmp_path / "regions.toml"
    regions.write_text('[regions]\ntallinn = { city = "Tallinn", country = "EE"\n')
    with pytest.raises(RegionsFileError, match="is not TOML"):
        load_region_list(regions)


def test_without_the_regions_file_the_card_says_so(tmp_path: Path) -> None:
    listed = load_region_list(tmp_path / "absent.toml", today=TODAY)
    card = market_facts("EE", TODAY, listed)
    assert card.map_contact.region is None
    assert "is not on this machine" in card.map_contact.source.note


@pytest.mark.parametrize("market", [*TEN, "FR", "AQ"])
def test_every_fact_names_its_source_and_day(market: str) -> None:
    card = market_facts(market, TODAY, NETWORK)
    sources = [card.currency.source, card.languages.source, card.holidays.source,
               card.vat.source, card.map_contact.source,
               *(fact.source for fact in card.identifiers)]  # fmt: skip
    for source in sources:
        assert source.title and source.as_of <= TODAY


def test_names_in_the_reader_s_language_else_english() -> None:
    swedish = market_facts("FI", TODAY, NETWORK, language="sv")
    assert swedish.languages.names == ["finska", "svenska"]
    assert any(h.name == "Självständighetsdagen" for h in swedish.holidays.days)
    unknown = market_facts("FI", TODAY, NETWORK, language="xx")
    assert unknown.languages.names == ["Finnish", "Swedish"]
    assert any(h.name == "Independence Day" for h in unknown.holidays.days)


def test_a_card_is_the_caller_s_own_copy() -> None:
    first = market_facts("DE", TODAY, NETWORK)
    first.vat.standard = 0
    assert market_facts("DE", TODAY, NETWORK).vat.standard == 19.0


def test_the_region_list_is_hashable_for_the_cache() -> None:
    assert hash(RegionList((), "t", TODAY)) == hash(RegionList((), "t", TODAY))
