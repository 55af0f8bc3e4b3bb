"""Dates, times and numbers as the pages' language writes them (CLDR, through Babel): the
order of day and month, the names of months and weekdays, the clock, the separators of
numbers. The templates name a form the way strftime would ("%d %B %Y"); each is written as the
language's own pattern for the same fields (CLDR's skeletons), so "5 December 2026" in English,
"5. joulukuuta 2026" in Finnish. English is written as in Europe (en_150: a 24-hour clock, day
before month), not as in the United States."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from babel.numbers import format_decimal

# A template's strftime form → (CLDR skeleton of its date part or None, whether it has the
# time of day, a fixed ending). Forms not listed are refused where the page is built.
FORMS: dict[str, tuple[str | None, bool, str]] = {
    "%d %B %Y": ("yMMMMd", False, ""),
    "%d %b %Y": ("yMMMd", False, ""),
    "%d %B %Y %H:%M": ("yMMMMd", True, ""),
    "%d %b %Y %H:%M": ("yMMMd", True, ""),
    "%d %b %Y %H:%M UTC": ("yMMMd", True, " UTC"),
    "%H:%M": (None, True, ""),
    "%a %H:%M": ("E", True, ""),
    "%a %d %b %H:%M": ("MMMEd", True, ""),
    "%a %d %b %Y %H:%M": ("yMMMEd", True, ""),
    "%a %d %b %Y": ("yMMMEd", False, ""),
    "%a %d %b": ("MMMEd", False, ""),
    "%A %d %B": ("MMMMEEEEd", False, ""),
}


def format_locale(language: str) -> Locale:
    """The conventions of the pages' language; English as written in Europe."""
    try:
        return Locale.parse("en_150" if language == "en" else language)
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en_150")


class Formats:
    def __init__(self, language: str) -> None:
        self.locale = format_locale(language)
        # How the language joins a date and a time ("{1}, {0}": date, then time).
        self.joined = str(self.locale.datetime_formats["medium"])

    def when(self, value: date | datetime | None, form: str, zone: str | None = None) -> str:
        """``value`` written in ``form`` (a strftime form of FORMS); an instant in ``zone``'s
        wall time if given, else as it is."""
        if value is None:
            return ""
        if form not in FORMS:
            raise ValueError(f"no written form for {form!r}: add it to FORMS")
        if isinstance(value, datetime):
            moment = value.astimezone(ZoneInfo(zone)) if zone else value
        else:
            moment = datetime(value.year, value.month, value.day)
        day, with_time, ending = FORMS[form]
        parts = []
        if day is not None:
            parts.append(format_skeleton(day, moment, locale=self.locale))
        if with_time:
            parts.append(format_skeleton("Hm", moment, locale=self.locale))
        text = self.joined.format(parts[1], parts[0]) if len(parts) == 2 else parts[0]
        return text + ending

    def local(self, instant: datetime, zone: str, form: str = "%a %d %b %H:%M") -> str:
        """An instant as the wall time of a place (an event's zone)."""
        return self.when(instant, form, zone)

    def number(self, value: int | float | None) -> str:
        return "" if value is None else str(format_decimal(value, locale=self.locale))
