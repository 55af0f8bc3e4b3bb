"""Dates, times and numbers as the pages' language writes them (issue 31 item 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.portal.entrypoints.formats import FORMS, Formats

SATURDAY = datetime(2026, 12, 5, 16, 5, tzinfo=UTC)


def test_english_is_written_as_in_europe_day_first_on_a_24_hour_clock() -> None:
    english = Formats("en")
    assert english.when(date(2026, 12, 5), "%d %B %Y") == "5 December 2026"
    assert english.when(SATURDAY, "%d %b %Y %H:%M") == "5 Dec 2026, 16:05"
    assert english.local(SATURDAY, "Europe/Tallinn", "%H:%M") == "18:05"  # the event's clock
    assert english.number(12345.5) == "12,345.5"


def test_other_languages_write_their_own_order_names_and_separators() -> None:
    finnish, german = Formats("fi"), Formats("de")
    assert finnish.when(date(2026, 12, 5), "%d %B %Y") == "5. joulukuuta 2026"
    assert finnish.when(SATURDAY, "%H:%M") == "16.05"
    assert german.when(SATURDAY, "%a %d %b") == "Sa., 5. Dez."
    assert finnish.number(12345) == "12\xa0345"
    assert german.number(12345.5) == "12.345,5"


def test_every_form_is_written_in_every_language_and_an_unknown_one_is_refused() -> None:
    for language in ("en", "et", "fi", "lv", "lt", "pl", "de", "da", "sv", "nb", "ru"):
        formats = Formats(language)
        for form in FORMS:
            assert formats.when(SATURDAY, form), (language, form)
    assert Formats("en").when(None, "%d %B %Y") == ""
    with pytest.raises(ValueError, match="FORMS"):
        Formats("en").when(SATURDAY, "%Y/%m/%d")
    assert Formats("xx-nowhere").locale.language == "en"  # an unknown language: English


def test_the_country_filter_offers_only_countries_the_services_take() -> None:
    from pydantic import TypeAdapter

    from contracts.common import CountryCode
    from services.portal.entrypoints.i18n import country_names

    names = country_names("en")
    for code in names:
        TypeAdapter(CountryCode).validate_python(code)  # refused: the page would say 422
    assert "EU" not in names and "UN" not in names and names["EE"] == "Estonia"
    assert len(names) > 240
