"""Keyset pagination shared by the services' list queries: a page is sorted by one field and the
record id, and its cursor holds the last (value, id) so the next page starts right after it,
whatever was added or removed in between."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from contracts.errors import Refused
from mapnet.runtime.mongo import Collection, flat


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
    *,
    keep: Callable[[dict[str, Any]], bool] | None = None,
    projection: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the documents matching all clauses (and ``keep``, a test in Python of what
    no index answers), sorted by ``sort`` (``-field`` for descending) then id, and the cursor
    of the next page if there is one."""
    field = sort.lstrip("-")
    direction = -1 if sort.startswith("-") else 1
    order = [(field, direction), ("_id", direction)]
    after: tuple[Any, str] | None = None
    if cursor:
        last_value, last_id = decode_cursor(cursor)
        after = (last_value, last_id)
    docs: list[dict[str, Any]] = []
    # Rows are read in chunks from where the last one ended (a flat range from its value, see
    # mongo.py; the rows up to it skipped here), each chunk larger, until the page is full:
    # ``keep`` may leave rows out, and a limit lets the database stop early.
    chunk = limit + 1
    while True:
        since = [{field: {"$lte" if direction < 0 else "$gte": after[0]}}] if after else []
        found = collection.find(flat([*clauses, *since]), projection).sort(order).limit(chunk)
        rows = await found.to_list(chunk)
        for doc in rows:
            if after is not None and not _beyond(doc, field, after, direction):
                continue
            if keep is None or keep(doc):
                docs.append(doc)
                if len(docs) > limit:
                    break
        if len(docs) > limit or len(rows) < chunk:
            break
        # The next chunk starts after the last row read, unless that row is still before the
        # cursor (ties on its value longer than the chunk): then after the cursor again.
        if after is None or _beyond(rows[-1], field, after, direction):
            after = (rows[-1].get(field), rows[-1]["_id"])
        chunk *= 4  # ties on one value longer than a chunk are passed by a larger one
    more = len(docs) > limit
    docs = docs[:limit]
    next_cursor = encode_cursor([docs[-1][field], docs[-1]["_id"]]) if more and docs else None
    return docs, next_cursor


def _beyond(doc: dict[str, Any], field: str, after: tuple[Any, str], direction: int) -> bool:
    """Whether a row comes after the cursor's (value, id) in the page's order."""
    try:
        key = (doc.get(field), doc["_id"])
        return key > after if direction > 0 else key < after
    except TypeError:  # a value of another type than the cursor's: the database placed it
        return True
