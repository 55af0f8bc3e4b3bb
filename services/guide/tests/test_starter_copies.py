"""A demo region's guide shows the network's ten markets from its start: the markets other
regions are home for as read copies of what their demos publish (same ids, writer, approver),
put in by the guide itself when it runs a demo (MAPNET_DEMO). When the home region's demo runs,
its copy replaces the stand-in: one article per market and topic, never two. Two real regions
and a hub, both running the demo (`make run` as a user starts it, one region, is checked in
tests/test_embedded.py's make run demo test)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from contracts import guide as c
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs, mongo
from mapnet.runtime.bus import BusClient
from services.guide.adapters.articles_repository import STARTER_COPY, ArticleRepository
from services.guide.adapters.markets import market_homes
from services.guide.entrypoints.demo import home_markets, load_starter, starter_copies
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(300)

T, H = "tallinn", "helsinki"
TEN = {"DE", "DK", "EE", "FI", "LT", "LV", "NO", "PL", "RU", "SE"}
TOPICS = {"company_forms", "tax_vat", "contacts"}


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MAPNET_DEMO", "1")  # as `mapnet up --demo` and `make run` set it
        async with LocalNetwork(Path(tmp_path_factory.mktemp("starter")), [T, H], ("guide",)) as n:
            yield n


async def guide_of(client: BusClient, region: str) -> list[c.ArticleSummary]:
    """Every published article ``region`` shows, page by page."""
    found: list[c.ArticleSummary] = []
    cursor = None
    while True:
        page = await client.call(c.LIST_ARTICLES, c.ListArticles(limit=100, cursor=cursor), region)
        found += page.items
        if (cursor := page.next_cursor) is None:
            return found


def published_at_is(when: datetime | None, article: c.Article) -> bool:
    return article.published_at == when


def per_market_and_topic(items: list[c.ArticleSummary]) -> Counter[tuple[str, str]]:
    return Counter((a.market, a.topic) for a in items if a.topic in TOPICS)


async def test_a_demo_region_shows_every_market_and_the_home_regions_copies_replace_it(
    net: LocalNetwork,
) -> None:
    tallinn, helsinki = await net.client(T), await net.client(H)
    # Before either demo is loaded: every market but the region's own, from the starter copies,
    # attributed to their home regions.
    for client, region, own in ((tallinn, T, "EE"), (helsinki, H, "FI")):
        shown = await guide_of(client, region)
        assert per_market_and_topic(shown) == Counter(
            {(m, t): 1 for m in TEN - {own} for t in TOPICS}
        )
        homes = market_homes(None, {})
        assert all(a.region == homes[a.market] and a.region != region for a in shown)

    # Each region's demo publishes its own market, which federation brings to the other.
    assert {m for m in home_markets(T)} == {"EE"} and {m for m in home_markets(H)} == {"FI"}
    estonian = await load_starter(net.regions[T].nats_url, T, home_markets(T))
    finnish = await load_starter(net.regions[H].nats_url, H, home_markets(H))
    assert len(estonian) == len(finnish) == 3

    everything = Counter({(m, t): 1 for m in TEN for t in TOPICS})
    for client, region, published in ((tallinn, T, finnish), (helsinki, H, estonian)):
        shown = await eventually(
            partial(guide_of, client, region),
            until=lambda items: per_market_and_topic(items) == everything,
            timeout_s=60,
        )
        # The stand-ins had the ids the home regions' articles got: replaced, not beside them.
        copies = {a.article_id: a for a in shown}
        for article in published:
            assert article.article_id in copies
            # The real copy (its publication's time), not the stand-in put in at start.
            read = await eventually(
                partial(client.call, c.GET_ARTICLE, c.GetArticle(article_id=article.article_id),
                        region),
                until=partial(published_at_is, article.published_at),
            )  # fmt: skip
            assert (read.region, read.approved_by) == (article.region, article.approved_by)

    # The guide's start again (a restart) leaves the real copies alone and changes nothing.
    db = mongo.database(mongo.client(net.regions[T].mongo_url), T, "guide")
    repository = ArticleRepository(db, T)
    homes = market_homes(None, {})
    again = [p for p in starter_copies(homes, datetime.now(UTC)) if p.region != T]
    assert not [p.article_id for p in again if await repository.put_starter_copy(p)]
    real = await db["articles"].find({"market": "FI"}).to_list(None)
    assert len(real) == 3 and not [d["_id"] for d in real if d.get(STARTER_COPY)]
    assert per_market_and_topic(await guide_of(tallinn, T)) == everything
