"""The Market Access Guide's pages put together from the guide service's answers: a market's
articles by topic beside its facts card, search hits with the words found marked, an article to
read, a staff member's work list, and a revision beside the published version for its reviewer.
Everything here comes over the bus (the caller passes the portal's call); the pages get plain
data. Article bodies arrive rendered and sanitised by the guide (``body_html``); nothing here
renders Markdown or marks text safe."""

from __future__ import annotations

import asyncio
import difflib
import itertools
import re
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from contracts import guide as g
from contracts import matching as mt
from contracts.access import STAFF, Actor
from contracts.errors import Refused

from ..domain.users import N_

TOPICS: tuple[g.Topic, ...] = get_args(g.Topic)
# Lists of the guide read a page of this many at a time, to the end (a region's own articles).
PAGE = 100
# Topics named beside a partner's market in partner search ("read: company forms, VAT, …").
LINKED_TOPICS = 3
# Unified diff context: the lines around each change that show where it is.
DIFF_CONTEXT = 3
_WORD = re.compile(r"\w+", re.UNICODE)


class Call(Protocol):
    """The portal's request to a service of its region, acting for someone."""

    def __call__(self, op: Any, data: Any, actor: Actor, /) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class Market:
    code: str
    name: str


@dataclass(frozen=True)
class TopicArticles:
    topic: str
    title: str
    articles: list[g.ArticleSummary]


@dataclass(frozen=True)
class MarketGuide:
    market: Market
    facts: g.MarketFacts | None
    facts_problem: str | None
    topics: list[TopicArticles]
    writes_here: bool = False  # the person may write this market's articles here


@dataclass(frozen=True)
class Hit:
    hit: g.GuideHit
    market: Market
    topic_title: str
    snippet: list[tuple[str, bool]] = field(default_factory=list)  # (text, a word searched for)


@dataclass(frozen=True)
class DiffLine:
    kind: Literal["added", "removed", "same", "hunk"]
    text: str


@dataclass(frozen=True)
class FieldChange:
    name: str
    published: str
    revised: str


@dataclass(frozen=True)
class ReviewView:
    article: g.Article
    revision: g.Revision
    against_version: int  # 0: never published, the whole revision is new
    changes: list[FieldChange]
    body_diff: list[DiffLine]
    may_approve: bool
    why_not: str | None  # why this person may not approve, shown on the page


@dataclass(frozen=True)
class WorkList:
    in_review: list[g.ArticleSummary]
    drafts: list[g.ArticleSummary]
    due: list[g.ArticleSummary]


@dataclass(frozen=True)
class GuideLink:
    """A market's guide as partner search names it: a few topics to read first."""

    market: Market
    topics: list[tuple[str, str]] = field(default_factory=list)  # (topic title, article_id)


@dataclass(frozen=True)
class GuideLinks:
    """The guide links a page shows beside its own matter (a company, partner search), by key
    (market or profile id). ``unavailable``: the guide did not answer, and the page says so
    instead of losing itself to a service that only adds to it."""

    links: dict[str, GuideLink]
    unavailable: bool = False


def is_staff_here(actor: Actor, region: str) -> bool:
    return actor.role in STAFF and actor.region == region


class Guide:
    """The guide's pages' data, for a region's portal."""

    def __init__(
        self, call: Call, region: str, names: Mapping[str, str], countries: Mapping[str, str]
    ) -> None:
        self.call, self.region = call, region
        self.names = names  # country names in the portal's language, by ISO code
        self.countries = countries  # each region's country (the regions file)

    def market(self, code: str) -> Market:
        return Market(code, self.names.get(code, code))

    def network_markets(self) -> list[Market]:
        """The network's countries, by name: the guide's first markets."""
        return sorted((self.market(c) for c in set(self.countries.values())), key=lambda m: m.name)

    def home_market(self) -> str | None:
        return self.countries.get(self.region)

    async def market_guide(self, market: str, actor: Actor) -> MarketGuide:
        """A market's published articles by topic (every topic listed, written or not) and its
        facts card; a card the guide cannot give is named, not a failed page."""
        articles = self._every(g.ListArticles(market=market), actor)
        facts = refusal_or(self.call(g.GET_MARKET_FACTS, g.GetMarketFacts(market=market), actor))
        found, card = await asyncio.gather(articles, facts)
        by_topic: dict[str, list[g.ArticleSummary]] = {t: [] for t in TOPICS}
        for summary in found:
            by_topic[summary.topic].append(summary)
        topics = [TopicArticles(t, g.TOPIC_TITLES[t], by_topic[t]) for t in TOPICS]
        home = self.home_market()
        # Staff write their own region's market, and any market that is no region's country.
        writes = is_staff_here(actor, self.region) and (
            market == home or market not in set(self.countries.values())
        )
        if isinstance(card, Refused):
            return MarketGuide(self.market(market), None, card.message, topics, writes)
        return MarketGuide(self.market(market), card, None, topics, writes)

    async def search(self, query: g.SearchGuide, actor: Actor) -> tuple[list[Hit], str | None]:
        found: g.GuidePage = await self.call(g.SEARCH_GUIDE, query, actor)
        hits = [
            Hit(h, self.market(h.market), g.TOPIC_TITLES[h.topic], marked(h.snippet, h.matched))
            for h in found.items
        ]
        return hits, found.next_cursor

    async def article(self, article_id: str, version: int | None, actor: Actor) -> g.Article:
        asked = g.GetArticle(article_id=article_id, version=version)
        article: g.Article = await self.call(g.GET_ARTICLE, asked, actor)
        return article

    def may_edit(self, article: g.Article, actor: Actor) -> bool:
        """Staff of the article's home region change it, in their own region's portal."""
        return is_staff_here(actor, self.region) and article.region == self.region

    async def review(self, article_id: str, actor: Actor) -> ReviewView:
        """The working revision beside the latest published version (or beside nothing, for an
        article never published), and whether this person may approve it (four eyes)."""
        article = await self.article(article_id, None, actor)
        if article.revision is None:
            raise Refused("not_found", f"article {article_id} has no revision to review")
        revision = article.revision
        published = article.content if article.latest_version else None
        mine = actor.id in revision.written_by
        if revision.state != "in_review":
            why = N_("The revision is a draft: it is submitted for review first.")
        elif mine:
            why = N_(
                "You wrote this revision: another member of the region's staff approves it "
                "(four eyes)."
            )
        else:
            why = None
        return ReviewView(
            article=article,
            revision=revision,
            against_version=article.version if published else 0,
            changes=field_changes(published, revision),
            body_diff=body_diff(published.body if published else "", revision.body),
            may_approve=why is None,
            why_not=why,
        )

    async def work(self, actor: Actor) -> WorkList:
        """The region's articles waiting for someone: revisions in review, drafts, and published
        articles past (or near) their review day."""
        drafts, reviews, published, due = await asyncio.gather(
            self._every(g.ListArticles(status="draft"), actor),
            self._every(g.ListArticles(status="in_review"), actor),
            self._every(g.ListArticles(region=self.region), actor),
            self._every(g.ListArticles(region=self.region, needs_review=True), actor),
        )
        revised = [a for a in published if a.revision_state is not None]
        return WorkList(
            in_review=reviews + [a for a in revised if a.revision_state == "in_review"],
            drafts=drafts + [a for a in revised if a.revision_state == "draft"],
            due=due,
        )

    async def partner_links(self, partners: Iterable[mt.PartnerMatch], actor: Actor) -> GuideLinks:
        """The guide of each partner's market, by profile id: the country the partner is based
        in (an SME registered at one region's MAP may be based in another country), else its
        region's country."""
        market_of = {
            p.profile_id: market
            for p in partners
            if (market := p.country or self.countries.get(p.sme.region))
        }
        found = await self.market_links(market_of.values(), actor)
        by_profile = {pid: found.links[m] for pid, m in market_of.items() if m in found.links}
        return GuideLinks(by_profile, found.unavailable)

    async def market_links(self, markets: Iterable[str], actor: Actor) -> GuideLinks:
        """Each market's guide as a few topics to read first, by market (none for a market
        without articles)."""
        wanted = sorted(set(markets))
        found = await asyncio.gather(
            *(
                refusal_or(self.call(g.LIST_ARTICLES, g.ListArticles(market=m, limit=20), actor))
                for m in wanted
            )
        )
        links: dict[str, GuideLink] = {}
        unavailable = False
        for market, page in zip(wanted, found, strict=True):
            if isinstance(page, Refused):
                unavailable = True
                continue
            topics: dict[str, tuple[str, str]] = {}
            for a in page.items:
                topics.setdefault(a.topic, (g.TOPIC_TITLES[a.topic], a.article_id))
            if topics:
                first = list(topics.values())[:LINKED_TOPICS]
                links[market] = GuideLink(self.market(market), first)
        return GuideLinks(links, unavailable)

    async def _every(self, query: g.ListArticles, actor: Actor) -> list[g.ArticleSummary]:
        items: list[g.ArticleSummary] = []
        query = query.model_copy(update={"limit": PAGE})
        while True:
            page: g.ArticlePage = await self.call(g.LIST_ARTICLES, query, actor)
            items.extend(page.items)
            if not page.next_cursor:
                return items
            query = query.model_copy(update={"cursor": page.next_cursor})


async def refusal_or(answer: Awaitable[Any]) -> Any:
    """The answer, or the service's refusal as a value (a part of a page it leaves out)."""
    try:
        return await answer
    except Refused as refusal:
        return refusal


def marked(snippet: str, matched: Iterable[str]) -> list[tuple[str, bool]]:
    """A hit's plain-text snippet in parts, each word the search found marked (the page shows
    them as <mark>, escaped like any text)."""
    wanted = {w.lower() for w in matched}
    parts: list[tuple[str, bool]] = []
    at = 0
    for word in _WORD.finditer(snippet):
        if word.group().lower() in wanted:
            if word.start() > at:
                parts.append((snippet[at : word.start()], False))
            parts.append((word.group(), True))
            at = word.end()
    if at < len(snippet):
        parts.append((snippet[at:], False))
    return parts


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(_shown(v) for v in value)
    if isinstance(value, g.Source):
        return f"{value.title} <{value.url}> checked {value.checked_on.isoformat()}"
    return str(value)


COMPARED = ("topic", "title", "summary", "language", "sources", "tags", "review_by")


def field_changes(published: g.ArticleContent | None, revision: g.Revision) -> list[FieldChange]:
    """The fields the revision changes (every field, for an article never published)."""
    changes = []
    for name in COMPARED:
        before = _shown(getattr(published, name)) if published else ""
        after = _shown(getattr(revision, name))
        if before != after:
            changes.append(FieldChange(name.replace("_", " "), before, after))
    return changes


def body_diff(published: str, revised: str) -> list[DiffLine]:
    """The Markdown bodies as a unified diff, line by line (the page escapes each line)."""
    lines = difflib.unified_diff(
        published.splitlines(), revised.splitlines(), lineterm="", n=DIFF_CONTEXT
    )
    shown: list[DiffLine] = []
    for line in itertools.islice(lines, 2, None):  # after the two lines naming the files
        if line.startswith("@@"):
            shown.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            shown.append(DiffLine("added", line[1:]))
        elif line.startswith("-"):
            shown.append(DiffLine("removed", line[1:]))
        else:
            shown.append(DiffLine("same", line[1:]))
    return shown
