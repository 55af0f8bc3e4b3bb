"""The portal's words in one message catalogue (Babel): every text of the pages and every
message the portal writes itself is looked up in it, so a region translates the portal by
adding ``locale/<language>/LC_MESSAGES/messages.po`` (or a directory of its own,
MAPNET_PORTAL_LOCALE_DIR). English, the language the texts are written in, needs no catalogue.
``make messages`` extracts the texts into ``locale/messages.pot`` (a test checks it is up to
date).

Each request is written in one language (``Languages.for_request``): the one the signed-in
person chose, else the browser's best match, else the region's MAPNET_PORTAL_LANGUAGE, else
English. The web app sets it once per request (``speak``) in a context variable, which the
templates' gettext, ``tr`` and the date and number filters read: people in different
languages are served at the same time by one process."""

from __future__ import annotations

import gettext as gettext_module
import io
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, pass_context
from pydantic import TypeAdapter, ValidationError
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from contracts.common import CountryCode
from mapnet.runtime import logs

from .formats import Formats

LOCALE = Path(__file__).resolve().parent.parent / "locale"
# An Accept-Language header is read this far: a browser's is a few dozen characters; a longer
# one is someone else's, and is not worth parsing whole.
ACCEPT_LANGUAGE_READ = 256
# A language's code as its catalogue's directory names it: "de", "pt_BR".
_CODE = re.compile(r"[a-z]{2,3}(_[A-Za-z0-9]{2,8})*")


def translations(language: str, directory: Path = LOCALE) -> gettext_module.NullTranslations:
    """The catalogue of a language, read from its .po file (kept as text in the repository,
    compiled here); English, or a language without a catalogue, as written."""
    po = directory / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not po.exists():
        return gettext_module.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in broken(catalog):
        # A translator's slip must not crash the pages that show it: the message is read in
        # English instead, and the log names it for the catalogue to be mended.
        logs.get(service="portal").warning(
            "catalogue_message_dropped", language=language, msgid=message.id,
            context=message.context, line=message.lineno,
        )  # fmt: skip
        catalog.delete(message.id, context=message.context)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


def broken(catalog: Catalog) -> list[Message]:
    """The messages whose translation would fail where it is filled in (``tr``, the pages'
    ``{% trans %}``): a placeholder the English text does not have, a placeholder of another
    type, a stray ``%`` (Babel's own checks, then each translation filled in as the pages
    would fill it)."""
    found = [message for message, errors in catalog.check() if errors]
    for message in catalog:
        if message.id and message not in found and not _fills_in(message):
            found.append(message)
    return found


def _fills_in(message: Message) -> bool:
    """Whether each translation of the message fills in as its English text does (jinja's
    i18n fills every text in, with or without values; a text that does not fill in itself is
    one only ``tr`` writes without values, and is left as it is)."""
    ids, strings = _texts(message.id), _texts(message.string)
    names = {n for text in ids for n in re.findall(r"%\((\w+)\)", text)}
    values = {name: 1 for name in names}
    try:
        for text in ids:
            _ = text % values
    except (KeyError, ValueError, TypeError):
        return True
    try:
        for text in strings:
            _ = text % values
    except (KeyError, ValueError, TypeError):
        return False
    return True


def _texts(value: object) -> list[str]:
    """A message's texts (one, or its singular and plural forms), those not empty."""
    return [str(text) for text in (value if isinstance(value, (tuple, list)) else [value]) if text]


def written_in(language: str, directory: Path = LOCALE) -> str:
    """The language the pages are then written in: the one asked for if it has a catalogue
    (or is English), else English, so that the texts, their dates and numbers and the page's
    ``lang`` are one language."""
    po = directory / language / "LC_MESSAGES" / "messages.po"
    return language if language == "en" or po.exists() else "en"


@dataclass(frozen=True)
class Language:
    """One language the pages are written in: its catalogue, its ways of writing dates and
    numbers, the countries' names in it; made once per process."""

    code: str  # as its catalogue's directory names it: "de", "pt_BR"
    catalogue: gettext_module.NullTranslations
    formats: Formats
    country_names: dict[str, str]
    country_choices: list[tuple[str, str]]

    @classmethod
    def made(cls, code: str, directory: Path = LOCALE) -> Language:
        names = country_names(code)
        choices = sorted(names.items(), key=lambda item: item[1])
        return cls(code, translations(code, directory), Formats(code), names, choices)

    @property
    def tag(self) -> str:
        """As HTML's ``lang`` names it (BCP 47): "pt-BR"."""
        return self.code.replace("_", "-")

    @property
    def own_name(self) -> str:
        """The language's name in itself ("Deutsch", "suomi"), as a person looks for it."""
        try:
            return Locale.parse(self.code).display_name or self.code
        except (ValueError, UnknownLocaleError):
            return self.code

    def page_values(self) -> dict[str, object]:
        """What the templates read of the language beyond the filters."""
        return {"page_language": self.tag, "country_names": self.country_names,
                "country_choices": self.country_choices}  # fmt: skip


class Languages:
    """The languages the portal has: English and each catalogue of the locale directory,
    compiled once; and the region's own (its MAPNET_PORTAL_LANGUAGE, English if it has no
    catalogue)."""

    def __init__(self, directory: Path = LOCALE, region_language: str = "en") -> None:
        codes = sorted(
            p.parent.parent.name
            for p in directory.glob("*/LC_MESSAGES/messages.po")
            if _CODE.fullmatch(p.parent.parent.name)
        )
        self.by_code = {code: Language.made(code, directory) for code in ["en", *codes]}
        self.region = self.by_code.get(region_language, self.by_code["en"])

    def choices(self) -> list[tuple[str, str]]:
        """(code, the language's name in itself), as a person picks one: English first."""
        return [(code, language.own_name) for code, language in self.by_code.items()]

    def named(self, code: str | None) -> Language | None:
        return self.by_code.get(code) if code else None

    def for_request(self, chosen: str | None, accept_language: str | None) -> Language:
        """The language of a request: the person's choice if the portal has it, else the best
        of the browser's (Accept-Language, by werkzeug's parser: weights, "de-AT" served by
        "de"), else the region's. A header no parser makes sense of is as none."""
        if found := self.named(chosen):
            return found
        if accept_language:
            asked = parse_accept_header(accept_language[:ACCEPT_LANGUAGE_READ], LanguageAccept)
            # "*" (any language) leaves the choice to the region.
            named = LanguageAccept([(value, q) for value, q in asked if value != "*"])
            best = named.best_match(list(self.by_code))
            if best is not None and best in self.by_code:
                return self.by_code[best]
        return self.region


@cache
def english() -> Language:
    return Language.made("en")


_speaking: ContextVar[Language | None] = ContextVar("portal_language", default=None)


def speak(language: Language) -> None:
    """This request (this task and those it starts) is written in this language."""
    _speaking.set(language)


@contextmanager
def speaking(language: Language) -> Iterator[None]:
    """Within the block, written in this language (tests, work outside a request)."""
    token = _speaking.set(language)
    try:
        yield
    finally:
        _speaking.reset(token)


def current() -> Language:
    """The language of the request being served (English outside any)."""
    return _speaking.get() or english()


class CountryNamesNow(Mapping[str, str]):
    """The countries' names in the request's language, for a part made once per process (the
    guide's markets): looked up when read, not when made."""

    def __getitem__(self, code: str) -> str:
        return current().country_names[code]

    def __iter__(self) -> Iterator[str]:
        return iter(current().country_names)

    def __len__(self) -> int:
        return len(current().country_names)


def tr(message: str, **values: object) -> str:
    """A message the portal writes, in the request's language (``%(name)s`` for values)."""
    translated = current().catalogue.gettext(message)
    return translated % values if values else translated


def gettext(message: str) -> str:
    return current().catalogue.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return current().catalogue.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return current().catalogue.pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return current().catalogue.npgettext(context, singular, plural, n)


def when(value: date | datetime | None, form: str, zone: str | None = None) -> str:
    return current().formats.when(value, form, zone)


def local(instant: datetime, zone: str, form: str = "%a %d %b %H:%M") -> str:
    return current().formats.local(instant, zone, form)


def number(value: int | float | None) -> str:
    return current().formats.number(value)


def environment(templates: Path) -> Environment:
    """The pages' Jinja environment: its texts, dates and numbers in the request's language
    (``current``)."""
    env = Environment(loader=FileSystemLoader(templates), autoescape=True, auto_reload=False,
                      extensions=["jinja2.ext.i18n"])  # fmt: skip
    env.policies["ext.i18n.trimmed"] = True  # a text's line breaks are not part of it
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True, pgettext=pgettext, npgettext=npgettext
    )
    env.filters["translated"] = _per_request(gettext)  # a message made elsewhere, translated
    # Dates, times and numbers as the request's language writes them (formats.py).
    env.filters["local"] = _per_request(local)
    env.filters["when"] = _per_request(when)
    env.filters["number"] = _per_request(number)
    return env


def _per_request(written: Callable[..., str]) -> Callable[..., str]:
    """A filter Jinja never works out when it compiles a template (it would for a constant,
    `{{ 1000|number }}`, and keep the first request's language for every later one)."""

    @pass_context
    def filtered(_: object, *values: Any, **options: Any) -> str:
        return written(*values, **options)

    return filtered


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
