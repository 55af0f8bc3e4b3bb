"""MongoDB access, and the one place where MAPnet works around what nx-27017 does differently.

This is also the one module that names the driver. MAPnet uses motor, whose maintainers have
deprecated it in favour of PyMongo's own async client (``pymongo.AsyncMongoClient``); everything
else, the runtime and the services' adapters, imports the ``Client``, ``Database`` and
``Collection`` types from here, so the move later changes this file (import-linter checks that
no other module imports motor).

MAPnet stays within what both MongoDB and nx-27017 (the embedded MongoDB wire-protocol server
on SQLite) support. Measured differences with nx-27017 0.8.1, and how MAPnet avoids them:

- ``$push`` onto an array of sub-documents stores the existing elements as JSON strings, and
  ``$pull`` then removes the wrong elements. The outbox is therefore a sub-document keyed by
  event id (``$set``/``$unset`` per key) with a pending counter, never an array that is pushed to.
  Arrays are always written whole with ``$set``.
- ``{"arr": {"$ne": []}}`` matches empty arrays, ``"arr.0": {"$exists": ...}`` and ``$not`` are
  not implemented, and ``$regex`` does not match array elements: queries here use plain
  equality, ``$in``, ``$elemMatch`` with equality, and counters.
- ``Decimal128`` cannot be stored: money and other decimals are stored as strings.
- Datetimes come back naive unless the client asks for ``tz_aware=True`` (as MongoDB does).
- ``replace_one(filter, doc, upsert=True)`` inserts with a new ObjectId instead of the filter's
  ``_id`` (so do ``ReplaceOne`` in ``bulk_write`` and ``find_one_and_replace``); an update with
  operators (``$set``, ``$inc``, ``$setOnInsert``) stores it. Replacement documents always carry
  their ``_id`` (harmless on MongoDB): ``replace_by_id`` does so (tests/test_mongo_upserts.py).
- Strings that look like ISO timestamps compare to the second: ``"…:08.77Z" < "…:08.97Z"`` is
  false. Where MAPnet compares such strings (notify's leases and retry times) a second late is
  harmless; tests wait a second more than they would on MongoDB.
- Only ``_id`` and plain equality on an indexed field are answered from an index; ``$in`` on
  a field, a range next to the equality, and ``find_one_and_update`` with anything but ``_id``
  read every document (20 to 40 ms per 10,000 documents). Queries that run often read
  candidates by ``_id`` or by equality and take them one by one by ``_id`` (notify's claim).
- ``{"flag": {"$ne": True}}`` beside a range on an indexed field drops the documents that lack
  ``flag`` (alone it matches them, as on MongoDB). The registry's incremental read of changed
  SMEs for its indicators therefore filters on ``updated_at`` alone (tombstones have none).
- A float written by ``$set`` is kept to 15 significant digits (one inserted, whole): an
  equality on a time stamp from ``time.time()`` then misses. Compare-and-set goes on a token
  (the reply cache's claim holder, mapnet/runtime/requests.py), never on a float.
- A dotted projection (``{"data.email": 1}``) comes back as a flat key ``"data.email"``, not
  nested as on MongoDB: projections name top-level fields only.
- With an index on an array field, ``find`` by equality with one element finds nothing
  (``count_documents`` still counts it). Array fields (clusters, NACE levels, the registry's
  search terms) are therefore never indexed.
- ``$and`` (and ``$all``) is evaluated document by document, whatever it holds: a page of a
  10,000-SME registry sorted on an indexed name took 560 ms as ``{"$and": [clause]}`` and 7 ms
  as the same clause alone. ``flat`` merges the clauses of a query into one filter;
  ``paging.keyset_page`` continues after its cursor with a flat range and skips the ties in
  Python, and takes what no index answers (tombstones, further search terms) as a filter in
  Python over the sorted rows.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection, AsyncIOMotorDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.write_concern import WriteConcern

# The driver's types, for every other module to use.
Client: TypeAlias = AsyncIOMotorClient[Any]
Database: TypeAlias = AsyncIOMotorDatabase[Any]
Collection: TypeAlias = AsyncIOMotorCollection[Any]

PENDING_OUTBOX: dict[str, Any] = {"outbox_pending": {"$gt": 0}}


def flat(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    """All clauses as one filter, each field once where that says the same (``{"n": {"$gte":
    1}}`` and ``{"n": {"$lt": 5}}`` become ``{"n": {"$gte": 1, "$lt": 5}}``); only clauses that
    cannot merge go into an ``$and`` (see above why it is avoided)."""
    merged: dict[str, Any] = {}
    apart: list[dict[str, Any]] = []
    for clause in clauses:
        for key, value in clause.items():
            if key not in merged:
                merged[key] = value
            elif (
                _operators(merged[key]) and _operators(value) and not set(merged[key]) & set(value)
            ):
                merged[key] = {**merged[key], **value}
            else:
                apart.append({key: value})
    return merged | ({"$and": apart} if apart else {})


def _operators(value: Any) -> bool:
    return isinstance(value, dict) and all(str(k).startswith("$") for k in value)


# What a write waits for, unless the URL says otherwise. On a replica set, ``majority``: the
# outbox's promise (an event is sent only for state that is stored) holds only if the stored
# state survives the primary's loss, and so does an acknowledged command, a consumer's copy
# (its message is acknowledged after the write, and is not delivered again), a lease, an erasure.
# The wait is bounded: a set without a majority fails the write (the caller sees an error and
# may repeat; every command is idempotent) instead of hanging the service. Retryable writes and
# reads repeat an operation once across a primary's election. On one server (nx-27017, or a
# standalone mongod) ``majority`` is the server itself.
DURABLE: dict[str, Any] = {
    "w": "majority",
    "wTimeoutMS": 10_000,
    "retryWrites": True,
    "retryReads": True,
}


class UnsafeMongoUrl(ValueError):
    """MONGO_URL asks for something MAPnet's guarantees cannot stand."""


def client(url: str, event_listeners: list[Any] | None = None) -> Client:
    """A client of ``url`` (one server, or ``mongodb://a,b,c/?replicaSet=rs0``) with each of
    DURABLE's settings the URL does not set itself (a URL that sets only ``wTimeoutMS`` still
    waits for a majority). Refused: ``w=0``, unacknowledged writes, under which an insert never
    reports a duplicate key, and the claims that keep commands, events and names from being
    handled twice would all pass. Reads go to the primary whatever the URL says:
    a service reads a record to change it, or to answer someone who has just changed it, and a
    secondary may not have that change yet. ``event_listeners``: pymongo's command monitors
    (tests and benchmarks count and read what is sent)."""
    options = {key.lower(): values for key, values in parse_qs(urlsplit(url).query).items()}
    if options.get("w") == ["0"]:
        raise UnsafeMongoUrl(
            "MONGO_URL asks for w=0 (writes nobody acknowledges): MAPnet needs every write "
            "acknowledged (w=majority, its default, or w=1); remove w=0 from the URL"
        )
    given = set(options)
    defaults = {key: value for key, value in DURABLE.items() if key.lower() not in given}
    return AsyncIOMotorClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=3000,
        readPreference="primary",
        event_listeners=event_listeners or [],
        **defaults,
    )


def write_concern(mongo: Client) -> str:
    """The write concern a client's writes carry, for the start-up log line."""
    return str(mongo.write_concern.document or "the server's default")


def best_effort(coll: Collection) -> Collection:
    """``coll`` with writes acknowledged by the primary alone, for records whose loss in a
    failover costs nothing that matters and that are written often (the sign-in throttle's
    counters: a lost count gives back the few attempts made in the seconds before a failover)."""
    return coll.with_options(write_concern=WriteConcern(w=1))


def database(mongo: Client, region: str, service: str) -> Database:
    """Each service of each region owns its own database."""
    return mongo[f"mapnet_{region}_{service}"]


async def put_if_newer(
    coll: Collection,
    record_id: str,
    fields: dict[str, Any],
    *,
    version_field: str,
    version: int,
    guard: dict[str, Any] | None = None,
) -> None:
    """Store a read copy unless the stored one has this version or a later one: an update
    conditional on an older version, else an insert that a duplicate key makes a no-op. Safe
    with concurrent writers, without a conditional upsert."""
    newer = await coll.update_one(
        {"_id": record_id, **(guard or {}), version_field: {"$lt": version}}, {"$set": fields}
    )
    if newer.matched_count == 0:
        with contextlib.suppress(DuplicateKeyError):
            await coll.insert_one({"_id": record_id, **fields})


# The server's code for a write refused by a unique index.
_DUPLICATE_KEY = 11000


async def insert_new(coll: Collection, docs: list[dict[str, Any]]) -> set[int]:
    """Insert each of ``docs`` that is not held already (by its ``_id`` or another unique key),
    in one bulk write: the positions of those that were new. Any refusal but a duplicate key is
    raised, and so is a write the write concern did not see through (``w=majority`` timed out:
    the inserts may yet be rolled back, so none is told as stored)."""
    try:
        await coll.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if exc.details.get("writeConcernErrors") or any(
            err.get("code") != _DUPLICATE_KEY for err in errors
        ):
            raise
        return set(range(len(docs))) - {err["index"] for err in errors}
    return set(range(len(docs)))


async def replace_by_id(coll: Collection, record_id: Any, doc: dict[str, Any]) -> None:
    """Store ``doc`` as the record ``record_id``, there before or not. The replacement carries
    the ``_id``: nx-27017 would insert it under a new ObjectId (see above), where nothing that
    reads by ``record_id`` finds it."""
    await coll.replace_one({"_id": record_id}, {**doc, "_id": record_id}, upsert=True)


def storable(value: Any) -> Any:
    """Make a JSON-mode pydantic dump safe for both servers (decimals as strings)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


async def ping(db: Database, timeout_s: float = 1.0) -> tuple[bool, str]:
    try:
        await db.command("ping", maxTimeMS=int(timeout_s * 1000))
    except Exception as exc:  # any failure means "not reachable" for a health answer
        return False, f"{type(exc).__name__}: {exc}"[:300]
    return True, ""
