"""What the registry's free-text search finds an SME by: every beginning of each word of its
name, keywords and clusters ("phot" finds Photon Forge), and each whole word of its description.
Stored with the SME as one list, so that a search is an equality on an indexed field rather
than a pattern run over every record. No I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"\w+")
LONGEST = 20  # longer words are found by their first 20 letters
MAX_DESCRIPTION_WORDS = 400


def words(text: str) -> list[str]:
    return [w[:LONGEST] for w in _WORD.findall(text.casefold())]


def search_terms(
    legal_name: str, keywords: Iterable[str], clusters: Iterable[str], description: str
) -> list[str]:
    named = {
        w[:k]
        for part in (legal_name, *keywords, *clusters)
        for w in words(part)
        for k in range(1, len(w) + 1)
    }
    described = list(dict.fromkeys(words(description)))[:MAX_DESCRIPTION_WORDS]
    return sorted(named | set(described))


def query_terms(text: str) -> list[str]:
    """The terms a search text asks for, longest (so likely rarest) first: all must be found."""
    return sorted(dict.fromkeys(words(text)), key=len, reverse=True)
