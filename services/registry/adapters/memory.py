"""In-memory repositories with the MongoDB ones' rules (unique registration number and VAT id,
optimistic versions, tombstones on erasure, outbox kept with the record), for tests of the
service layer that run in milliseconds without a server."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from contracts.envelope import Envelope
from contracts.errors import Refused, conflict

from ..domain.kpis import Journey
from ..domain.model import Sme
from ..service_layer.ports import FirstAnswer, NameTaken, NewSme, Registration
from .repository import identity_keys

UNIQUE = (("registration_number", "reg_key"), ("vat_id", "vat_key"))


class InMemorySmes:
    name = "smes"

    def __init__(self) -> None:
        self.records: dict[str, Sme] = {}
        self.erased: set[str] = set()
        self.outbox: dict[str, list[Envelope[Any]]] = {}
        self.first: dict[str, FirstAnswer] = {}

    async def get(self, sme_id: str) -> Sme | None:
        found = self.records.get(sme_id)
        return copy.deepcopy(found) if found is not None else None

    async def require(self, sme_id: str) -> Sme:
        if (sme := await self.get(sme_id)) is None:
            raise Refused("not_found", f"SME {sme_id} does not exist", id=sme_id)
        return sme

    async def all(self) -> list[Sme]:
        return [copy.deepcopy(sme) for sme in self.records.values()]

    async def in_review(self) -> list[Sme]:
        return [s for s in await self.all() if any(p.status == "in_review" for p in s.profiles)]

    async def clusters(self) -> dict[str, int]:
        return dict(Counter(name for s in self.records.values() for name in set(s.data.clusters)))

    async def similar_names(self, sme: Sme) -> list[str]:
        key = identity_keys(sme)["name_key"]
        return [
            other.sme_id
            for other in self.records.values()
            if identity_keys(other)["name_key"] == key and other.sme_id != sme.sme_id
        ]

    async def add(
        self,
        sme: Sme,
        events: Sequence[Envelope[Any]],
        first: FirstAnswer,
        *,
        claim_name: bool = True,
    ) -> None:
        if sme.sme_id in self.records or sme.sme_id in self.erased:
            raise Refused("duplicate", "this SME is already registered", existing_sme_id=sme.sme_id)
        self._unique(sme)
        if claim_name and await self.similar_names(sme):
            raise NameTaken(identity_keys(sme)["name_key"])
        self._store(sme, events)
        self.first[sme.sme_id] = first

    async def add_many(
        self, new: Sequence[NewSme], *, claim_name: bool = True
    ) -> list[Exception | None]:
        outcomes: list[Exception | None] = []
        for item in new:
            try:
                await self.add(item.sme, item.events, item.first, claim_name=claim_name)
            except (NameTaken, Refused) as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
        return outcomes

    async def registrations(self, sme_ids: Sequence[str]) -> dict[str, Registration]:
        return {
            sme_id: Registration(
                self.first[sme_id].digest,
                list(self.records[sme_id].near_duplicates) if sme_id in self.records else [],
            )
            for sme_id in sme_ids
            if sme_id in self.first
        }

    async def journeys(self) -> list[Journey]:
        return [Journey.of(sme.view(date.today())) for sme in await self.all()]

    async def first_answer(self, sme_id: str) -> FirstAnswer | None:
        return self.first.get(sme_id)

    async def forget_first_answer(self, sme_id: str) -> None:
        if sme_id in self.first:
            self.first[sme_id] = self.first[sme_id]._replace(reply=b"")

    async def save(self, sme: Sme, expected_version: int, events: Sequence[Envelope[Any]]) -> None:
        current = self.records.get(sme.sme_id)
        if current is None or current.version != expected_version:
            raise conflict(
                f"SME {sme.sme_id} changed since version {expected_version}",
                expected_version=expected_version,
                current_version=current.version if current else None,
            )
        self._unique(sme)
        self._store(sme, events)

    async def erase(self, sme_id: str, events: Sequence[Envelope[Any]]) -> None:
        self.records.pop(sme_id, None)
        self.erased.add(sme_id)
        self.outbox.setdefault(sme_id, []).extend(events)

    async def told_again(self, sme_ids: list[str]) -> None:
        """No search index to tell here."""

    def _store(self, sme: Sme, events: Sequence[Envelope[Any]]) -> None:
        self.records[sme.sme_id] = copy.deepcopy(sme)
        self.outbox.setdefault(sme.sme_id, []).extend(events)

    def _unique(self, sme: Sme) -> None:
        keys = identity_keys(sme)
        for field, index in UNIQUE:
            if keys[index] is None:
                continue
            for other in self.records.values():
                if other.sme_id != sme.sme_id and identity_keys(other)[index] == keys[index]:
                    raise Refused(
                        "duplicate",
                        f"an SME with this {field.replace('_', ' ')} is already registered",
                        field=f"data.{field}",
                        existing_sme_id=other.sme_id,
                    )


class InMemoryStories:
    name = "stories"

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.outbox: dict[str, list[Envelope[Any]]] = {}

    async def add(
        self, story_id: str, story: dict[str, Any], events: Sequence[Envelope[Any]]
    ) -> bool:
        if story_id in self.records:
            return False
        self.records[story_id] = dict(story)
        self.outbox[story_id] = list(events)
        return True

    async def dates_and_clusters(self) -> list[tuple[date, list[str]]]:
        return [
            (date.fromisoformat(s["happened_on"]), list(s.get("clusters", [])))
            for s in self.records.values()
        ]
