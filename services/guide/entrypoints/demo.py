"""The guide's part of the demo: the starter articles (services/guide/starter/<market>/<topic>.md)
of the markets this region is home for, written by the demo's staff member and approved by its
administrator (four eyes: the accounts the portal's demo makes, staff@ and admin@<region>.example).
The other regions' markets arrive by federation, from their own demos. Beside them, the finance
link's demo offers and a need (finance_demo.py).

Every command has an envelope id derived from the region, market, topic and step: loading the
demo again sends the same commands, which the guide answers as before (nothing twice)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from importlib.resources import files
from importlib.resources.abc import Traversable

from contracts import guide as c
from contracts.access import Actor
from mapnet.runtime.bus import BusClient

from ..adapters.markets import market_homes
from ..domain.starter import StarterArticle, parse
from ..settings import GuideSettings
from .finance_demo import load_finance

STARTER = "starter"
_NAMESPACE = uuid.UUID("0d6c3f8e-51a7-4e0b-9a3c-7f2e4b1d8c61")


def starter_files() -> list[tuple[str, str, Traversable]]:
    """(market, topic, file) of every starter article in the package, by market and topic."""
    root = files("services.guide").joinpath(STARTER)
    found = []
    for market in root.iterdir():
        if not market.is_dir():
            continue
        for article in market.iterdir():
            if article.name.endswith(".md"):
                found.append((market.name.upper(), article.name.removesuffix(".md"), article))
    return sorted(found, key=lambda row: (row[0], row[1]))


def starter_articles(markets: Iterable[str] | None = None) -> list[StarterArticle]:
    wanted = None if markets is None else {m.upper() for m in markets}
    return [
        parse(f"{STARTER}/{market}/{topic}.md", market, topic, path.read_text(encoding="utf-8"))
        for market, topic, path in starter_files()
        if wanted is None or market in wanted
    ]


def home_markets(region: str) -> list[str]:
    """The markets this region is home for, as the articles reckon it: the network's list of
    regions (or the file the guide's settings name) and MAPNET_GUIDE_HOME_MARKETS."""
    settings = GuideSettings()
    homes = market_homes(settings.regions_file, settings.home_markets)
    return sorted(market for market, home in homes.items() if home == region)


def load_demo(nats_url: str, region: str) -> None:
    asyncio.run(_load(nats_url, region))


async def _load(nats_url: str, region: str) -> None:
    await load_starter(nats_url, region, home_markets(region))
    # The finance link's demo offers, and a need on the demo registry's first SME.
    await load_finance(nats_url, region)


def _id(region: str, article: StarterArticle, step: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{region}:{article.market}:{article.content.topic}:{step}"))


async def load_starter(nats_url: str, region: str, markets: Iterable[str]) -> list[c.Article]:
    """Publish the starter articles of ``markets`` in ``region``: written and submitted by the
    demo's staff member, approved by its administrator. Answers the published articles."""
    articles = starter_articles(markets)
    if not articles:
        return []
    author = Actor(id=f"staff@{region}.example", role="map_staff", region=region)
    reviewer = Actor(id=f"admin@{region}.example", role="map_admin", region=region)
    client = await BusClient.connect(
        nats_url, region=region, source=f"mapnet/{region}/demo", role="map_admin"
    )
    published = []
    try:
        for article in articles:
            written = await client.call(c.WRITE_ARTICLE, article.write(), region, actor=author,
                                        id=_id(region, article, "write"))  # fmt: skip
            step = c.ArticleStep(article_id=written.article_id)
            await client.call(c.SUBMIT_ARTICLE, step, region, actor=author,
                              id=_id(region, article, "submit"))  # fmt: skip
            approved = await client.call(c.APPROVE_ARTICLE, step, region, actor=reviewer,
                                         id=_id(region, article, "approve"))  # fmt: skip
            published.append(approved)
    finally:
        await client.close()
    return published
