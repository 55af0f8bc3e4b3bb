"""Guide service: the Market Access Guide's articles, local notes, market facts and search.

An article is about one market (an ISO country) and one topic. It is written by the staff of the
market's home region (the region whose country it is, deploy/regions.toml; a market that is no
region's country may be written by any region) and published only after a second person of that
region's staff approved it (four eyes). Every published version is kept. Published articles,
and their withdrawal, are shared with every region, so each region reads the whole guide from
its own copy."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, Field, HttpUrl

from .access import EVERYONE, STAFF
from .common import SINGLE_LINE, CountryCode, Keyword, LanguageCode, Page, SearchText
from .envelope import Payload
from .ids import RegionId
from .operations import command, event, query

Topic = Literal[
    "company_forms",
    "tax_vat",
    "product_rules",
    "public_procurement",
    "employment",
    "intellectual_property",
    "funding",
    "customs_trade",
    "language_culture",
    "contacts",
]
TOPIC_TITLES: dict[Topic, str] = {
    "company_forms": "Company forms and registration",
    "tax_vat": "Tax and VAT",
    "product_rules": "Product rules, certification and CE marking",
    "public_procurement": "Public procurement",
    "employment": "Employment, posting workers and visas",
    "intellectual_property": "Intellectual property",
    "funding": "Funding and finance",
    "customs_trade": "Customs and trade",
    "language_culture": "Language and business culture",
    "contacts": "Contacts: the MAP, the chamber, the enterprise support network, regulators",
}
# draft and in_review: never published yet. A published article being revised stays published
# (readers read its last version) while its revision (``Article.revision``) is worked on.
ArticleStatus = Literal["draft", "in_review", "published", "withdrawn", "archived"]
RevisionState = Literal["draft", "in_review"]
ArticleId = str


class Source(Payload):
    """Where a statement of the article comes from, and when someone last checked it there."""

    url: HttpUrl
    title: str = Field(min_length=1, max_length=300, pattern=SINGLE_LINE)
    checked_on: date = Field(description="The day the source was last read and found to hold")


class ArticleContent(Payload):
    """What the writer writes: one version of an article."""

    topic: Topic
    title: str = Field(min_length=3, max_length=200, pattern=SINGLE_LINE)
    summary: str = Field(min_length=1, max_length=1000)
    body: str = Field(
        default="",
        max_length=100_000,
        description="Markdown (CommonMark). Raw HTML is not rendered; see body_html",
    )
    language: LanguageCode = "en"
    sources: list[Source] = Field(
        default_factory=list, max_length=50, description="At least one to submit"
    )
    tags: list[Keyword] = Field(default_factory=list, max_length=20)
    review_by: date = Field(
        description="The day the article is to be checked again; after it: needs_review"
    )


class WriteArticle(ArticleContent):
    """A new article (no article_id) or a change to an article's working revision."""

    article_id: ArticleId | None = Field(
        default=None, max_length=100, description="None: a new article, its id answered"
    )
    market: CountryCode = Field(description="The country the article is about; fixed once set")
    expected_revision: int | None = Field(
        default=None,
        ge=1,
        description="The article's revision the change was made on: refused (conflict) if it "
        "changed meanwhile. None: whatever it is now",
    )


class ArticleStep(Payload):
    """Submit, approve or return an article's revision."""

    article_id: ArticleId = Field(max_length=100)
    expected_revision: int | None = Field(default=None, ge=1)
    comment: str = Field(default="", max_length=2000, description="For the writer or reviewer")


class WithdrawArticle(Payload):
    article_id: ArticleId = Field(max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class ArchiveArticle(Payload):
    article_id: ArticleId = Field(max_length=100)


class GetArticle(Payload):
    article_id: ArticleId = Field(max_length=100)
    version: int | None = Field(
        default=None, ge=1, description="A published version; None: the latest published"
    )


class VersionInfo(Payload):
    version: int
    published_at: AwareDatetime
    approved_by: str
    written_by: list[str]


class Revision(ArticleContent):
    """An article's working copy, as its home region's staff see it (nobody else does)."""

    state: RevisionState
    written_by: list[str] = Field(description="Everyone who wrote into this revision")
    body_html: str = Field(max_length=2**24)
    submitted_by: str | None = None
    comment: str = ""
    updated_at: AwareDatetime


class LocalNote(Payload):
    """One region's note on another region's article (or its own), kept by that region."""

    note_id: str
    article_id: ArticleId
    article_region: RegionId
    region: RegionId = Field(description="The region that wrote and keeps the note")
    text: str = Field(description="Markdown")
    text_html: str = Field(max_length=2**22)
    written_by: str
    updated_at: AwareDatetime


class Article(Payload):
    """An article as a reader sees it: one published version (the latest unless asked for
    another), rendered; its home region's staff also see an unpublished one's content and the
    working revision."""

    article_id: ArticleId
    region: RegionId = Field(description="The article's home region: only it changes it")
    market: CountryCode
    status: ArticleStatus
    revision_number: int = Field(
        description="Counts every change of the record: expected_revision of the next change"
    )
    version: int = Field(description="The published version shown; 0: never published")
    latest_version: int = Field(description="The newest published version; 0: none")
    content: ArticleContent | None = Field(
        default=None, description="The version shown; None: nothing this reader may read"
    )
    body_html: str = Field(
        default="", max_length=2**24, description="content.body rendered and sanitised"
    )
    needs_review: bool = Field(
        default=False, description="Published, and its review_by day has passed (today UTC)"
    )
    published_at: AwareDatetime | None = None
    approved_by: str | None = Field(
        default=None, description="Named to MAP staff only (None for other readers)"
    )
    written_by: list[str] = Field(
        default_factory=list, description="Of the version shown; to MAP staff only"
    )
    author: str = Field(
        description="Who created the article (the stamped actor); empty but for MAP staff"
    )
    versions: list[VersionInfo] = Field(default_factory=list)
    revision: Revision | None = None
    notes: list[LocalNote] = Field(
        default_factory=list, description="This region's local notes on the article"
    )
    updated_at: AwareDatetime


class ListArticles(Page):
    market: CountryCode | None = None
    topic: Topic | None = None
    language: LanguageCode | None = None
    status: ArticleStatus | None = Field(
        default=None,
        description="None: published. Other statuses list only the asking staff's region's",
    )
    region: RegionId | None = None
    needs_review: bool | None = None


class ArticleSummary(Payload):
    article_id: ArticleId
    region: RegionId
    market: CountryCode
    topic: Topic
    title: str
    summary: str
    language: LanguageCode
    tags: list[str]
    status: ArticleStatus
    version: int
    review_by: date
    needs_review: bool
    revision_state: RevisionState | None = None
    updated_at: AwareDatetime


class ArticlePage(Payload):
    items: list[ArticleSummary]
    next_cursor: str | None = None


class SearchGuide(Page):
    text: SearchText | None = Field(default=None, description="None: every article, by title")
    market: CountryCode | None = None
    topic: Topic | None = None
    language: LanguageCode | None = None
    status: ArticleStatus | None = Field(
        default=None,
        description="None: published. Other statuses find only the asking staff's region's",
    )


class GuideHit(ArticleSummary):
    score: float
    snippet: str = Field(description="Plain text around the first words found (not HTML)")
    matched: list[str] = Field(description="The words of the search found in the article")


class GuidePage(Payload):
    items: list[GuideHit]
    next_cursor: str | None = None


class WriteLocalNote(Payload):
    article_id: ArticleId = Field(max_length=100)
    article_region: RegionId
    note_id: str | None = Field(default=None, max_length=100, description="None: a new note")
    text: str = Field(min_length=1, max_length=10_000, description="Markdown")


class DeleteLocalNote(Payload):
    note_id: str = Field(max_length=100)


# --- events --------------------------------------------------------------------------------


class ArticleChanged(Payload):
    """A step of an article's workflow, inside its home region."""

    article_id: ArticleId
    region: RegionId
    market: CountryCode
    topic: Topic
    title: str
    status: ArticleStatus
    revision_state: RevisionState | None
    revision_number: int
    by: str
    comment: str = ""


class PublishedArticle(ArticleContent):
    """A published version as every region keeps it."""

    article_id: ArticleId
    region: RegionId
    market: CountryCode
    version: int
    published_at: AwareDatetime
    approved_by: str
    written_by: list[str]
    author: str


class ArticleWithdrawn(Payload):
    """A published article is no longer to be read (withdrawn or archived): every copy too."""

    article_id: ArticleId
    region: RegionId
    market: CountryCode
    status: Literal["withdrawn", "archived"]
    version: int = Field(description="The latest published version at withdrawal")
    reason: str = ""


class ArticleReviewDue(Payload):
    """A published version's review_by day is near (14 days or fewer): its writers are told,
    once per version."""

    article_id: ArticleId
    region: RegionId
    market: CountryCode
    topic: Topic
    title: str
    version: int
    review_by: date
    author: str = Field(description="Who created the article")
    written_by: list[str] = Field(description="Who wrote the version due")


class LocalNoteChanged(Payload):
    note_id: str
    article_id: ArticleId
    article_region: RegionId
    region: RegionId
    by: str
    deleted: bool = False


S = "guide"
_HOME_STAFF = (
    "staff of the article's home region only (details.home_region): the region whose country "
    "the market is; a market that is no region's country, the region that created the article"
)
WRITE_ARTICLE = command(
    S,
    "write_article",
    WriteArticle,
    Article,
    "Write a new article (a draft) or change an article's working revision; a published "
    "article stays published, as it is, until the revision is approved",
    roles=STAFF,
    refusals={
        "forbidden": _HOME_STAFF,
        "not_found": "no article with this id here",
        "not_home": "the article is another region's read copy: send it to details.region",
        "conflict": "the article changed since expected_revision, or is archived",
        "validation_failed": "also: data.market differs from the article's (it is fixed)",
    },
)
SUBMIT_ARTICLE = command(
    S,
    "submit_article",
    ArticleStep,
    Article,
    "Submit the working revision for review",
    roles=STAFF,
    refusals={
        "forbidden": _HOME_STAFF,
        "not_found": "no article with this id here",
        "not_home": "the article is another region's read copy: send it to details.region",
        "conflict": "no revision in draft (details.state), or the article changed since "
        "expected_revision",
        "validation_failed": "the revision has no source (fields: sources): an article without "
        "one cannot be submitted",
    },
)
RETURN_ARTICLE = command(
    S,
    "return_article",
    ArticleStep,
    Article,
    "Send a revision in review back to its writers, with a comment",
    roles=STAFF,
    refusals={
        "forbidden": _HOME_STAFF,
        "not_found": "no article with this id here",
        "not_home": "the article is another region's read copy: send it to details.region",
        "conflict": "no revision in review, or the article changed since expected_revision",
    },
)
APPROVE_ARTICLE = command(
    S,
    "approve_article",
    ArticleStep,
    Article,
    "Approve the revision in review: it is published as the next version (four eyes: never "
    "by one of its writers)",
    roles=STAFF,
    refusals={
        "forbidden": _HOME_STAFF + "; four eyes: one who wrote the revision never approves it "
        "(details.rule = 'four_eyes', details.written_by)",
        "not_found": "no article with this id here",
        "not_home": "the article is another region's read copy: send it to details.region",
        "conflict": "no revision in review (details.state), or the article changed since "
        "expected_revision",
    },
)
WITHDRAW_ARTICLE = command(
    S,
    "withdraw_article",
    WithdrawArticle,
    Article,
    "Withdraw a published article: no region shows it any longer (its versions are kept)",
    roles=STAFF,
    refusals={
        "forbidden": _HOME_STAFF,
        "not_found": "no article with this id here",
        "not_home": "the article is another region's read copy: send it to details.region",
        "conflict": "the article is not published",
    },
)
ARCHIVE_ARTICLE = command(
    S,
    "archive_article",
    ArchiveArticle,
    Article,
    "Archive an article for good (a published one is withdrawn from every region too)",
    roles=STAFF,
    refusals={
        "forbidden": _HOME_STAFF,
        "not_found": "no article with this id here",
        "not_home": "the article is another region's read copy: send it to details.region",
    },
)
GET_ARTICLE = query(
    S,
    "get_article",
    GetArticle,
    Article,
    "One article with its body rendered as sanitised HTML, this region's local notes, and "
    "for its home region's staff its working revision; any published version by number",
    roles=EVERYONE,
    refusals={
        "not_found": "no article with this id here (nor a read copy), none this reader may read "
        "(unpublished: home staff only), or no such version",
    },
)
LIST_ARTICLES = query(
    S,
    "list_articles",
    ListArticles,
    ArticlePage,
    "The guide by market and topic (ordered so), published articles of every region from "
    "this region's copies; staff list their own region's drafts and reviews by status",
    roles=EVERYONE,
)
SEARCH_GUIDE = query(
    S,
    "search_guide",
    SearchGuide,
    GuidePage,
    "Full-text search (BM25 over title, summary, body and tags) of the guide, best first, "
    "with snippets",
    roles=EVERYONE,
)
WRITE_LOCAL_NOTE = command(
    S,
    "write_local_note",
    WriteLocalNote,
    LocalNote,
    "Add or change this region's local note on an article (its own record, shown beside "
    "the article in this region)",
    roles=STAFF,
    refusals={
        "not_found": "no published article with this id here (nor a copy), or no such note",
        "forbidden": "staff change only their own region's notes",
    },
)
DELETE_LOCAL_NOTE = command(
    S,
    "delete_local_note",
    DeleteLocalNote,
    LocalNote,
    "Delete one of this region's local notes",
    roles=STAFF,
    refusals={
        "not_found": "no such note",
        "forbidden": "staff delete only their own region's notes",
    },
)

ARTICLE_CHANGED = event(
    S, "article_changed", ArticleChanged, "An article was written, submitted or returned"
)
ARTICLE_PUBLISHED = event(
    S,
    "article_published",
    PublishedArticle,
    "A version of an article was approved and published (shared with every region)",
    shared=True,
)
ARTICLE_WITHDRAWN = event(
    S,
    "article_withdrawn",
    ArticleWithdrawn,
    "A published article was withdrawn or archived (shared with every region)",
    shared=True,
)
ARTICLE_REVIEW_DUE = event(
    S,
    "article_review_due",
    ArticleReviewDue,
    "A published version is due for review within 14 days (once per version)",
)
LOCAL_NOTE_CHANGED = event(
    S, "local_note_changed", LocalNoteChanged, "A region's local note was written or deleted"
)


# --- market facts (the facts card) ---------------------------------------------------------
# Computed from maintained packages, never typed by hand: each fact names the data it comes
# from (package and version, or the file it was read from) and the day it holds for.


class GetMarketFacts(Payload):
    market: CountryCode
    language: LanguageCode = Field(
        default="en", description="Names (languages, currency, holidays) in this language where "
        "the data has them, else in English",
    )  # fmt: skip


class FactSource(Payload):
    title: str = Field(description="The data a fact comes from, e.g. 'holidays 0.109'")
    url: HttpUrl | None = None
    as_of: date = Field(
        description="The day the fact holds for (the data's own date if it has one)"
    )
    note: str = Field(default="", description="What the data does not say, or a correction")


class CurrencyFact(Payload):
    code: str | None = Field(description="ISO 4217; None: the data knows no currency in use")
    name: str = ""
    source: FactSource


class LanguagesFact(Payload):
    codes: list[str] = Field(description="ISO 639 codes of the official languages")
    names: list[str]
    source: FactSource


class Holiday(Payload):
    day: date
    name: str


class HolidaysFact(Payload):
    start: date = Field(description="The first day listed (today)")
    end: date = Field(description="The last day listed (twelve months on)")
    days: list[Holiday] = Field(description="National public holidays in the period, by date")
    source: FactSource


VatStatus = Literal["eu", "outside_eu", "not_in_data"]


class VatFact(Payload):
    status: VatStatus = Field(
        description="eu: an EU member state's rates; outside_eu: rates the data keeps for a "
        "country outside the EU; not_in_data: the data knows no rates for it"
    )
    name: str = Field(default="", description="The tax's name in the country, e.g. 'Käibemaks'")
    abbreviation: str = ""
    standard: float | None = Field(default=None, description="Per cent")
    reduced: list[float] = Field(default_factory=list, description="Per cent, ascending")
    super_reduced: float | None = None
    parking: float | None = None
    source: FactSource


IdentifierKind = Literal["company", "vat", "tax"]


class IdentifierFact(Payload):
    kind: IdentifierKind = Field(description="company registration, VAT or tax identification")
    name: str = Field(description="What the number is called, e.g. 'Registrikood (Estonian …)'")
    description: str = Field(default="", description="How it looks and is checked")
    example: str | None = Field(default=None, description="A number that passes the check")
    checked_by: str | None = Field(
        default=None, description="The python-stdnum module that checks it; None: none does"
    )
    issued_by: str = Field(default="", description="The register or authority that issues it")
    source: FactSource


class MapContact(Payload):
    """The market's home region's MAP, with the contact its operator set in the network's list
    of regions (deploy/regions.toml: map_name, map_email, map_url, map_phone). Never made up:
    where none is set, ``contact_set`` is false and the fields are empty."""

    region: RegionId | None = Field(description="The market's home region; None: no region's")
    city: str = ""
    contact_set: bool = Field(
        default=False,
        description="Whether the home region's operator set any of the MAP's contact details; "
        "false: the card says so and where they are set (source.note)",
    )
    name: str = ""
    email: str = ""
    url: str = ""
    phone: str = ""
    source: FactSource


class MarketFacts(Payload):
    market: CountryCode
    country_name: str
    computed_on: date
    currency: CurrencyFact
    languages: LanguagesFact
    holidays: HolidaysFact
    vat: VatFact
    identifiers: list[IdentifierFact]
    map_contact: MapContact


GET_MARKET_FACTS = query(
    S,
    "get_market_facts",
    GetMarketFacts,
    MarketFacts,
    "A market's facts card: currency, official languages, public holidays of the next twelve "
    "months, VAT rates, how company and VAT ids look and are checked, and the MAP to ask; "
    "each fact with its source and the day it holds for. Public information: everyone",
    roles=EVERYONE,
)
