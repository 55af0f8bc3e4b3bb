"""The guide's part of the demo: the starter articles (services/guide/starter/<market>/<topic>.md)
of the markets this region is home for, written by the demo's staff member and approved by its
administrator (four eyes: the accounts the portal's demo makes, staff@ and admin@<region>.example).
The other regions' markets are in the guide from its start, as read copies of what their home
regions' demos publish (starter_copies: the guide puts them in itself when it runs a demo,
MAPNET_DEMO), and the real copies replace them by federation once those demos run. Beside them,
the finance link's demo offers and a need (finance_demo.py).

Every command has an envelope id derived from the region, market, topic and step: loading the
demo again sends the same commands, which the guide answers as before (nothing twice)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from importlib.resources import files
from importlib.resources.abc import Traversable

from contracts import guide as c
from contracts.access import Actor
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import make_envelope

from ..adapters.markets import market_homes
from ..domain.starter import StarterArticle, parse
from ..service_layer.articles import new_article_id
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


def demo_author(region: str) -> Actor:
    return Actor(id=f"staff@{region}.example", role="map_staff", region=region)


def demo_reviewer(region: str) -> Actor:
    return Actor(id=f"admin@{region}.example", role="map_admin", region=region)


def home_article_id(home: str, article: StarterArticle) -> str:
    """The id the article gets when ``home``'s demo publishes it: its write command's, as the
    guide derives it (the command's sender and id)."""
    write = make_envelope(
        c.WRITE_ARTICLE, article.write(), region=home, source=f"mapnet/{home}/demo",
        id=_id(home, article, "write"), actor=demo_author(home),
    )  # fmt: skip
    return new_article_id(home, write)


def starter_copies(homes: Mapping[str, str], now: datetime) -> list[c.PublishedArticle]:
    """Every starter article as its home region's demo publishes it (the id, the writer and
    approver, version 1; published ``now``), of each market ``homes`` names a home for: what
    the guide of a demo puts in as read copies of the other regions' articles."""
    copies = []
    for article in starter_articles(homes):
        home = homes[article.market]
        copies.append(
            c.PublishedArticle(
                **article.content.model_dump(), article_id=home_article_id(home, article),
                region=home, market=article.market, version=1, published_at=now,
                approved_by=demo_reviewer(home).id, written_by=[demo_author(home).id],
                author=demo_author(home).id,
            )
        )  # fmt: skip
    return copies


async def load_starter(nats_url: str, region: str, markets: Iterable[str]) -> list[c.Article]:
    """Publish the starter articles of ``markets`` in ``region``: written and submitted by the
    demo's staff member, approved by its administrator. Answers the published articles."""
    articles = starter_articles(markets)
    if not articles:
        return []
    author, reviewer = demo_author(region), demo_reviewer(region)
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
