"""The guide's search index on the real MongoDB-compatible server: a change is indexed in the
background; a search waits for a quick rebuild (a small guide reads its own writes) and
otherwise answers from the previous index, never waiting for a slow rebuild to finish; changes
during a rebuild are one more rebuild, not one each; the index catches up with them all."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts import guide as c
from mapnet.runtime import mongo
from services.guide.adapters.article_index import ArticleIndex, Snapshot
from services.guide.adapters.articles_repository import ArticleRepository
from tests.fixtures import Servers
from tests.helpers import eventually


def a_copy(title: str) -> c.PublishedArticle:
    """A published article of Helsinki, as its copy arrives here."""
    return c.PublishedArticle.model_validate(
        {"article_id": str(uuid.uuid4()), "region": "helsinki", "market": "FI",
         "version": 1, "published_at": datetime.now(UTC).isoformat(),
         "approved_by": "bert@helsinki.example", "written_by": ["anna@helsinki.example"],
         "author": "anna@helsinki.example", "topic": "tax_vat", "title": title,
         "summary": "VAT in Finland", "body": f"{title}: register with the Tax Administration.",
         "sources": [{"url": "https://www.vero.fi/en", "title": "Vero",
                      "checked_on": date.today().isoformat()}],
         "tags": ["vat"], "review_by": (date.today() + timedelta(days=200)).isoformat()}
    )  # fmt: skip


class GatedIndex(ArticleIndex):
    """An index whose rebuilds wait at a gate (a slow rebuild of thousands of articles), and
    counts them."""

    def __init__(self, articles: ArticleRepository) -> None:
        super().__init__(articles, settle_s=0.0, fresh_wait_s=1.0)
        self.gate = threading.Event()
        self.gate.set()
        self.builds = 0

    def _build(self, docs: list[dict[str, Any]], changes: int) -> Snapshot:
        self.gate.wait(30)
        self.builds += 1
        return super()._build(docs, changes)


@pytest.fixture
async def index(servers: Servers, region: str) -> AsyncIterator[GatedIndex]:
    index = GatedIndex(ArticleRepository(mongo.database(mongo.client(servers.mongo_url), region,
                                                        "guide"), region))  # fmt: skip
    yield index
    index.gate.set()
    await index.stop()


def titles(snapshot: Snapshot) -> list[str]:
    return sorted(doc["title"] for doc in snapshot.docs)


async def test_a_search_answers_from_the_previous_index_while_it_is_rebuilt(
    index: GatedIndex,
) -> None:
    await index.articles.put_copy(a_copy("First"))
    assert titles(await index.current()) == ["First"]  # the first build is waited for
    # A quick rebuild (a few articles) is waited for: a search reads the change at once.
    await index.articles.put_copy(a_copy("Second"))
    assert titles(await index.current()) == ["First", "Second"]

    index.gate.clear()  # rebuilds now take as long as the test says
    await index.articles.put_copy(a_copy("Third"))
    started = time.monotonic()
    meanwhile = await index.current()
    assert time.monotonic() - started < 5.0  # not the rebuild's time: it has not finished
    assert titles(meanwhile) == ["First", "Second"]
    # More changes while the rebuild runs: the next one takes them all.
    for title in ("Fourth", "Fifth", "Sixth"):
        await index.articles.put_copy(a_copy(title))
    # A slow rebuild (a guide of thousands) is not waited for at all.
    index.rebuild_s = 30.0
    started = time.monotonic()
    assert titles(await index.current()) == ["First", "Second"]
    assert time.monotonic() - started < index.fresh_wait_s
    builds = index.builds
    index.gate.set()
    caught_up = await eventually(
        index.current, until=lambda snapshot: len(snapshot.docs) == 6, timeout_s=20
    )
    assert titles(caught_up) == ["Fifth", "First", "Fourth", "Second", "Sixth", "Third"]
    await asyncio.sleep(0.3)
    assert index.builds - builds <= 2, "one rebuild per change, not one per burst"
    assert caught_up.changes == await index.articles.changes()
