"""MongoDB repositories of the guide: articles (one document per article holding its state and
its outbox, written with optimistic concurrency on its revision number), beside them read copies
of the other regions' published articles (same collection, so that the guide is one query),
every published version, and this region's local notes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from contracts import guide as c
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from mapnet.runtime import outbox
from mapnet.runtime.mongo import Database, storable

from ..domain.articles import ArticleRecord, PublishedVersion, WorkingRevision, content_of
from ..domain.markdown import to_text

ARTICLES = "articles"
VERSIONS = "article_versions"
NOTES = "local_notes"
# One counter the search index compares with its own, to know it must be rebuilt.
STATE = "guide_state"
# Marks a demo's starter copy of another region's article (put_starter_copy).
STARTER_COPY = "starter_copy"


def sort_key(market: str, topic: str, title: str) -> str:
    """The guide's order: by market, then topic, then title."""
    return f"{market}|{topic}|{title.casefold()}"


def _day(value: date) -> str:
    return value.isoformat()


def record_state(article: ArticleRecord) -> dict[str, Any]:
    shown = article.shown_content()
    latest = article.latest
    revision = article.revision
    return storable(
        {
            "region": article.region,
            "market": article.market,
            "author": article.author,
            "status": article.status,
            "revision_number": article.revision_number,
            "updated_at": article.updated_at.isoformat(),
            "reason": article.reason,
            "reminded": article.reminded,
            "versions": [v.model_dump(mode="json") for v in article.versions],
            "latest": None
            if latest is None
            else {
                "version": latest.version,
                "content": latest.content.model_dump(mode="json"),
                "published_at": latest.published_at.isoformat(),
                "approved_by": latest.approved_by,
                "written_by": latest.written_by,
            },
            "revision": None
            if revision is None
            else {
                "content": revision.content.model_dump(mode="json"),
                "state": revision.state,
                "written_by": revision.written_by,
                "updated_at": revision.updated_at.isoformat(),
                "submitted_by": revision.submitted_by,
                "comment": revision.comment,
            },
            # Flat fields of what lists and search show, for their filters and order.
            "topic": shown.topic,
            "language": shown.language,
            "title": shown.title,
            "summary": shown.summary,
            "tags": shown.tags,
            "review_by": _day(shown.review_by),
            "version": article.latest_version,
            "revision_state": revision.state if revision else None,
            "sort_key": sort_key(article.market, shown.topic, shown.title),
            "plain_text": to_text(shown.body),
        }
    )


def record_from_doc(doc: dict[str, Any]) -> ArticleRecord:
    latest = doc.get("latest")
    revision = doc.get("revision")
    return ArticleRecord(
        article_id=doc["_id"],
        region=doc["region"],
        market=doc["market"],
        author=doc["author"],
        status=doc["status"],
        revision_number=int(doc["revision_number"]),
        updated_at=datetime.fromisoformat(doc["updated_at"]),
        reason=doc.get("reason", ""),
        reminded=list(doc.get("reminded", [])),
        versions=[c.VersionInfo.model_validate(v) for v in doc.get("versions", [])],
        latest=None
        if latest is None
        else PublishedVersion(
            version=int(latest["version"]),
            content=c.ArticleContent.model_validate(latest["content"]),
            published_at=datetime.fromisoformat(latest["published_at"]),
            approved_by=latest["approved_by"],
            written_by=list(latest["written_by"]),
        ),
        revision=None
        if revision is None
        else WorkingRevision(
            content=c.ArticleContent.model_validate(revision["content"]),
            state=revision["state"],
            written_by=list(revision["written_by"]),
            updated_at=datetime.fromisoformat(revision["updated_at"]),
            submitted_by=revision.get("submitted_by"),
            comment=revision.get("comment", ""),
        ),
    )


class ArticleRepository:
    """The region's own articles and the other regions' published ones (read copies). Only
    own articles change here; a command about a copy is refused as not_home, naming its
    region."""

    def __init__(self, db: Database, region: str) -> None:
        self.articles = db[ARTICLES]
        self.versions = db[VERSIONS]
        self.state = db[STATE]
        self.region = region
        # Told after each change of the articles (the search index rebuilds).
        self.on_change: list[Callable[[], None]] = []

    async def create_indexes(self) -> None:
        await self.articles.create_index([("sort_key", ASCENDING)], name="sort_key")
        await self.articles.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")
        await self.articles.create_index([("status", ASCENDING)], name="status")
        await self.versions.create_index([("article_id", ASCENDING)], name="article_id")

    async def changes(self) -> int:
        """How many times the articles changed (own or copied): the search index's clock."""
        doc = await self.state.find_one({"_id": ARTICLES})
        return int(doc["changes"]) if doc else 0

    async def _changed(self) -> None:
        await self.state.update_one({"_id": ARTICLES}, {"$inc": {"changes": 1}}, upsert=True)
        for listener in self.on_change:
            listener()

    async def find(self, article_id: str) -> ArticleRecord | None:
        """An article of this region or a read copy of another's."""
        doc = await self.articles.find_one({"_id": article_id})
        return record_from_doc(doc) if doc else None

    async def require_own(self, article_id: str) -> ArticleRecord:
        article = await self.find(article_id)
        if article is None:
            raise not_found("article", article_id)
        if article.region != self.region:
            home = article.region
            raise Refused(
                "not_home",
                f"article {article_id} belongs to region {home}: send this to mapnet.{home}.guide",
                region=home,
                id=article_id,
            )
        return article

    async def add(self, article: ArticleRecord, events: Sequence[Envelope[Any]]) -> None:
        await outbox.save_versioned(
            self.articles, article.article_id, record_state(article), events,
            expected=None, what=f"article {article.article_id}",
        )  # fmt: skip
        await self._changed()

    async def save(
        self, article: ArticleRecord, expected_revision: int, events: Sequence[Envelope[Any]]
    ) -> None:
        """Replace the revision read with the article as it now is, with its events."""
        await outbox.save_versioned(
            self.articles, article.article_id, record_state(article), events,
            expected=expected_revision, what=f"article {article.article_id}",
            version_field="revision_number", expected_name="expected_revision",
        )  # fmt: skip
        await self._changed()

    async def save_reminder(
        self, article: ArticleRecord, version: int, events: Sequence[Envelope[Any]]
    ) -> bool:
        """Record a version's review reminder with its event, unless it was recorded already
        (by another instance) or the article changed meanwhile: then False."""
        result = await self.articles.update_one(
            {
                "_id": article.article_id,
                "revision_number": article.revision_number,
                "reminded": {"$ne": version},
            },
            outbox.change(
                {"reminded": article.reminded}, events, seq=article.revision_number * 100 + 50
            ),
        )
        return result.matched_count == 1

    async def due_for_review(self, until: date) -> list[ArticleRecord]:
        """This region's published articles whose review_by is on or before ``until``."""
        found = self.articles.find(
            {"region": self.region, "status": "published", "review_by": {"$lte": _day(until)}}
        )
        return [record_from_doc(doc) async for doc in found]

    # --- versions -------------------------------------------------------------------------

    async def keep_version(self, published: c.PublishedArticle) -> None:
        """A published version, kept for good (written again the same if repeated)."""
        key = f"{published.article_id}:{published.version}"
        await self.versions.replace_one(
            {"_id": key},
            {"_id": key, "article_id": published.article_id, **storable(
                published.model_dump(mode="json"))},
            upsert=True,
        )  # fmt: skip

    async def version(
        self, article_id: str, version: int, region: str
    ) -> c.PublishedArticle | None:
        """A kept version of the article of ``region`` (never one another region kept under
        the same id)."""
        doc = await self.versions.find_one({"_id": f"{article_id}:{version}", "region": region})
        if doc is None:
            return None
        return c.PublishedArticle.model_validate(
            {k: v for k, v in doc.items() if k not in ("_id",)}
        )

    # --- read copies of the other regions' articles ---------------------------------------

    async def put_copy(self, published: c.PublishedArticle) -> None:
        """Another region's published version: kept, and shown unless a newer one (or its
        withdrawal) is here already. It replaces a starter copy of the same article, whatever
        its version."""
        if published.region == self.region:
            return
        doc = await self.articles.find_one({"_id": published.article_id})
        if doc is not None and doc["region"] != published.region:
            # An id that is another region's article (this region's own, or a copy): neither
            # it nor its kept versions are overwritten (a region sharing a version under
            # another's article id would otherwise rewrite that article's history here).
            return
        await self.keep_version(published)
        starter = doc is not None and bool(doc.get(STARTER_COPY))
        known = record_from_doc(doc) if doc is not None and not starter else None
        if known is not None and known.latest_version >= published.version:
            if published.version not in {v.version for v in known.versions}:
                known.versions = sorted(
                    [*known.versions, ArticleRecord.copy_of(published, []).versions[0]],
                    key=lambda v: v.version,
                )
                await self.articles.update_one(
                    {"_id": published.article_id},
                    {"$set": {"versions": [v.model_dump(mode="json") for v in known.versions]}},
                )
            return
        copy = ArticleRecord.copy_of(published, known.versions if known else [])
        state = record_state(copy)
        if doc is None:
            try:
                await self.articles.insert_one({"_id": copy.article_id, **state})
            except DuplicateKeyError:
                return  # a concurrent copy: the next delivery of either settles it
        else:
            older = {STARTER_COPY: True} if starter else {"version": {"$lt": published.version}}
            await self.articles.update_one(
                {"_id": copy.article_id, **older},
                {"$set": state, "$unset": {STARTER_COPY: ""}},
            )
        await self._changed()

    async def put_starter_copy(self, published: c.PublishedArticle) -> bool:
        """A demo's stand-in for another region's published article, until the copy of the real
        one arrives (put_copy replaces it): put in unless that copy is here already, or given
        the starter text again if it changed. Answers whether anything changed."""
        if published.region == self.region:
            return False
        state = {**record_state(ArticleRecord.copy_of(published, [])), STARTER_COPY: True}
        doc = await self.articles.find_one({"_id": published.article_id})
        if doc is None:
            try:
                await self.articles.insert_one({"_id": published.article_id, **state})
            except DuplicateKeyError:
                return False  # the real copy came meanwhile
        else:
            if not doc.get(STARTER_COPY) or doc["region"] != published.region:
                return False  # the real copy, or another article's id: never overwritten
            if doc["status"] != "published":
                return False  # withdrawn at home meanwhile: not shown again
            kept = record_from_doc(doc).latest
            if kept is not None and kept.content == content_of(published):
                return False
            result = await self.articles.update_one(
                {"_id": published.article_id, STARTER_COPY: True}, {"$set": state}
            )
            if result.modified_count == 0:
                return False
        await self._changed()
        return True

    async def withdraw_copy(self, withdrawn: c.ArticleWithdrawn) -> None:
        """Another region withdrew or archived its article: the copy is no longer shown
        (and a late copy of a version up to the withdrawn one does not show it again)."""
        if withdrawn.region == self.region:
            return
        await self.articles.update_one(
            {
                "_id": withdrawn.article_id,
                "region": withdrawn.region,
                "version": {"$lte": withdrawn.version},
            },
            {"$set": {"status": withdrawn.status, "reason": withdrawn.reason}},
        )
        await self._changed()

    async def all_docs(self) -> list[dict[str, Any]]:
        """Every article (own and copies), with what the search needs of it."""
        projection = {
            "_id": 1, "region": 1, "market": 1, "topic": 1, "language": 1, "status": 1,
            "title": 1, "summary": 1, "tags": 1, "plain_text": 1, "version": 1,
            "review_by": 1, "revision_state": 1, "updated_at": 1, "sort_key": 1,
        }  # fmt: skip
        return await self.articles.find({}, projection).to_list(None)


def _note_state(note: c.LocalNote, version: int, deleted: bool) -> dict[str, Any]:
    return storable(
        {
            **note.model_dump(mode="json", exclude={"note_id", "text_html"}),
            "version": version,
            "deleted": deleted,
        }
    )


class NoteRepository:
    """This region's local notes on articles (its own or other regions')."""

    def __init__(self, db: Database) -> None:
        self.notes = db[NOTES]

    async def create_indexes(self) -> None:
        await self.notes.create_index([("article_id", ASCENDING)], name="article_id")
        await self.notes.create_index([("outbox_pending", ASCENDING)], name="outbox_pending")

    async def get(self, note_id: str) -> tuple[dict[str, Any], int] | None:
        doc = await self.notes.find_one({"_id": note_id, "deleted": False})
        return (doc, int(doc["version"])) if doc else None

    async def of_article(self, article_id: str) -> list[dict[str, Any]]:
        found = self.notes.find({"article_id": article_id, "deleted": False})
        return sorted([doc async for doc in found], key=lambda d: (d["updated_at"], d["_id"]))

    async def save(
        self,
        note: c.LocalNote,
        expected_version: int | None,
        events: Sequence[Envelope[Any]],
        *,
        deleted: bool = False,
    ) -> None:
        version = 1 if expected_version is None else expected_version + 1
        await outbox.save_versioned(
            self.notes, note.note_id, _note_state(note, version, deleted), events,
            expected=expected_version, what=f"note {note.note_id}",
        )  # fmt: skip
