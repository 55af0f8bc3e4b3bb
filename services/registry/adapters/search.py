"""`search_smes` over the SME collection: filters, free text, sort and cursor pagination."""

from __future__ import annotations

import re
from typing import Any

from contracts import registry as c
from contracts.errors import Refused
from mapnet.runtime.mongo import Collection
from mapnet.runtime.paging import keyset_page


def _filter(q: c.SearchSmes) -> list[dict[str, Any]]:
    clauses: list[dict[str, Any]] = [{"erased": {"$ne": True}}]
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
    clauses += [{"keywords": keyword} for keyword in q.keywords]
    if q.text:
        pattern = re.escape(q.text.strip())
        clauses.append(
            {
                "$or": [
                    {"legal_name": {"$regex": pattern, "$options": "i"}},
                    {"description": {"$regex": pattern, "$options": "i"}},
                ]
            }
        )
    return clauses


async def search(smes: Collection, q: c.SearchSmes) -> c.SmePage:
    docs, cursor = await keyset_page(smes, _filter(q), q.sort, q.limit, q.cursor)
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
