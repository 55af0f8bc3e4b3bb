"""The portal's words in one message catalogue (Babel): every text of the pages and every
message the portal writes itself is looked up in it, so a region translates the portal by
adding ``locale/<language>/LC_MESSAGES/messages.po`` and setting MAPNET_PORTAL_LANGUAGE.
English, the language the texts are written in, needs no catalogue. ``make messages``
extracts the texts into ``locale/messages.pot`` (a test checks it is up to date)."""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader
from pydantic import TypeAdapter, ValidationError

from contracts.common import CountryCode

LOCALE = Path(__file__).resolve().parent.parent / "locale"
_current: gettext.NullTranslations = gettext.NullTranslations()


def translations(language: str, directory: Path = LOCALE) -> gettext.NullTranslations:
    """The catalogue of a language, read from its .po file (kept as text in the repository,
    compiled here); English, or a language without a catalogue, as written."""
    po = directory / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def written_in(language: str, directory: Path = LOCALE) -> str:
    """The language the pages are then written in: the one asked for if it has a catalogue
    (or is English), else English, so that the texts, their dates and numbers and the page's
    ``lang`` are one language."""
    po = directory / language / "LC_MESSAGES" / "messages.po"
    return language if language == "en" or po.exists() else "en"


def use(catalogue: gettext.NullTranslations) -> None:
    global _current
    _current = catalogue


def tr(message: str, **values: object) -> str:
    """A message the portal writes, in the portal's language (``%(name)s`` for values)."""
    translated = _current.gettext(message)
    return translated % values if values else translated


def environment(templates: Path, catalogue: gettext.NullTranslations) -> Environment:
    """The pages' Jinja environment, its texts looked up in the catalogue."""
    env = Environment(loader=FileSystemLoader(templates), autoescape=True, auto_reload=False,
                      extensions=["jinja2.ext.i18n"])  # fmt: skip
    env.policies["ext.i18n.trimmed"] = True  # a text's line breaks are not part of it
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    env.filters["translated"] = catalogue.gettext  # a message made elsewhere, translated
    return env


def country_names(language: str) -> dict[str, str]:
    """Countries' names in the pages' language (CLDR, through Babel), by ISO 3166 code."""
    try:
        locale = Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        locale = Locale.parse("en")
    territories = locale.territories.items()
    # Countries as the services take them (contracts' CountryCode): CLDR's territories also
    # hold two-letter groups (EU, UN, "Unknown Region"), which a filter must not offer.
    return {code: name for code, name in territories if _a_country(code)}


_COUNTRY = TypeAdapter(CountryCode)


def _a_country(code: str) -> bool:
    if not re.fullmatch("[A-Z]{2}", code):
        return False
    try:
        _COUNTRY.validate_python(code)
    except ValidationError:
        return False
    return True
