"""What `search_smes` answers from: the summary fields and search terms of every SME of the
region, held in memory by each registry process (search.py keeps it current), so that a search
reads no database. nx-27017 answers one request at a time and only ``_id`` and plain equality
from an index: a broad filter sorted by name read and sorted tens of thousands of records there
(a p95 of 1.7 s at 100,000 SMEs).

Each SME has a row number. Every value a filter asks for (a country, a NACE level, a cluster, a
class, a stage, a keyword, a search term) has a Roaring bitmap of the rows that hold it
(pyroaring: compressed, mutable, intersected in microseconds); a search intersects the bitmaps
of its filters with the live rows. Its order comes from a sorted list of (value, id) per sort
field, as the database sorts them (binary string order, then the id): a page walks that list
from the cursor and keeps the rows in the match while the match is large, and sorts the
matching rows themselves while it is small. A change re-links the SME's row: out of its old
bitmaps and sort keys (its key ids are kept with the row, as a compact array), into the new.
An erased SME leaves every structure and is never put back. No I/O."""

from __future__ import annotations

import heapq
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from sys import intern
from typing import Any

from pydantic import ValidationError
from pyroaring import BitMap
from sortedcontainers import SortedList

from contracts import registry as c
from contracts.errors import Refused
from mapnet.runtime import logs
from mapnet.runtime.paging import decode_cursor, encode_cursor

from ..domain.terms import query_terms

log = logs.get(component="sme_index")

# The fields of an SME's record the index reads (top-level only: see mapnet/runtime/mongo.py).
FIELDS = ("region", "legal_name", "country", "nace_codes", "nace_levels", "clusters", "keywords",
          "size_class", "growth_class", "stage", "updated_at", "erased", "search_terms",
          "share_with_network", "version")  # fmt: skip
PROJECTION = dict.fromkeys(FIELDS, 1)
SORTS = ("legal_name", "updated_at")
# A walk of the sort order that has stepped over this many rows past what a uniform spread of
# the match predicts gives up and sorts the match instead (matches bunched at the far end).
_WALK_SLACK = 2_000


@dataclass(slots=True)
class Row:
    """One SME as the search shows and orders it, and the ids of the keys it is filed under."""

    sme_id: str
    version: int
    legal_name: str
    updated_at: str
    shared: bool
    # region, country, NACE codes, clusters, size class, growth class, stage (shared strings)
    shown: tuple[Any, ...]
    keys: array[int]

    def summary(self) -> c.SmeSummary:
        region, country, nace_codes, clusters, size_class, growth_class, stage = self.shown
        return c.SmeSummary(
            sme_id=self.sme_id, region=region, legal_name=self.legal_name, country=country,
            nace_codes=list(nace_codes), clusters=list(clusters), size_class=size_class,
            growth_class=growth_class, stage=stage,
        )  # fmt: skip

    def sort_key(self, field: str) -> tuple[str, str]:
        return (self.legal_name if field == "legal_name" else self.updated_at, self.sme_id)


def _keys(doc: dict[str, Any]) -> Iterator[str]:
    """What the SME is found by: each value of each filter, and each search term."""
    yield f"country\0{doc['country']}"
    yield f"region\0{doc['region']}"
    yield f"size\0{doc['size_class']['value']}"
    yield f"growth\0{doc['growth_class']['value']}"
    yield f"stage\0{doc['stage']}"
    for level in doc.get("nace_levels") or ():
        yield f"nace\0{level}"
    for cluster in doc.get("clusters") or ():
        yield f"cluster\0{cluster}"
    for keyword in doc.get("keywords") or ():
        yield f"keyword\0{keyword}"
    for term in doc.get("search_terms") or ():
        yield f"term\0{term}"


def wanted(q: c.SearchSmes) -> list[str]:
    """The keys an SME must all be filed under to match the search's filters and text."""
    given = {
        "country": q.country,
        "region": q.region,
        "size": q.size_class,
        "growth": q.growth_class,
        "stage": q.stage,
        "nace": q.nace,
        "cluster": q.cluster,
    }
    keys = [f"{name}\0{value}" for name, value in given.items() if value is not None]
    keys += [f"keyword\0{keyword}" for keyword in q.keywords]
    keys += [f"term\0{term}" for term in query_terms(q.text or "")]
    return keys


def _text(value: Any) -> str:
    """A sort value as the record holds it: a string (a stamp of another type as its ISO text,
    so that one odd record cannot make the comparisons fail)."""
    if isinstance(value, str):
        return value
    isoformat = getattr(value, "isoformat", None)
    return isoformat().replace("+00:00", "Z") if isoformat else str(value)


class SmeIndex:
    def __init__(self) -> None:
        self.row_of: dict[str, int] = {}
        self.rows: list[Row | None] = []
        self.alive = BitMap()
        self.shared = BitMap()
        self._key_ids: dict[str, int] = {}
        self._filed: list[BitMap] = []
        self._orders = {field: SortedList() for field in SORTS}
        # Erased SMEs: an older copy read before the erasure never comes back.
        self.gone: set[str] = set()

    def __len__(self) -> int:
        return len(self.alive)

    def version_of(self, sme_id: str) -> int | None:
        row = self.row_of.get(sme_id)
        held = self.rows[row] if row is not None else None
        return held.version if held else None

    # --- changes -----------------------------------------------------------------------------

    def put(self, doc: dict[str, Any]) -> None:
        """An SME's record as stored (or as just written): taken unless the index holds the
        same or a later version of it; a tombstone removes it."""
        sme_id = str(doc["_id"])
        if doc.get("erased"):
            self.remove(sme_id)
            return
        if sme_id in self.gone:
            return
        version = int(doc.get("version") or 0)
        held = self.version_of(sme_id)
        if held is not None and held >= version:
            return
        try:
            keys = [self._key_id(key) for key in _keys(doc)]
            row_data = Row(
                sme_id=sme_id,
                version=version,
                legal_name=_text(doc["legal_name"]),
                updated_at=_text(doc.get("updated_at") or ""),
                shared=bool(doc.get("share_with_network")),
                shown=(
                    intern(doc["region"]),
                    intern(doc["country"]),
                    tuple(intern(code) for code in doc.get("nace_codes") or ()),
                    tuple(intern(cluster) for cluster in doc.get("clusters") or ()),
                    intern(doc["size_class"]["value"]),
                    intern(doc["growth_class"]["value"]),
                    intern(doc["stage"]),
                ),
                keys=array("I", sorted(set(keys))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            # A record this version cannot read (written by a newer one): left out of the
            # search rather than failing every search.
            log.warning("sme_not_indexed", sme_id=sme_id, error=repr(exc))
            return
        row = self.row_of.get(sme_id)
        if row is None:
            row = self.row_of[sme_id] = len(self.rows)
            self.rows.append(None)
        else:
            self._unlink(row)
        self._link(row, row_data)

    def remove(self, sme_id: str) -> None:
        """Erased: out of every structure at once, and never taken again."""
        self.gone.add(sme_id)
        row = self.row_of.pop(sme_id, None)
        if row is not None:
            self._unlink(row)

    def _key_id(self, key: str) -> int:
        found = self._key_ids.get(key)
        if found is None:
            found = self._key_ids[key] = len(self._filed)
            self._filed.append(BitMap())
        return found

    def _link(self, row: int, data: Row) -> None:
        self.rows[row] = data
        for key_id in data.keys:
            self._filed[key_id].add(row)
        self.alive.add(row)
        if data.shared:
            self.shared.add(row)
        for field, order in self._orders.items():
            order.add(data.sort_key(field))

    def _unlink(self, row: int) -> None:
        data = self.rows[row]
        if data is None:
            return
        for key_id in data.keys:
            self._filed[key_id].discard(row)
        self.alive.discard(row)
        self.shared.discard(row)
        for field, order in self._orders.items():
            order.discard(data.sort_key(field))
        self.rows[row] = None

    # --- search ------------------------------------------------------------------------------

    def matching(self, q: c.SearchSmes, own: str | None) -> BitMap:
        """The rows matching every filter and term; with ``own`` (a contact's SME), only that
        one and those shared with the network."""
        filed = []
        for key in wanted(q):
            key_id = self._key_ids.get(key)
            if key_id is None:
                return BitMap()
            filed.append(self._filed[key_id])
        filed.sort(key=len)  # the smallest first: each intersection is at most that large
        found = self.alive
        for rows in filed:
            found = found & rows
        if own is not None:
            visible = BitMap(self.shared)
            if (own_row := self.row_of.get(own)) is not None:
                visible.add(own_row)
            found = found & visible
        return found

    def page(
        self, q: c.SearchSmes, own: str | None = None
    ) -> tuple[list[c.SmeSummary], str | None]:
        """One page of ``q`` in its order after its cursor, and the next page's cursor if
        there is one (the database's keyset cursor: the last row's (value, id))."""
        field = q.sort.lstrip("-")
        descending = q.sort.startswith("-")
        after: tuple[str, str] | None = None
        if q.cursor:
            value, ident = decode_cursor(q.cursor)  # refuses a forged one
            if not isinstance(value, str):
                # The database compares a value only with values of its type: no string of a
                # name or stamp comes after a number or null.
                return [], None
            after = (value, ident)
        found = self.matching(q, own)
        taken = self._walk(found, field, descending, after, q.limit + 1)
        if taken is None:
            taken = self._sorted(found, field, descending, after, q.limit + 1)
        more = len(taken) > q.limit
        rows = taken[: q.limit]
        cursor = encode_cursor(list(rows[-1].sort_key(field))) if more and rows else None
        try:
            return [row.summary() for row in rows], cursor
        except ValidationError as exc:  # a record of a newer version: say so, not crash
            raise Refused("internal", f"stored SME cannot be shown: {exc}") from exc

    def _walk(
        self, found: BitMap, field: str, descending: bool, after: tuple[str, str] | None,
        count: int,
    ) -> list[Row] | None:  # fmt: skip
        """The first ``count`` matching rows by walking the sort order from the cursor, or
        None when the match is too sparse for a walk to be short."""
        total = len(self.alive)
        if not found or len(found) ** 2 < count * total:
            return None
        order = self._orders[field]
        if descending:
            end = order.bisect_left(after) if after else len(order)
            keys: Iterable[tuple[str, str]] = order.islice(0, end, reverse=True)
        else:
            start = order.bisect_right(after) if after else 0
            keys = order.islice(start)
        budget = count * total // len(found) * 4 + _WALK_SLACK
        taken: list[Row] = []
        stepped = 0
        for key in islice(keys, budget):
            stepped += 1
            row = self.row_of[key[1]]
            if row in found:
                data = self.rows[row]
                assert data is not None
                taken.append(data)
                if len(taken) == count:
                    return taken
        # The order ran out (all taken), or the budget did: the match is sorted instead.
        return taken if stepped < budget else None

    def _sorted(
        self, found: BitMap, field: str, descending: bool, after: tuple[str, str] | None,
        count: int,
    ) -> list[Row]:  # fmt: skip
        rows = [data for row in found if (data := self.rows[row]) is not None]
        if after is not None:
            if descending:
                rows = [r for r in rows if r.sort_key(field) < after]
            else:
                rows = [r for r in rows if r.sort_key(field) > after]
        if len(rows) > count * 8:
            pick = heapq.nlargest if descending else heapq.nsmallest
            return pick(count, rows, key=lambda r: r.sort_key(field))
        rows.sort(key=lambda r: r.sort_key(field), reverse=descending)
        return rows[:count]

    # --- size --------------------------------------------------------------------------------

    def memory_bytes(self) -> int:
        """About what the index holds, in bytes: its rows (their strings, summaries and key
        arrays), the keys, the bitmaps (CRoaring's containers) and the sort lists."""
        size = sys.getsizeof
        total = size(self.row_of) + size(self.rows) + size(self._key_ids) + size(self._filed)
        total += sum(size(key) for key in self._key_ids)
        for data in self.rows:
            if data is None:
                continue
            total += size(data) + size(data.sme_id) + size(data.legal_name)
            total += size(data.updated_at) + size(data.keys) + size(data.shown)
            total += size(data.shown[2]) + size(data.shown[3])
        for bitmap in [*self._filed, self.alive, self.shared]:
            stats = bitmap.get_statistics()
            total += 64 + sum(int(v) for k, v in stats.items() if k.startswith("n_bytes_"))  # type: ignore[call-overload]
        for order in self._orders.values():
            total += len(order) * (size(("", "")) + 8) + size(order)
        return total
