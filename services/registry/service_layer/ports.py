"""What the registry's handlers need of storage: the MongoDB repositories in ``adapters/`` and
the in-memory ones of the fast tests both provide it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple, Protocol

from contracts.envelope import Envelope

from ..domain.kpis import Journey
from ..domain.model import Sme


class FirstAnswer(NamedTuple):
    """The command that registered an SME: its content digest and the reply it got."""

    digest: str
    reply: bytes


class NewSme(NamedTuple):
    """An SME to add, with the events its registration caused and the command that made it."""

    sme: Sme
    events: Sequence[Envelope[Any]]
    first: FirstAnswer


class Registration(NamedTuple):
    """What is kept of the command that registered an SME: its content digest, and the near
    duplicates the SME was found with."""

    digest: str
    near_duplicates: list[str]


class NameTaken(Exception):
    """An SME with the same name key (country and normalised legal name) is registered: the
    new one was not written, and is to be added again with its near duplicates looked up."""


class SmeStore(Protocol):
    name: str

    async def get(self, sme_id: str) -> Sme | None: ...

    async def require(self, sme_id: str) -> Sme: ...

    async def all(self) -> list[Sme]: ...

    async def in_review(self) -> list[Sme]:
        """The SMEs with a profile in review (a region's queue is a few at a time)."""

    async def journeys(self) -> list[Journey]:
        """Every SME's clusters and stage changes: what the indicators count, nothing more."""

    async def similar_names(self, sme: Sme) -> list[str]: ...

    async def clusters(self) -> dict[str, int]:
        """Each cluster with how many SMEs are in it, kept as SMEs are written (not read from
        every SME on each ask)."""

    async def add(
        self,
        sme: Sme,
        events: Sequence[Envelope[Any]],
        first: FirstAnswer,
        *,
        claim_name: bool = True,
    ) -> None:
        """Refused ``duplicate`` (with ``existing_sme_id``) if its id or identifiers exist.
        ``claim_name``: the SME claims its name key in the same write, and ``NameTaken`` is
        raised (nothing written) when another SME holds it, so that the common case of a new
        name costs no look-up; some SME holding a name key always holds its claim."""

    async def add_many(
        self, new: Sequence[NewSme], *, claim_name: bool = True
    ) -> list[Exception | None]:
        """``add`` for each, written together: None where it was stored, else what ``add``
        would have raised (``NameTaken`` or ``Refused``), in the order given."""

    async def registrations(self, sme_ids: Sequence[str]) -> dict[str, Registration]:
        """For those of these SMEs that are stored: their registration's digest and near
        duplicates."""

    async def first_answer(self, sme_id: str) -> FirstAnswer | None:
        """What the command that registered the SME sent and got; the reply is empty once a
        contact it named was erased."""

    async def forget_first_answer(self, sme_id: str) -> None: ...

    async def save(self, sme: Sme, expected_version: int, events: Sequence[Envelope[Any]]) -> None:
        """Refused ``conflict`` if the stored SME is no longer at ``expected_version``."""

    async def erase(self, sme_id: str, events: Sequence[Envelope[Any]]) -> None: ...

    async def told_again(self, sme_ids: list[str]) -> None:
        """SMEs a repeated command met again: told to the search indexes once more."""


class StoryStore(Protocol):
    name: str

    async def add(
        self, story_id: str, story: dict[str, Any], events: Sequence[Envelope[Any]]
    ) -> bool:
        """False when this story (same id) is already stored."""

    async def dates_and_clusters(self) -> list[tuple[date, list[str]]]: ...
