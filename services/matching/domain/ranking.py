"""How well a cooperation profile suits a seeker, and why. The text relevance comes from BM25
(computed by the index); this module weighs it with the other criteria and explains the result.
No I/O."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

# Which profile types answer which: an offer meets a request, and a research request is met by a
# technology offer.
COMPLEMENTS: dict[str, set[str]] = {
    "technology_offer": {"technology_request", "rd_request"},
    "technology_request": {"technology_offer"},
    "business_offer": {"business_request"},
    "business_request": {"business_offer"},
    "rd_request": {"technology_offer"},
}

WEIGHTS = {
    "text": 0.40,
    "type": 0.20,
    "nace": 0.15,
    "country": 0.10,
    "cluster": 0.07,
    "region": 0.08,
}

# NACE Rev. 2 sections by division number.
_SECTIONS = [
    ("A", 1, 3), ("B", 5, 9), ("C", 10, 33), ("D", 35, 35), ("E", 36, 39), ("F", 41, 43),
    ("G", 45, 47), ("H", 49, 53), ("I", 55, 56), ("J", 58, 63), ("K", 64, 66), ("L", 68, 68),
    ("M", 69, 75), ("N", 77, 82), ("O", 84, 84), ("P", 85, 85), ("Q", 86, 88), ("R", 90, 93),
    ("S", 94, 96), ("T", 97, 98), ("U", 99, 99),
]  # fmt: skip

# English function words; bm25s ships a similar list, but the domain keeps its own few words.
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "if", "in", "into",
        "is", "it", "no", "not", "of", "on", "or", "our", "such", "that", "the", "their", "then",
        "there", "these", "they", "this", "to", "was", "we", "will", "with", "you", "your",
    }
)  # fmt: skip


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[\w-]+", text.lower()) if len(w) > 1 and w not in STOPWORDS]


@functools.cache  # NACE codes are few; asked for each candidate of every search
def section(code: str) -> str:
    if code[:1].isalpha():
        return code[:1]
    division = int(code[:2])
    return next((s for s, lo, hi in _SECTIONS if lo <= division <= hi), "?")


def nace_proximity(mine: list[str], theirs: list[str]) -> tuple[float, str | None]:
    """Same class > group > division > section, over the closest pair of codes."""
    best, why = 0.0, None
    for a in mine:
        for b in theirs:
            score, reason = _closeness(a, b)
            if score > best:
                best, why = score, reason
    return best, why


@functools.lru_cache(maxsize=1 << 16)  # a pair of codes is met in many candidates and searches
def _closeness(a: str, b: str) -> tuple[float, str | None]:
    if a == b and len(a) == 5:
        return 1.0, f"same NACE class {a}"
    if len(a) >= 4 and len(b) >= 4 and a[:4] == b[:4]:
        return 0.75, f"same NACE group {a[:4]}"
    if a[:2] == b[:2] and a[:1].isdigit():
        return 0.5, f"same NACE division {a[:2]}"
    if section(a) == section(b):
        return 0.25, f"same NACE section {section(a)}"
    return 0.0, None


@dataclass
class Seeker:
    sme_key: str
    region: str
    country: str
    nace_codes: list[str]
    clusters: list[str]
    wanted_types: set[str]  # empty: any type
    target_countries: list[str] = field(default_factory=list)
    text: str = ""
    share_with_network: bool = True


def visible(profile: dict[str, Any], seeker: Seeker, today: date) -> bool:
    """Only what the seeker may see: published, unexpired, not private, and beyond the home
    region only with the SME's consent to share with the network."""
    p, sme = profile["profile"], profile["sme"]
    if profile["sme_key"] == seeker.sme_key or p.get("status") != "published":
        return False
    if p.get("visibility") == "private" or date.fromisoformat(p["expires_on"]) < today:
        return False
    return sme["region"] == seeker.region or bool(sme.get("share_with_network"))


def score(
    profile: dict[str, Any],
    seeker: Seeker,
    text_score: float,
    matched_terms: list[str],
    *,
    explain: bool = True,
) -> tuple[float, list[str]]:
    """Weighted score in [0, 1] and the reasons that made it (none unless ``explain``: a search
    weighs hundreds of candidates and explains only the page it answers)."""
    p, sme = profile["profile"], profile["sme"]
    reasons: list[str] = []
    total = WEIGHTS["text"] * text_score
    if matched_terms and explain:
        reasons.append("terms: " + ", ".join(matched_terms[:8]))
    if not seeker.wanted_types or p["type"] in seeker.wanted_types:
        total += WEIGHTS["type"]
        if seeker.wanted_types and explain:
            reasons.append(f"complementary type: {p['type']}")
    nace, why = nace_proximity(seeker.nace_codes, p.get("nace_codes") or sme.get("nace_codes", []))
    total += WEIGHTS["nace"] * nace
    if why and explain:
        reasons.append(why)
    if seeker.country in (p.get("target_countries") or ()):
        total += WEIGHTS["country"] * 0.5
        if explain:
            reasons.append(f"targets {seeker.country}")
    if sme["country"] in seeker.target_countries:
        total += WEIGHTS["country"] * 0.5
        if explain:
            reasons.append(f"in target country {sme['country']}")
    shared = set(seeker.clusters).intersection(sme.get("clusters", ()))
    if shared:
        total += WEIGHTS["cluster"]
        if explain:
            reasons.append("cluster " + ", ".join(sorted(shared)))
    if sme["region"] != seeker.region:
        total += WEIGHTS["region"]
        if explain:
            reasons.append(f"another region: {sme['region']}")
    return round(total, 4), reasons


def seeker_from(sme: dict[str, Any], own: list[dict[str, Any]]) -> Seeker:
    """A seeker described by its own profiles (all of them, or the one it searches for); an SME
    without profiles is described by its keywords and description, and takes any type."""
    text = [f"{p['title']} {p['summary']} {' '.join(p.get('keywords', []))}" for p in own]
    return Seeker(
        sme_key=f"{sme['region']}:{sme['sme_id']}",
        region=sme["region"],
        country=sme["country"],
        nace_codes=sorted({code for p in own for code in p.get("nace_codes", [])})
        or sme.get("nace_codes", []),
        clusters=sme.get("clusters", []),
        wanted_types={t for p in own for t in COMPLEMENTS[p["type"]]},
        target_countries=sorted({t for p in own for t in p.get("target_countries", [])}),
        text=" ".join(text or [" ".join(sme.get("keywords", [])), sme.get("description", "")]),
        share_with_network=bool(sme.get("share_with_network", True)),
    )
