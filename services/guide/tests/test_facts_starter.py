"""The starter guide: every article parses, names its sources and the day it was written, and
the three first topics exist for all ten markets of the network; the demo publishes a region's
own markets with four eyes, over real servers, and loading it again changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from contracts import guide as c
from contracts.access import Actor
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.guide.adapters.regions import DEFAULT_REGIONS_FILE, load_region_list
from services.guide.domain.starter import StarterError, parse
from services.guide.entrypoints.demo import home_markets, load_starter, starter_articles
from services.guide.entrypoints.facts_bus import region_list
from services.guide.settings import GuideSettings
from tests.fixtures import Servers

WRITTEN = date(2026, 12, 5)
TOPICS = {"company_forms", "tax_vat", "contacts"}
COUNTRY_NAMES = ("Germany", "Denmark", "Finland", "Norway", "Latvia", "Russia", "Sweden",
                 "Estonia", "Lithuania", "Poland")  # fmt: skip


def test_the_three_topics_exist_for_every_market_of_the_network() -> None:
    markets = {entry.country for entry in load_region_list(DEFAULT_REGIONS_FILE).regions}
    assert markets == {"DE", "DK", "FI", "NO", "LV", "RU", "SE", "EE", "LT", "PL"}
    found = {(a.market, a.content.topic) for a in starter_articles()}
    assert {(market, topic) for market in markets for topic in TOPICS} <= found


@pytest.mark.parametrize(
    "article", starter_articles(), ids=lambda a: f"{a.market}-{a.content.topic}"
)
def test_every_article_names_its_sources_and_when_it_was_written(article: object) -> None:
    from services.guide.domain.starter import StarterArticle

    assert isinstance(article, StarterArticle)
    content = article.content
    assert article.written == WRITTEN and content.language == "en"
    assert content.sources and all(s.url and s.title for s in content.sources)
    assert all(s.checked_on == WRITTEN for s in content.sources)
    assert content.review_by > WRITTEN and content.tags and content.body
    assert content.title.startswith(COUNTRY_NAMES)
    article.write()  # a valid write_article


def _file(front: str, body: str = "Text") -> str:
    return f"+++\n{front}\n+++\n{body}\n"


FRONT = (
    'title = "Estonia: a test"\nsummary = "s"\nlanguage = "en"\ntags = ["t"]\n'
    "written = 2026-12-05\nreview_by = 2027-12-05\n"
)


def test_a_file_without_sources_or_front_matter_is_refused_by_name() -> None:
    with pytest.raises(StarterError, match=r"x\.md: front matter lacks sources"):
        parse("x.md", "EE", "contacts", _file(FRONT))
    with pytest.raises(StarterError, match="at least one source"):
        parse("x.md", "EE", "contacts", _file(FRONT + "sources = []"))
    with pytest.raises(StarterError, match="does not start"):
        parse("x.md", "EE", "contacts", "# no front matter")
    with pytest.raises(StarterError, match="not closed"):
        parse("x.md", "EE", "contacts", "+++\ntitle = 'x'\n")
    source = '[[sources]]\nurl = "https://example.org/"\ntitle = "t"\nchecked_on = 2026-12-05'
    with pytest.raises(StarterError, match=r"x\.md: (?s:.*)topic"):
        parse("x.md", "EE", "no_such_topic", _file(FRONT + source))
    parsed = parse("x.md", "ee", "contacts", _file(FRONT + source, "Body"))
    assert (parsed.market, parsed.content.body, parsed.written) == ("EE", "Body", WRITTEN)


def test_each_region_loads_the_markets_it_is_home_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAPNET_GUIDE_HOME_MARKETS", raising=False)
    assert home_markets("tallinn") == ["EE"] and home_markets("stpetersburg") == ["RU"]
    assert home_markets("nowhere") == []
    monkeypatch.setenv("MAPNET_GUIDE_HOME_MARKETS", "nowhere=EE")
    assert home_markets("nowhere") == ["EE"] and home_markets("tallinn") == []


def test_the_facts_card_names_the_home_region_the_articles_name(tmp_path: Path) -> None:
    settings = GuideSettings.model_validate({"MAPNET_GUIDE_HOME_MARKETS": "tother=EE"})
    listed = region_list(settings)
    assert listed.home_of("EE") is not None and listed.home_of("EE").region == "tother"  # type: ignore[union-attr]
    assert listed.home_of("DE").region == "berlin"  # type: ignore[union-attr]
    assert listed.home_of("FR") is None


@pytest.fixture
def guide_configs(region: str) -> dict[str, BaseSettings]:
    # The test region is Estonia's home (as tallinn is in deploy/regions.toml).
    return {"guide": GuideSettings.model_validate({"MAPNET_GUIDE_HOME_MARKETS": f"{region}=EE"})}


@pytest.fixture
async def guide(
    settings: Settings, region: str, guide_configs: dict[str, BaseSettings]
) -> AsyncIterator[Assembly]:
    async with Assembly(settings, ["guide"], [region], configs=guide_configs) as app:
        yield app


@pytest.mark.usefixtures("guide")
async def test_the_demo_publishes_its_markets_with_four_eyes_once(
    servers: Servers, region: str
) -> None:
    published = await load_starter(servers.nats_url, region, ["EE"])
    assert {a.content.topic for a in published if a.content} == TOPICS
    for article in published:
        assert article.status == "published" and article.version == 1
        assert article.approved_by == f"admin@{region}.example"
        assert article.written_by == [f"staff@{region}.example"]
        assert "<script" not in article.body_html and article.body_html.startswith("<")

    again = await load_starter(servers.nats_url, region, ["EE"])
    assert [a.article_id for a in again] == [a.article_id for a in published]
    client = await BusClient.connect(servers.nats_url, region=region, source="mapnet/tests")
    try:
        reader = Actor(id="portal", role="service", region=region)
        page = await client.call(c.LIST_ARTICLES, c.ListArticles(market="EE"), region, actor=reader)
        assert len(page.items) == 3 and {i.version for i in page.items} == {1}
    finally:
        await client.close()
