"""Read copies of the other regions' articles on the real MongoDB-compatible server: a region
that shares a version under an article id that is another region's (a fault, or a forged event
on its own shared stream; the runtime has already checked that it speaks only for itself)
rewrites neither that article nor its kept versions here."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from contracts import guide as c
from mapnet.runtime import mongo
from services.guide.adapters.articles_repository import ArticleRepository
from tests.fixtures import Servers


def published(article_id: str, region: str, market: str, version: int, title: str) -> (
    c.PublishedArticle
):  # fmt: skip
    return c.PublishedArticle.model_validate(
        {"article_id": article_id, "region": region, "market": market, "version": version,
         "published_at": datetime.now(UTC).isoformat(), "approved_by": f"bert@{region}.example",
         "written_by": [f"anna@{region}.example"], "author": f"anna@{region}.example",
         "topic": "tax_vat", "title": title, "summary": "VAT", "body": f"{title}.",
         "sources": [{"url": "https://taxation-customs.ec.europa.eu/", "title": "EU VAT",
                      "checked_on": date.today().isoformat()}],
         "review_by": (date.today() + timedelta(days=200)).isoformat()}
    )  # fmt: skip


async def test_a_version_shared_under_another_region_s_article_id_changes_nothing(
    servers: Servers, region: str
) -> None:
    db = mongo.database(mongo.client(servers.mongo_url), region, "guide")
    berlin = ArticleRepository(db, region)  # a third region, keeping copies of both
    article_id = str(uuid.uuid4())
    await berlin.put_copy(published(article_id, "tallinn", "EE", 1, "VAT in Estonia"))
    await berlin.put_copy(published(article_id, "tallinn", "EE", 2, "VAT in Estonia, 2027"))
    # Helsinki shares "its" Finnish article under Tallinn's article id, versions 1 and 3.
    await berlin.put_copy(published(article_id, "helsinki", "FI", 1, "Forged history"))
    await berlin.put_copy(published(article_id, "helsinki", "FI", 3, "Forged latest"))
    kept = await db["article_versions"].find_one({"_id": f"{article_id}:1"})
    assert kept is not None and kept["title"] == "VAT in Estonia" and kept["region"] == "tallinn"
    assert await db["article_versions"].find_one({"_id": f"{article_id}:3"}) is None
    article = await berlin.find(article_id)
    assert article is not None and (article.region, article.latest_version) == ("tallinn", 2)
    older = await berlin.version(article_id, 1, "tallinn")
    assert older is not None and older.title == "VAT in Estonia"
