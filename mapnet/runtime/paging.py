"""Keyset pagination shared by the services' list queries: a page is sorted by one field and the
record id, and its cursor holds the last (value, id) so the next page starts right after it,
whatever was added or removed in between."""

from __future__ import annotations

import base64
import json
from typing import Any

from contracts.errors import Refused
from mapnet.runtime.mongo import Collection


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    """The (value, id) a cursor holds. Its value goes into a query: only a plain value of a
    sort field comes out, never an object (``{"$ne": null}`` would be run as an operator,
    ``{"$regex": …}`` as a pattern the database may spend seconds on)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, RecursionError) as exc:
        raise _bad_cursor("not a cursor of this service") from exc
    if not isinstance(values, list) or len(values) != 2:
        raise _bad_cursor("not a (value, id) pair")
    value, ident = values
    if isinstance(value, bool) or not isinstance(value, str | int | float | None):
        raise _bad_cursor("its value is not a plain value of a sort field")
    if not isinstance(ident, str):
        raise _bad_cursor("its id is not a record id")
    return values


def _bad_cursor(reason: str) -> Refused:
    return Refused(
        "invalid_cursor",
        "the cursor is not one this service gave out",
        fields=[{"field": "data.cursor", "message": reason, "type": "cursor"}],
    )


async def keyset_page(
    collection: Collection,
    clauses: list[dict[str, Any]],
    sort: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the documents matching all clauses, sorted by ``sort`` (``-field`` for
    descending) then id, and the cursor of the next page if there is one."""
    field = sort.lstrip("-")
    direction = -1 if sort.startswith("-") else 1
    clauses = list(clauses)
    if cursor:
        last_value, last_id = decode_cursor(cursor)
        op = "$lt" if direction < 0 else "$gt"
        clauses.append(
            {"$or": [{field: {op: last_value}}, {field: last_value, "_id": {op: last_id}}]}
        )
    query = {"$and": clauses} if clauses else {}
    docs = (
        await collection.find(query)
        .sort([(field, direction), ("_id", direction)])
        .limit(limit + 1)
        .to_list(limit + 1)
    )
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = encode_cursor([docs[-1][field], docs[-1]["_id"]]) if more and docs else None
    return docs, next_cursor
