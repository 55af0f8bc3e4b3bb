"""The Market Access Guide's operations on the bus: articles, notes, search, and the copies of
the other regions' published articles."""

from __future__ import annotations

from contracts import guide as c
from contracts.envelope import Envelope
from mapnet.runtime.service import Runtime

from ..adapters.articles_repository import ARTICLES, NOTES, ArticleRepository, NoteRepository
from ..adapters.markets import market_homes
from ..service_layer.articles import Articles
from ..settings import GuideSettings
from .demo import starter_copies
from .facts_bus import build_facts


def build_articles(rt: Runtime) -> None:
    """Routes of the guide's articles."""
    settings = rt.config if isinstance(rt.config, GuideSettings) else GuideSettings()
    articles = ArticleRepository(rt.db, rt.region)
    notes = NoteRepository(rt.db)
    guide = Articles(
        rt.unit_of_work(), articles, notes, market_homes(settings.regions_file,
                                                          settings.home_markets)
    )  # fmt: skip
    rt.outbox_collections += [ARTICLES, NOTES]

    async def start_search_index() -> None:
        guide.index.changed()  # built beside the start: the first search need not build it

    rt.startup += [articles.create_indexes, notes.create_indexes, start_search_index]
    if settings.demo:
        # The other regions' markets shown from the start, as read copies of their demos'
        # articles. Put in by this process alone, from its package: no request can.
        async def put_starter_copies() -> None:
            await guide.put_starter_copies(starter_copies(guide.homes, guide.now()))

        rt.startup.append(put_starter_copies)
    rt.shutdown.append(guide.index.stop)
    # At start and then periodically: the reminders of articles due for review (once each).
    rt.every(settings.review_check_s, guide.remind_due, "article_review_check")

    build_facts(rt)  # the market facts card (facts_bus.py)
    rt.handles(c.WRITE_ARTICLE)(guide.write_article)
    rt.handles(c.SUBMIT_ARTICLE)(guide.submit_article)
    rt.handles(c.RETURN_ARTICLE)(guide.return_article)
    rt.handles(c.APPROVE_ARTICLE)(guide.approve_article)
    rt.handles(c.WITHDRAW_ARTICLE)(guide.withdraw_article)
    rt.handles(c.ARCHIVE_ARTICLE)(guide.archive_article)
    rt.handles(c.GET_ARTICLE)(guide.get_article)
    rt.handles(c.LIST_ARTICLES)(guide.list_articles)
    rt.handles(c.SEARCH_GUIDE)(guide.search_guide)
    rt.handles(c.WRITE_LOCAL_NOTE)(guide.write_local_note)
    rt.handles(c.DELETE_LOCAL_NOTE)(guide.delete_local_note)

    @rt.consumes_network(c.ARTICLE_PUBLISHED)
    async def on_network_article(event: Envelope[c.PublishedArticle]) -> None:
        await guide.copy_published(event.data)

    @rt.consumes_network(c.ARTICLE_WITHDRAWN)
    async def on_network_withdrawal(event: Envelope[c.ArticleWithdrawn]) -> None:
        await guide.copy_withdrawn(event.data)

    rt.publishes(
        c.ARTICLE_CHANGED,
        c.ARTICLE_PUBLISHED,
        c.ARTICLE_WITHDRAWN,
        c.ARTICLE_REVIEW_DUE,
        c.LOCAL_NOTE_CHANGED,
    )
