"""`search_smes` over the SME collection: filters, free text, sort and cursor pagination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts import registry as c
from contracts.errors import Refused
from mapnet.runtime.mongo import Collection
from mapnet.runtime.paging import keyset_page

from ..domain.terms import query_terms

SUMMARY = {
    "region": 1,
    "legal_name": 1,
    "country": 1,
    "nace_codes": 1,
    "clusters": 1,
    "size_class": 1,
    "growth_class": 1,
    "stage": 1,
    "updated_at": 1,
    "erased": 1,
    "search_terms": 1,
}


def _filter(q: c.SearchSmes) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = []
    simple = {
        "country": q.country,
        "region": q.region,
        "nace_levels": q.nace,
        "clusters": q.cluster,
        "size_class.value": q.size_class,
        "growth_class.value": q.growth_class,
        "stage": q.stage,
    }
    clauses += [{field: value} for field, value in simple.items() if value is not None]
    if q.keywords:
        clauses.append({"keywords": {"$all": q.keywords}})
    if terms := query_terms(q.text or ""):
        clauses.append({"search_terms": terms[0]})  # the longest through the index
    return clauses


def _kept(q: c.SearchSmes) -> Callable[[dict[str, Any]], bool]:
    """Tombstones and the search's further terms are left out in Python (see mongo.py)."""
    more = set(query_terms(q.text or "")[1:])

    def keep(doc: dict[str, Any]) -> bool:
        return not doc.get("erased") and more <= set(doc.get("search_terms") or ())

    return keep


async def search(smes: Collection, q: c.SearchSmes, *, own: str | None = None) -> c.SmePage:
    """``own``: a contact's SME; the contact finds it and the SMEs that share with the network
    (what another region finds), no others."""
    clauses = _filter(q)
    if own is not None:
        clauses.append({"$or": [{"share_with_network": True}, {"_id": own}]})
    docs, cursor = await keyset_page(
        smes, clauses, q.sort, q.limit, q.cursor, keep=_kept(q), projection=SUMMARY
    )
    try:
        items = [
            c.SmeSummary(
                sme_id=d["_id"],
                region=d["region"],
                legal_name=d["legal_name"],
                country=d["country"],
                nace_codes=d.get("nace_codes", []),
                clusters=d.get("clusters", []),
                size_class=d["size_class"]["value"],
                growth_class=d["growth_class"]["value"],
                stage=d["stage"],
            )
            for d in docs
        ]
    except KeyError as exc:  # a record written by a newer version: say so rather than crash
        raise Refused("internal", f"stored SME lacks {exc}") from exc
    return c.SmePage(items=items, next_cursor=cursor)
