"""Guide search over 5,000 generated articles in six languages: each article is written,
submitted and approved by two staff members through the guide service (in its own process),
then 1,000 search_guide queries (one to three words, some with a market, topic or language
filter, the top 20) go through the bus one after another.

    python -m bench.guide [--articles 5000] [--queries 1000]

The first query after the articles were published is reported on its own (first_query_ms) and
left out of p50/p95. The index is rebuilt in the background after changes, so it no longer pays
for the build. Then, five times, one more article is published and searched for at once: the
slowest first query after such a change (after_change_ms: it must not pay for the rebuild
either), and the longest time from the approval's answer until a search finds the new article
(visible_ms: how long results lag a change, about one rebuild of the whole index).

Last line: articles=… p95_ms=… p50_ms=… first_query_ms=… after_change_ms=… visible_ms=…"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args

from bench.common import REGION, each, embedded_servers, figures, serving
from contracts import guide as c
from contracts.access import Actor
from mapnet.runtime.bus import BusClient

# Markets that are no region's country (deploy/regions.toml): the bench region writes them all.
MARKETS = ["FR", "IT", "ES", "NL", "BE", "AT", "PT", "CZ", "IE", "HU"]
TOPICS: list[str] = list(get_args(c.Topic))
# A few words of each language, enough for BM25 to tell articles apart.
VOCABULARY = {
    "en": "company registration tax vat invoice customs export import worker visa permit "
          "trademark patent procurement tender grant loan guarantee chamber contact culture "
          "language certificate product safety marking declaration authority office",
    "de": "unternehmen gründung steuer umsatzsteuer rechnung zoll ausfuhr einfuhr arbeitnehmer "
          "visum genehmigung marke patent vergabe ausschreibung förderung darlehen bürgschaft "
          "kammer kontakt kultur sprache zertifikat produkt sicherheit kennzeichnung",
    "fi": "yritys rekisteröinti vero arvonlisävero lasku tulli vienti tuonti työntekijä viisumi "
          "lupa tavaramerkki patentti hankinta tarjous avustus laina takaus kauppakamari "
          "yhteystieto kulttuuri kieli sertifikaatti tuote turvallisuus merkintä",
    "et": "ettevõte registreerimine maks käibemaks arve toll eksport import töötaja viisa luba "
          "kaubamärk patent hange pakkumus toetus laen garantii koda kontakt kultuur keel "
          "sertifikaat toode ohutus märgistus",
    "sv": "företag registrering skatt moms faktura tull export import arbetstagare visum "
          "tillstånd varumärke patent upphandling anbud bidrag lån garanti kammare kontakt "
          "kultur språk certifikat produkt säkerhet märkning",
    "pl": "firma rejestracja podatek vat faktura cło eksport import pracownik wiza zezwolenie "
          "znak patent zamówienie przetarg dotacja pożyczka gwarancja izba kontakt kultura "
          "język certyfikat produkt bezpieczeństwo oznakowanie",
}  # fmt: skip
LANGUAGES = list(VOCABULARY)
ANNA = Actor(id="anna@bench.example", role="map_staff", region=REGION)
BERT = Actor(id="bert@bench.example", role="map_staff", region=REGION)


def an_article(i: int, rng: random.Random) -> c.WriteArticle:
    language = LANGUAGES[i % len(LANGUAGES)]
    words = VOCABULARY[language].split()
    body = "\n\n".join(
        " ".join(rng.choices(words, k=rng.randint(20, 40))).capitalize() + "." for _ in range(4)
    )
    return c.WriteArticle.model_validate(
        {"market": MARKETS[i % len(MARKETS)], "topic": TOPICS[i % len(TOPICS)],
         "title": " ".join(rng.sample(words, 4)).capitalize() + f" {i}",
         "summary": " ".join(rng.sample(words, 10)), "body": f"## {words[0]}\n\n{body}",
         "language": language, "tags": rng.sample(words, 2),
         "sources": [{"url": f"https://example.org/source/{i}", "title": "Official source",
                      "checked_on": date.today().isoformat()}],
         "review_by": (date.today() + timedelta(days=365)).isoformat()}
    )  # fmt: skip


async def load_articles(nats_url: str, count: int, concurrency: int = 16) -> None:
    """Each article written by Anna, submitted, and approved by Bert, over the bus."""
    rng = random.Random(2026)
    articles = [an_article(i, rng) for i in range(count)]
    client = await BusClient.connect(nats_url, source="mapnet/bench", timeout_s=60,
                                     role="map_staff")  # fmt: skip

    async def publish(article: c.WriteArticle) -> None:
        draft = await client.call(c.WRITE_ARTICLE, article, REGION, actor=ANNA)
        step = c.ArticleStep(article_id=draft.article_id)
        await client.call(c.SUBMIT_ARTICLE, step, REGION, actor=ANNA)
        await client.call(c.APPROVE_ARTICLE, step, REGION, actor=BERT)

    await each(articles, publish, concurrency)
    await client.close()


async def after_changes(nats_url: str, rounds: int = 5) -> tuple[float, float]:
    """Publish one article at a time and search at once: the slowest first query after a
    change, and the longest wait until a search finds the new article (ms)."""
    staff = await BusClient.connect(nats_url, source="mapnet/bench", timeout_s=60,
                                    role="map_staff")  # fmt: skip
    reader = await BusClient.connect(nats_url, source="mapnet/bench", timeout_s=30, role="sme")
    rng = random.Random(99)
    first_ms, visible_ms = [], []
    for n in range(rounds):
        marker = f"freshmarker{n}"
        article = an_article(100_000 + n, rng)
        article = article.model_copy(update={"title": f"{article.title} {marker}"})
        draft = await staff.call(c.WRITE_ARTICLE, article, REGION, actor=ANNA)
        step = c.ArticleStep(article_id=draft.article_id)
        await staff.call(c.SUBMIT_ARTICLE, step, REGION, actor=ANNA)
        await staff.call(c.APPROVE_ARTICLE, step, REGION, actor=BERT)
        published = time.perf_counter()
        await reader.call(c.SEARCH_GUIDE, c.SearchGuide(text="company tax", limit=20), REGION)
        first_ms.append((time.perf_counter() - published) * 1000)
        while True:
            page = await reader.call(c.SEARCH_GUIDE, c.SearchGuide(text=marker), REGION)
            if any(hit.article_id == draft.article_id for hit in page.items):
                break
            if time.perf_counter() - published > 60:
                raise SystemExit(f"the article published {marker} was not found within 60 s")
            await asyncio.sleep(0.02)
        visible_ms.append((time.perf_counter() - published) * 1000)
    await staff.close()
    await reader.close()
    return max(first_ms), max(visible_ms)


def a_query(rng: random.Random) -> c.SearchGuide:
    words = VOCABULARY[rng.choice(LANGUAGES)].split()
    filters: dict[str, Any] = {}
    chance = rng.random()
    if chance < 0.25:
        filters["market"] = rng.choice(MARKETS)
    elif chance < 0.4:
        filters["topic"] = rng.choice(TOPICS)
    elif chance < 0.5:
        filters["language"] = rng.choice(LANGUAGES)
    return c.SearchGuide(text=" ".join(rng.sample(words, rng.randint(1, 3))), limit=20, **filters)


async def queries(nats_url: str, count: int) -> tuple[float, list[float]]:
    """The first query's time, and each of the next ``count``'s."""
    client = await BusClient.connect(nats_url, source="mapnet/bench", timeout_s=30,
                                     role="sme")  # fmt: skip
    rng = random.Random(7)
    started = time.perf_counter()
    first = await client.call(c.SEARCH_GUIDE, c.SearchGuide(text="company tax"), REGION)
    first_ms = (time.perf_counter() - started) * 1000
    assert first.items, "the first query found nothing"
    print(f"first query: {first_ms:.0f} ms", flush=True)
    latencies = []
    found = 0
    for _ in range(count):
        query = a_query(rng)
        started = time.perf_counter()
        page = await client.call(c.SEARCH_GUIDE, query, REGION)
        latencies.append((time.perf_counter() - started) * 1000)
        found += bool(page.items)
    await client.close()
    print(f"{found} of {count} queries found something", flush=True)
    return first_ms, latencies


async def main(articles: int, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, embedded_servers() as (nats_url, mongo_url):
        async with serving("guide", nats_url, mongo_url, Path(tmp)):
            started = time.perf_counter()
            await load_articles(nats_url, articles)
            print(f"{articles} articles published in {time.perf_counter() - started:.1f} s")
            first_ms, latencies = await queries(nats_url, count)
            after_change_ms, visible_ms = await after_changes(nats_url)
            print(f"first query after a change {after_change_ms:.0f} ms, the change found "
                  f"after {visible_ms:.0f} ms (the slowest of five)")  # fmt: skip
    cuts = statistics.quantiles(latencies, n=100)
    print(
        figures(
            articles=articles,
            p95_ms=f"{cuts[94]:.1f}",
            p50_ms=f"{cuts[49]:.1f}",
            first_query_ms=f"{first_ms:.0f}",
            after_change_ms=f"{after_change_ms:.0f}",
            visible_ms=f"{visible_ms:.0f}",
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    asyncio.run(main(args.articles, args.queries))
