"""MongoDB repository of SMEs: one document per SME holding its state and its outbox, written
with optimistic concurrency on the version.

A registration is one insert (a share of one, inserted together with those that arrive beside
it) and a share of one write of the clusters' counts. Its near duplicates (SMEs of the same
country and normalised name) are found without a look-up first: the insert claims the name key
(``name_claim``, a unique index) and a claim already held refuses it, and only then are the
near duplicates looked up and the SME inserted without the claim. The claim's rule: while any
SME holds a name key, one of them holds its claim. An erasure hands the erased SME's claim to
another SME of that name, a renamed SME claims its new name if nobody holds it (a claim it
keeps on its old name costs a later registration of that name one needless look-up, never a
missed duplicate), and the start-up's read of the registry claims what a registry stored
before the claims lacks. Two registrations of one new name at once: the second is refused by
the first's claim and finds it (the look-up first found neither)."""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from pymongo import ASCENDING, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from contracts import registry as c
from contracts.envelope import Envelope
from contracts.errors import Refused, conflict
from mapnet.runtime import outbox
from mapnet.runtime.group_insert import GroupInsert, settle
from mapnet.runtime.mongo import Collection, Database, storable

from ..domain.kpis import Journey
from ..domain.model import Sme, name_key
from ..domain.nace import ancestors
from ..domain.terms import search_terms
from ..service_layer.ports import FirstAnswer, NameTaken, NewSme, Registration
from .sme_index import PROJECTION

if TYPE_CHECKING:
    from .search import SmeSearch

COLLECTION = "smes"
# How many of the region's SMEs are in each cluster: a document per cluster ({_id: its name,
# smes: how many}), so that the filters' list of clusters reads a handful of documents, not
# every SME (nx-27017 indexes no array field, and a scan of 10,000 SMEs is tens of ms).
CLUSTER_COUNTS = "cluster_counts"
# The clusters, name key and name claim of the SMEs last read, by (id, version): what a change
# or erasure takes away without reading the SME again (one read by id when it is not here).
_READ_KEPT = 4096
NAME_CLAIM = "name_claim"
_DUPLICATE_KEY = 11000
# SMEs inserted by one command: nx-27017 serves one command at a time, and the driver's check
# of the server (a ping within 3 s, the client's connect time-out) waits behind whatever is
# queued; 200 SMEs of four batches in flight at once kept it waiting past that on a loaded
# machine, and the driver then cancelled every operation on its way (answered internal).
_INSERTS_PER_WRITE = 50


class Stored(NamedTuple):
    """What a write needs to know of an SME as stored before it."""

    clusters: list[str]
    name_key: str | None
    name_claim: str | None

    @classmethod
    def of(cls, doc: dict[str, Any] | None) -> Stored:
        doc = doc or {}
        return cls(list(doc.get("clusters") or []), doc.get("name_key"), doc.get(NAME_CLAIM))


def identity_keys(sme: Sme) -> dict[str, Any]:
    country = sme.data.country
    vat = sme.data.vat_id
    return {
        "reg_key": f"{country}:{sme.data.registration_number.upper().replace(' ', '')}",
        # None is left out of the unique index (partial filter), so many SMEs may lack a VAT id.
        "vat_key": f"{country}:{vat.upper().replace(' ', '')}" if vat else None,
        "name_key": f"{country}:{name_key(sme.data.legal_name)}",
        "nace_levels": sorted({level for code in sme.data.nace_codes for level in ancestors(code)}),
        "search_terms": search_terms(
            sme.data.legal_name, sme.data.keywords, sme.data.clusters, sme.data.description
        ),
    }


_KEYS = ("reg_key", "vat_key", "name_key", NAME_CLAIM, "nace_levels", "search_terms")
_LATE_WRITE_MARGIN = timedelta(seconds=10)


def _state(sme: Sme) -> dict[str, Any]:
    view = sme.view(sme.updated_at.date()).model_dump(mode="json", exclude={"profiles"})
    view["profiles"] = [p.model_dump(mode="json") for p in sme.profiles]
    return storable({**view, **identity_keys(sme)})


class SmeRepository:
    name = COLLECTION

    def __init__(self, db: Database, search: SmeSearch | None = None) -> None:
        """``search``: the process's search index, told of every write before it returns (so
        that the command's answer comes after the search finds it, here and, through the
        change feed, in the other registry instances)."""
        self.smes = db[COLLECTION]
        self.search = search
        # Registrations that arrive together are inserted together (see group_insert).
        self._inserts = GroupInsert(self.smes)
        # The indicators' view of every SME, kept up to date from the SMEs changed since the
        # last look, so that get_kpis reads what changed, not the whole registry, each time.
        self._journeys: dict[str, Journey] = {}
        self._looked_at: datetime | None = None
        self.cluster_counts = db[CLUSTER_COUNTS]
        # Count changes that arrive together are written together, one $inc per cluster.
        self._counts = _GroupCount(self.cluster_counts)
        self._read: OrderedDict[tuple[str, int], Stored] = OrderedDict()

    async def create_indexes(self) -> None:
        # Partial: tombstones of erased SMEs carry no keys and must not collide with each other.
        await self.smes.create_index(
            [("reg_key", ASCENDING)],
            unique=True,
            name="reg_key",
            partialFilterExpression={"reg_key": {"$type": "string"}},
        )
        await self.smes.create_index(
            [("vat_key", ASCENDING)],
            unique=True,
            name="vat_key",
            partialFilterExpression={"vat_key": {"$type": "string"}},
        )
        await self.smes.create_index([("name_key", ASCENDING)], name="name_key")
        await self.smes.create_index(
            [(NAME_CLAIM, ASCENDING)],
            unique=True,
            name=NAME_CLAIM,
            partialFilterExpression={NAME_CLAIM: {"$type": "string"}},
        )
        await self.smes.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
        await self.smes.create_index([("updated_at", ASCENDING)], name="updated_at")
        await self.smes.create_index([("legal_name", ASCENDING)], name="legal_name")
        # No index on search_terms: nx-27017 then finds nothing by it (see mapnet/runtime/mongo).
        await self._add_search_terms()
        await self.count_clusters()

    async def count_clusters(self) -> None:
        """The clusters' counts made again from every SME, at start (one read of the registry):
        a registry stored before the counts were kept gets them, and a count a crash left
        behind (between an SME's write and its count's) is right again. A change another
        copy of the registry makes while this one counts may be counted twice or not at all
        until the next start: the list offers a cluster a little off in its count meanwhile.
        The same read claims each name key no SME claims yet (see above)."""
        counted: Counter[str] = Counter()
        claimed: set[str] = set()
        unclaimed: dict[str, str] = {}
        seen = {"clusters": 1, "name_key": 1, NAME_CLAIM: 1}
        async for doc in self.smes.find({"erased": {"$ne": True}}, seen):
            counted.update(set(doc.get("clusters") or []))
            if doc.get(NAME_CLAIM):
                claimed.add(doc[NAME_CLAIM])
            elif doc.get("name_key"):
                unclaimed.setdefault(doc["name_key"], doc["_id"])
        for key, sme_id in unclaimed.items():
            if key not in claimed:
                await self._claim(sme_id, key)
        kept = {doc["_id"] async for doc in self.cluster_counts.find({}, {"_id": 1})}
        for name in kept | set(counted):
            await self.cluster_counts.update_one(
                {"_id": name}, {"$set": {"smes": counted.get(name, 0)}}, upsert=True
            )

    async def clusters(self) -> dict[str, int]:
        """Each cluster with how many of the region's SMEs are in it (none: not listed)."""
        found = self.cluster_counts.find({})
        return {doc["_id"]: doc["smes"] async for doc in found if doc.get("smes", 0) > 0}

    async def _count(self, before: Iterable[str], after: Iterable[str]) -> None:
        """The counts moved from an SME's clusters before a write to those after it."""
        moved = Counter(set(after))
        moved.subtract(set(before))
        await self._counts.add(moved)

    def _remember(self, doc: dict[str, Any]) -> None:
        self._read[(doc["_id"], int(doc.get("version", 0)))] = Stored.of(doc)
        while len(self._read) > _READ_KEPT:
            self._read.popitem(last=False)

    async def _stored_at(self, sme_id: str, version: int | None) -> Stored:
        """The SME's clusters and name as stored at this version (None: as stored now)."""
        if version is not None and (kept := self._read.pop((sme_id, version), None)) is not None:
            return kept
        doc = await self.smes.find_one(
            {"_id": sme_id}, {"clusters": 1, "name_key": 1, NAME_CLAIM: 1}
        )
        return Stored.of(doc)

    async def _claim(self, sme_id: str, key: str) -> bool:
        """The SME claims the name key, unless another holds the claim (False then)."""
        try:
            done = await self.smes.update_one(
                {"_id": sme_id, "name_key": key}, {"$set": {NAME_CLAIM: key}}
            )
        except DuplicateKeyError:
            return False
        return bool(done.matched_count)

    async def _hand_on(self, key: str) -> None:
        """The claim of a name key its holder no longer holds goes to another SME of that name,
        if there is one (by equality on an indexed field: one read)."""
        async for doc in self.smes.find({"name_key": key}, {"_id": 1}).limit(1):
            await self._claim(doc["_id"], key)

    async def _add_search_terms(self) -> None:
        """SMEs stored before the search had its terms get them (once, at start)."""
        older = self.smes.find(
            {"search_terms": {"$exists": False}, "legal_name": {"$exists": True}},
            {"legal_name": 1, "keywords": 1, "clusters": 1, "description": 1},
        )
        added: list[str] = []
        async for doc in older:
            terms = search_terms(
                doc["legal_name"],
                doc.get("keywords") or [],
                doc.get("clusters") or [],
                doc.get("description") or "",
            )
            await self.smes.update_one({"_id": doc["_id"]}, {"$set": {"search_terms": terms}})
            added.append(doc["_id"])
        if self.search is not None:
            await self.search.changed(added)

    async def get(self, sme_id: str) -> Sme | None:
        doc = await self.smes.find_one({"_id": sme_id, "erased": {"$ne": True}})
        if doc is None:
            return None
        self._remember(doc)
        return Sme.from_view(c.SmeView.model_validate(_strip(doc)))

    async def all(self) -> list[Sme]:
        return [
            Sme.from_view(c.SmeView.model_validate(_strip(doc)))
            async for doc in self.smes.find({"erased": {"$ne": True}})
        ]

    async def in_review(self) -> list[Sme]:
        """The SMEs with a profile waiting for review. (Erased ones filtered here, not beside
        the array match: see journeys.)"""
        return [
            Sme.from_view(c.SmeView.model_validate(_strip(doc)))
            async for doc in self.smes.find({"profiles.status": "in_review"})
            if not doc.get("erased")
        ]

    async def journeys(self) -> list[Journey]:
        # Tombstones carry no updated_at. (Not {"erased": {"$ne": True}} beside the range:
        # nx-27017 then drops documents that lack the field; see mapnet/runtime/mongo.py.)
        changed: dict[str, Any] = {"updated_at": {"$exists": True}}
        if self._looked_at is not None:
            # A handler stamps updated_at before its write lands: a margin keeps one that
            # lands after this look, stamped before it, from being missed.
            since = self._looked_at - _LATE_WRITE_MARGIN
            changed = {"updated_at": {"$gte": since.isoformat().replace("+00:00", "Z")}}
        looked_at = datetime.now(UTC)
        async for doc in self.smes.find(changed, {"clusters": 1, "stage_history": 1}):
            reached = [(step["to_stage"], _aware(step["at"])) for step in doc["stage_history"]]
            self._journeys[doc["_id"]] = Journey(list(doc.get("clusters") or []), reached)
        async for gone in self.smes.find({"erased": True}, {"_id": 1}):
            self._journeys.pop(gone["_id"], None)
        self._looked_at = looked_at
        return list(self._journeys.values())

    async def require(self, sme_id: str) -> Sme:
        sme = await self.get(sme_id)
        if sme is None:
            raise Refused("not_found", f"SME {sme_id} does not exist", id=sme_id)
        return sme

    async def similar_names(self, sme: Sme) -> list[str]:
        key = identity_keys(sme)["name_key"]
        found = self.smes.find({"name_key": key}, {"_id": 1})
        return [d["_id"] async for d in found if d["_id"] != sme.sme_id]

    async def add(
        self,
        sme: Sme,
        events: Sequence[Envelope[Any]],
        first: FirstAnswer,
        *,
        claim_name: bool = True,
    ) -> None:
        state = {
            "_id": sme.sme_id,
            **_state(sme),
            "command_digest": first.digest,
            "first_reply": first.reply.decode(),
        }
        if claim_name:
            state[NAME_CLAIM] = state["name_key"]
        record = outbox.new_record(state, events)
        try:
            await self._inserts.insert(record)
        except DuplicateKeyError as exc:
            if claim_name and _names(exc, NAME_CLAIM):
                raise NameTaken(state["name_key"]) from exc
            refused = await self._duplicate(sme)
            if refused.details.get("existing_sme_id") == sme.sme_id:
                await self.told_again([sme.sme_id])
            raise refused from exc
        await self._written([record])
        await self._count([], sme.data.clusters)

    async def add_many(
        self, new: Sequence[NewSme], *, claim_name: bool = True
    ) -> list[Exception | None]:
        """``add`` for many SMEs in one ``insert_many`` (unordered: one refused does not stop
        the others) and one write of the clusters' counts: for each, None (stored) or why not
        (``NameTaken``, or ``Refused`` duplicate as ``add`` raises it)."""
        if not new:
            return []
        records = []
        for item in new:
            state = {
                "_id": item.sme.sme_id,
                **_state(item.sme),
                "command_digest": item.first.digest,
                "first_reply": item.first.reply.decode(),
            }
            if claim_name:
                state[NAME_CLAIM] = state["name_key"]
            records.append(outbox.new_record(state, item.events))
        refused: dict[int, dict[str, Any]] = {}
        for start in range(0, len(records), _INSERTS_PER_WRITE):
            try:
                await self.smes.insert_many(
                    records[start : start + _INSERTS_PER_WRITE], ordered=False
                )
            except BulkWriteError as exc:
                refused |= {start + e["index"]: e for e in exc.details.get("writeErrors", [])}
        outcomes: list[Exception | None] = []
        counted: Counter[str] = Counter()
        for index, (item, record) in enumerate(zip(new, records, strict=True)):
            error = refused.get(index)
            if error is None:
                outcomes.append(None)
                counted.update(set(item.sme.data.clusters))
            elif error.get("code") != _DUPLICATE_KEY:
                raise OperationFailure(error.get("errmsg", "write refused"), error.get("code"))
            elif claim_name and _names(_duplicate_error(error), NAME_CLAIM):
                outcomes.append(NameTaken(record["name_key"]))
            elif (error.get("keyPattern") or {}).keys() == {"_id"}:
                # Its own id (a row registered before): said without a read (MongoDB names
                # the index; nx-27017 does not, and _duplicate finds it by its id).
                outcomes.append(_registered_before(item.sme.sme_id))
            else:
                outcomes.append(await self._duplicate(item.sme))
        await self._written([r for r, e in zip(records, outcomes, strict=True) if e is None])
        await self.told_again([
            item.sme.sme_id for item, e in zip(new, outcomes, strict=True)
            if isinstance(e, Refused) and e.details.get("existing_sme_id") == item.sme.sme_id
        ])  # fmt: skip
        await self._counts.add(counted)
        return outcomes

    async def told_again(self, sme_ids: list[str]) -> None:
        """SMEs a repeated command met again (a registration answered from its first answer,
        an erasure of a tombstone): as they are now, into this process's index and the feed
        once more, for a writer that died between its write and its feed entry."""
        if self.search is None or not sme_ids:
            return
        # (A tombstone leaves the index as it is written.)
        await self._written(
            [doc async for doc in self.smes.find({"_id": {"$in": sme_ids}}, PROJECTION)]
        )

    async def registrations(self, sme_ids: Sequence[str]) -> dict[str, Registration]:
        """What the commands that registered these SMEs sent (their digests), and the near
        duplicates each was found with: one read by ``_id`` (answered from its index)."""
        if not sme_ids:
            return {}
        found = self.smes.find(
            {"_id": {"$in": list(sme_ids)}}, {"command_digest": 1, "near_duplicates": 1}
        )
        return {
            doc["_id"]: Registration(
                str(doc.get("command_digest", "")), list(doc.get("near_duplicates") or [])
            )
            async for doc in found
        }

    async def save(self, sme: Sme, expected_version: int, events: Sequence[Envelope[Any]]) -> None:
        # Read before the write: if the write lands, the SME was still at this version.
        before = await self._stored_at(sme.sme_id, expected_version)
        state = _state(sme)
        update = outbox.change(state, events, seq=sme.version * 100)
        try:
            result = await self.smes.update_one(
                {"_id": sme.sme_id, "version": expected_version}, update
            )
        except DuplicateKeyError as exc:
            raise await self._duplicate(sme) from exc
        if result.matched_count == 0:
            current = await self.smes.find_one({"_id": sme.sme_id})
            raise conflict(
                f"SME {sme.sme_id} changed since version {expected_version}",
                expected_version=expected_version,
                current_version=current["version"] if current else None,
            )
        await self._written([{"_id": sme.sme_id, **state}])
        await self._count(before.clusters, sme.data.clusters)
        # Renamed: it claims its new name if nobody does (see above); its claim on the old
        # one, if it had it, goes on to another SME of that name.
        renamed = state["name_key"] != before.name_key
        if renamed and await self._claim(sme.sme_id, state["name_key"]) and before.name_claim:
            await self._hand_on(before.name_claim)

    async def first_answer(self, sme_id: str) -> FirstAnswer | None:
        doc = await self.smes.find_one({"_id": sme_id}, {"command_digest": 1, "first_reply": 1})
        if doc is None:
            return None
        return FirstAnswer(str(doc.get("command_digest", "")), doc.get("first_reply", "").encode())

    async def forget_first_answer(self, sme_id: str) -> None:
        await self.smes.update_one({"_id": sme_id}, {"$unset": {"first_reply": ""}})

    async def erase(self, sme_id: str, events: Sequence[Envelope[Any]]) -> None:
        """Personal and company data go for good; only a tombstone and its event remain."""
        before = await self._stored_at(sme_id, None)
        record = outbox.new_record({"_id": sme_id, "erased": True, "version": -1}, events)
        await self.smes.replace_one({"_id": sme_id}, record)
        if self.search is not None:
            self.search.erased(sme_id)
            await self.search.changed([sme_id])
        await self._count(before.clusters, [])
        if before.name_claim:
            await self._hand_on(before.name_claim)

    async def _written(self, records: list[dict[str, Any]]) -> None:
        """Records just written: into this process's search index, and the feed."""
        if self.search is None or not records:
            return
        for record in records:
            self.search.written(record)
        await self.search.changed([record["_id"] for record in records])

    async def _duplicate(self, sme: Sme) -> Refused:
        if await self.smes.find_one({"_id": sme.sme_id}):
            return _registered_before(sme.sme_id)
        keys = identity_keys(sme)
        for field, index in (("registration_number", "reg_key"), ("vat_id", "vat_key")):
            if keys[index] is None:
                continue
            existing = await self.smes.find_one({index: keys[index]})
            if existing and existing["_id"] != sme.sme_id:
                return Refused(
                    "duplicate",
                    f"an SME with this {field.replace('_', ' ')} is already registered",
                    field=f"data.{field}",
                    existing_sme_id=existing["_id"],
                )
        return Refused("duplicate", "an SME with these identifiers is already registered")


def _registered_before(sme_id: str) -> Refused:
    return Refused(
        "duplicate", "this SME is already registered", field="data", existing_sme_id=sme_id
    )


def _duplicate_error(error: dict[str, Any]) -> DuplicateKeyError:
    """One document's error of an ``insert_many``, as ``insert_one`` would raise it."""
    return DuplicateKeyError(error.get("errmsg", "duplicate key"), _DUPLICATE_KEY, error)


def _names(exc: DuplicateKeyError, index: str) -> bool:
    """Whether a duplicate key error is that of this index (MongoDB names it in keyPattern
    and its message; nx-27017 its field, in the message)."""
    details = exc.details or {}
    return index in (details.get("keyPattern") or {}) or index in str(details.get("errmsg", exc))


class _GroupCount:
    """Count changes that callers make side by side, written together: one ``$inc`` per
    cluster for all of them (as group_insert does for inserts); ``add`` returns once its
    change is written, or raises the error that kept it from being written."""

    def __init__(self, counts: Collection) -> None:
        self.counts = counts
        self._moved: Counter[str] = Counter()
        self._waiting: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, moved: Counter[str]) -> None:
        if not any(moved.values()):
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._moved.update(moved)
        self._waiting.append(done)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self._waiting:
            moved, self._moved = self._moved, Counter()
            waiting, self._waiting = self._waiting, []
            changes = [
                UpdateOne({"_id": name}, {"$inc": {"smes": by}}, upsert=True)
                for name, by in sorted(moved.items())
                if by
            ]
            error: Exception | None = None
            try:
                if changes:
                    await self.counts.bulk_write(changes, ordered=False)
            except Exception as exc:  # each caller hears why its count was not written
                error = exc
            for done in waiting:
                settle(done, error)


def _aware(at: datetime | str) -> datetime:
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in doc.items()
        if k
        not in {
            "_id",
            "outbox",
            "outbox_pending",
            "erased",
            "command_digest",
            "first_reply",
            *_KEYS,
        }
    }
