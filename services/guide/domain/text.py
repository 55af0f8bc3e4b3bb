"""Words of the guide's texts for its search, and the snippet shown with a hit. Pure: no I/O.

The guide is written in several languages: words are Unicode letters and digits, lowercased,
not stemmed (a stemmer is one language's)."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 220


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 or w.isdigit()]


def snippet(text: str, terms: set[str], size: int = SNIPPET_CHARS) -> str:
    """About ``size`` characters of ``text`` around the first of ``terms`` found in it (the
    start of the text if none is), cut at word boundaries and marked … where cut."""
    if len(text) <= size:
        return text
    start = 0
    for match in _WORD.finditer(text):
        if match.group().lower() in terms:
            start = max(0, match.start() - size // 4)
            break
    end = min(len(text), start + size)
    start = max(0, end - size) if end == len(text) else start
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + size // 2 else end
    return ("…" if start > 0 else "") + text[start:end].strip() + ("…" if end < len(text) else "")
