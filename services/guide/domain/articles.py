"""An article of the Market Access Guide and its workflow: a working revision written (draft),
submitted (in review), approved by a second person (published as the next version, every
version kept) or returned; a published article withdrawn or archived. A published article's
revision is worked on while readers still read the last published version.

No I/O here: the article checks its rules and records the events its changes cause."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from contracts import guide as c
from contracts.errors import Refused, conflict

Recorded = tuple[Any, Any]  # (operation, payload)

# The author is reminded this many days before a published version's review_by.
REMIND_DAYS_BEFORE = 14


def field_error(name: str, message: str, kind: str = "value_error") -> dict[str, str]:
    return {"field": name, "message": message, "type": kind}


def invalid(*errors: dict[str, str]) -> Refused:
    return Refused(
        "validation_failed",
        "; ".join(f"{e['field']}: {e['message']}" for e in errors),
        fields=list(errors),
    )


@dataclass
class PublishedVersion:
    version: int
    content: c.ArticleContent
    published_at: datetime
    approved_by: str
    written_by: list[str]

    def info(self) -> c.VersionInfo:
        return c.VersionInfo(
            version=self.version,
            published_at=self.published_at,
            approved_by=self.approved_by,
            written_by=self.written_by,
        )


@dataclass
class WorkingRevision:
    content: c.ArticleContent
    state: c.RevisionState
    written_by: list[str]
    updated_at: datetime
    submitted_by: str | None = None
    comment: str = ""


@dataclass
class ArticleRecord:
    article_id: str
    region: str
    market: str
    author: str
    status: c.ArticleStatus
    revision_number: int
    updated_at: datetime
    latest: PublishedVersion | None = None
    revision: WorkingRevision | None = None
    versions: list[c.VersionInfo] = field(default_factory=list)
    # Published versions whose review reminder was sent (once per version).
    reminded: list[int] = field(default_factory=list)
    reason: str = ""
    events: list[Recorded] = field(default_factory=list)

    # --- the workflow ---------------------------------------------------------------------

    @classmethod
    def create(
        cls, article_id: str, region: str, data: c.WriteArticle, author: str, now: datetime
    ) -> ArticleRecord:
        article = cls(
            article_id=article_id,
            region=region,
            market=data.market,
            author=author,
            status="draft",
            revision_number=1,
            updated_at=now,
            revision=WorkingRevision(content_of(data), "draft", [author], now),
        )
        article._changed(author)
        return article

    def write(self, data: c.WriteArticle, by: str, now: datetime) -> None:
        """Change the working revision (start one on a published or withdrawn article). A
        revision in review goes back to draft: what is approved is what was reviewed."""
        self._not_archived()
        if data.market != self.market:
            raise invalid(
                field_error("data.market", f"the article's market is {self.market}; it is fixed")
            )
        content = content_of(data)
        revision = self.revision
        if (
            revision is not None
            and (revision.state, revision.content) == ("draft", content)
            and by in revision.written_by
        ):
            return  # the same text again by the same writer: nothing changes
        writers = list(revision.written_by) if revision is not None else []
        if by not in writers:
            writers.append(by)
        self.revision = WorkingRevision(content, "draft", writers, now)
        if self.status == "in_review":
            self.status = "draft"
        self._bump(now)
        self._changed(by)

    def submit(self, by: str, comment: str, now: datetime) -> None:
        revision = self._revision_in("draft")
        if not revision.content.sources:
            raise invalid(
                field_error(
                    "sources", "an article needs at least one source to be submitted", "missing"
                )
            )
        revision.state, revision.submitted_by = "in_review", by
        revision.comment, revision.updated_at = comment, now
        if self.status == "draft":
            self.status = "in_review"
        self._bump(now)
        self._changed(by, comment)

    def send_back(self, by: str, comment: str, now: datetime) -> None:
        revision = self._revision_in("in_review")
        revision.state, revision.comment, revision.updated_at = "draft", comment, now
        if self.status == "in_review":
            self.status = "draft"
        self._bump(now)
        self._changed(by, comment)

    def approve(self, by: str, now: datetime) -> PublishedVersion:
        """Publish the revision in review as the next version. Four eyes: nobody who wrote
        into the revision approves it."""
        revision = self._revision_in("in_review")
        if by in revision.written_by:
            raise Refused(
                "forbidden",
                f"{by} wrote this revision: another person of the region's staff approves it",
                rule="four_eyes",
                written_by=revision.written_by,
                fields=[field_error("actor", "wrote the revision", "four_eyes")],
            )
        published = PublishedVersion(
            version=self.latest_version + 1,
            content=revision.content,
            published_at=now,
            approved_by=by,
            written_by=list(revision.written_by),
        )
        self.latest, self.revision, self.status, self.reason = published, None, "published", ""
        self.versions.append(published.info())
        self._bump(now)
        self._changed(by)
        self.events.append((c.ARTICLE_PUBLISHED, self.published_article(published)))
        return published

    def withdraw(self, by: str, reason: str, now: datetime) -> None:
        if self.status != "published":
            raise conflict(
                f"article {self.article_id} is {self.status}, not published", status=self.status
            )
        self.status, self.reason = "withdrawn", reason
        self._bump(now)
        self._changed(by, reason)
        self._unshared("withdrawn", reason)

    def archive(self, by: str, now: datetime) -> None:
        if self.status == "archived":
            return
        was_published = self.status == "published"
        self.status = "archived"
        self._bump(now)
        self._changed(by)
        if was_published:
            self._unshared("archived", "archived")

    def remind(self, today: date) -> bool:
        """Record the review reminder of the published version if its review_by is
        ``REMIND_DAYS_BEFORE`` days away or nearer, once per version."""
        latest = self.latest
        if self.status != "published" or latest is None or latest.version in self.reminded:
            return False
        if latest.content.review_by - today > timedelta(days=REMIND_DAYS_BEFORE):
            return False
        self.reminded.append(latest.version)
        due = c.ArticleReviewDue(
            article_id=self.article_id,
            region=self.region,
            market=self.market,
            topic=latest.content.topic,
            title=latest.content.title,
            version=latest.version,
            review_by=latest.content.review_by,
            author=self.author,
            written_by=latest.written_by,
        )
        self.events.append((c.ARTICLE_REVIEW_DUE, due))
        return True

    # --- reading --------------------------------------------------------------------------

    @property
    def latest_version(self) -> int:
        return self.latest.version if self.latest else 0

    def needs_review(self, today: date) -> bool:
        """Published and past its review_by day: computed when read, nobody has to mark it."""
        return (
            self.status == "published"
            and self.latest is not None
            and self.latest.content.review_by < today
        )

    def shown_content(self) -> c.ArticleContent:
        """What lists and search show: the latest published version, or for an article never
        published its revision."""
        if self.latest is not None:
            return self.latest.content
        assert self.revision is not None  # an article is created with its revision
        return self.revision.content

    def published_article(self, version: PublishedVersion) -> c.PublishedArticle:
        return c.PublishedArticle(
            **version.content.model_dump(),
            article_id=self.article_id,
            region=self.region,
            market=self.market,
            version=version.version,
            published_at=version.published_at,
            approved_by=version.approved_by,
            written_by=version.written_by,
            author=self.author,
        )

    @classmethod
    def copy_of(cls, published: c.PublishedArticle, versions: list[c.VersionInfo]) -> ArticleRecord:
        """Another region's published article as this region keeps it (read only)."""
        version = PublishedVersion(
            version=published.version,
            content=content_of(published),
            published_at=published.published_at,
            approved_by=published.approved_by,
            written_by=published.written_by,
        )
        known = {v.version: v for v in versions} | {version.version: version.info()}
        return cls(
            article_id=published.article_id,
            region=published.region,
            market=published.market,
            author=published.author,
            status="published",
            revision_number=published.version,
            updated_at=published.published_at,
            latest=version,
            versions=[known[n] for n in sorted(known)],
        )

    # --- inside ---------------------------------------------------------------------------

    def _not_archived(self) -> None:
        if self.status == "archived":
            raise conflict(f"article {self.article_id} is archived", status=self.status)

    def _revision_in(self, state: c.RevisionState) -> WorkingRevision:
        self._not_archived()
        revision = self.revision
        if revision is None or revision.state != state:
            now_in = revision.state if revision else None
            raise conflict(
                f"article {self.article_id} has no revision in {state} (it is {now_in or 'none'})",
                state=now_in,
            )
        return revision

    def _bump(self, now: datetime) -> None:
        self.revision_number += 1
        self.updated_at = now

    def _changed(self, by: str, comment: str = "") -> None:
        content = self.shown_content()
        changed = c.ArticleChanged(
            article_id=self.article_id,
            region=self.region,
            market=self.market,
            topic=content.topic,
            title=content.title,
            status=self.status,
            revision_state=self.revision.state if self.revision else None,
            revision_number=self.revision_number,
            by=by,
            comment=comment,
        )
        self.events.append((c.ARTICLE_CHANGED, changed))

    def _unshared(self, status: Any, reason: str) -> None:
        withdrawn = c.ArticleWithdrawn(
            article_id=self.article_id,
            region=self.region,
            market=self.market,
            status=status,
            version=self.latest_version,
            reason=reason,
        )
        self.events.append((c.ARTICLE_WITHDRAWN, withdrawn))


def content_of(data: c.ArticleContent) -> c.ArticleContent:
    """The content fields alone, as the plain model (so that equal texts compare equal)."""
    return c.ArticleContent.model_validate(
        data.model_dump(include=set(c.ArticleContent.model_fields))
    )
