"""Success stories: stored with their outbox like SMEs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from contracts.envelope import Envelope
from mapnet.runtime import outbox
from mapnet.runtime.mongo import Database, storable

COLLECTION = "stories"


class StoryRepository:
    name = COLLECTION

    def __init__(self, db: Database) -> None:
        self.stories = db[COLLECTION]

    async def add(
        self, story_id: str, story: dict[str, Any], events: Sequence[Envelope[Any]]
    ) -> bool:
        """False when this story (same id) is already stored."""
        if await self.stories.find_one({"_id": story_id}):
            return False
        await self.stories.insert_one(
            outbox.new_record({"_id": story_id, **storable(story)}, events)
        )
        return True

    async def dates_and_clusters(self) -> list[tuple[date, list[str]]]:
        return [
            (date.fromisoformat(doc["happened_on"]), list(doc.get("clusters", [])))
            async for doc in self.stories.find({})
        ]
