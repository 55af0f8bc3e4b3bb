"""The guide's articles: use cases. One command in, one unit of work, events out; reads from
the region's own articles and its copies of the other regions'."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np

from contracts import guide as c
from contracts.access import Actor
from contracts.envelope import Envelope
from contracts.errors import Refused, forbidden_field, not_found
from mapnet.runtime import logs
from mapnet.runtime.access import command_key
from mapnet.runtime.paging import decode_cursor, encode_cursor, keyset_page
from mapnet.runtime.unit_of_work import UnitOfWork

from ..adapters.article_index import ArticleIndex, Filters, Snapshot
from ..adapters.articles_repository import ARTICLES, NOTES, ArticleRepository, NoteRepository
from ..domain.access import (
    actor_name,
    check_home_staff,
    check_reads_status,
    check_writes_market,
    home_of,
    is_home_staff,
    may_see_names,
    without_names,
)
from ..domain.articles import REMIND_DAYS_BEFORE, ArticleRecord
from ..domain.markdown import to_html
from ..domain.text import snippet, words

# Article and note ids derive from the caller and command id: a retried command resumes.
_NAMESPACE = uuid.UUID("5b0e7f3c-2a94-4c1d-9f6e-8d3a1c7b2e50")
_MAX_RETRIES = 20


def new_article_id(region: str, cmd: Envelope[Any]) -> str:
    """The id of the article a write without one creates in ``region``: the same command (its
    sender and id) again finds it, and nobody else can take it by sending that id first."""
    return str(uuid.uuid5(_NAMESPACE, f"article:{region}:{command_key(cmd)}"))


class Articles:
    def __init__(
        self,
        uow: UnitOfWork,
        articles: ArticleRepository,
        notes: NoteRepository,
        homes: Mapping[str, str],
        today: Callable[[], date] | None = None,
    ) -> None:
        """``homes``: market (country) → its home region; ``today``: the day needs_review and
        the reminders are reckoned by (UTC)."""
        self.uow = uow
        self.region = uow.region
        self.articles = articles
        self.notes = notes
        self.homes = dict(homes)
        self.index = ArticleIndex(articles)
        self._today = today

    def now(self) -> datetime:
        return self.uow.now()

    def today(self) -> date:
        return self._today() if self._today else self.now().date()

    # --- the workflow ---------------------------------------------------------------------

    async def write_article(self, cmd: Envelope[c.WriteArticle]) -> c.Article:
        d = cmd.data
        check_writes_market(cmd.actor, d.market, self.homes, self.region)
        by = actor_name(cmd.actor)
        if d.article_id is None:
            article_id = new_article_id(self.region, cmd)
            if await self.articles.find(article_id) is None:
                article = ArticleRecord.create(article_id, self.region, d, by, self.now())
                await self.uow.save(
                    article, cmd, collection=ARTICLES, key=article_id,
                    write=partial(self.articles.add, article),
                )  # fmt: skip
                return await self._view(article, cmd.actor)
            # The same command again (its answer was lost): the article it created.
            return await self._view(await self.articles.require_own(article_id), cmd.actor)
        return await self._change(
            cmd, d.article_id, d.expected_revision, lambda a: a.write(d, by, self.now())
        )

    async def submit_article(self, cmd: Envelope[c.ArticleStep]) -> c.Article:
        by = actor_name(cmd.actor)
        return await self._step(cmd, lambda a: a.submit(by, cmd.data.comment, self.now()))

    async def return_article(self, cmd: Envelope[c.ArticleStep]) -> c.Article:
        by = actor_name(cmd.actor)
        return await self._step(cmd, lambda a: a.send_back(by, cmd.data.comment, self.now()))

    async def approve_article(self, cmd: Envelope[c.ArticleStep]) -> c.Article:
        by = actor_name(cmd.actor)

        def approve(article: ArticleRecord) -> None:
            article.approve(by, self.now())

        return await self._step(cmd, approve)

    async def withdraw_article(self, cmd: Envelope[c.WithdrawArticle]) -> c.Article:
        by = actor_name(cmd.actor)
        return await self._change(
            cmd, cmd.data.article_id, None, lambda a: a.withdraw(by, cmd.data.reason, self.now())
        )

    async def archive_article(self, cmd: Envelope[c.ArchiveArticle]) -> c.Article:
        by = actor_name(cmd.actor)
        return await self._change(
            cmd, cmd.data.article_id, None, lambda a: a.archive(by, self.now())
        )

    async def _step(
        self, cmd: Envelope[c.ArticleStep], step: Callable[[ArticleRecord], None]
    ) -> c.Article:
        return await self._change(cmd, cmd.data.article_id, cmd.data.expected_revision, step)

    async def _change(
        self,
        cmd: Envelope[Any],
        article_id: str,
        expected_revision: int | None,
        change: Callable[[ArticleRecord], None],
    ) -> c.Article:
        """Read the article, check who may change it, apply the change and save it with its
        events, conditional on the revision read (again if someone else changed it meanwhile,
        unless the caller named the revision its change was made on)."""
        for _ in range(_MAX_RETRIES):
            article = await self.articles.require_own(article_id)
            check_writes_market(cmd.actor, article.market, self.homes, self.region)
            read = article.revision_number
            if expected_revision is not None and expected_revision != read:
                raise Refused(
                    "conflict",
                    f"article {article_id} is at revision {read}, not {expected_revision}: "
                    "read it and send the change again",
                    expected_revision=expected_revision,
                    revision_number=read,
                )
            was_latest = article.latest_version
            change(article)
            if article.revision_number == read:
                return await self._view(article, cmd.actor)  # nothing changed
            if article.latest is not None and article.latest_version != was_latest:
                # Approved: the new version is kept before the article names it (a crash in
                # between leaves a version nobody names, written again by the retry).
                await self.articles.keep_version(article.published_article(article.latest))
            try:
                await self.uow.save(
                    article, cmd, collection=ARTICLES, key=article_id,
                    write=partial(self.articles.save, article, read),
                )  # fmt: skip
            except Refused as refused:
                if refused.code == "conflict" and expected_revision is None:
                    continue
                raise
            return await self._view(article, cmd.actor)
        raise Refused("conflict", f"article {article_id} keeps changing; try again")

    # --- the review reminder --------------------------------------------------------------

    async def remind_due(self) -> int:
        """Record a review reminder for each published article whose version is due within
        ``REMIND_DAYS_BEFORE`` days, once per version (notify mails its writers). Run at start
        and periodically; idempotent. Answers how many were recorded."""
        today = self.today()
        count = 0
        for article in await self.articles.due_for_review(
            today + timedelta(days=REMIND_DAYS_BEFORE)
        ):
            if not article.remind(today) or article.latest is None:
                continue
            version = article.latest.version
            events = self.uow.events_of(article, f"review-due-{article.article_id}-{version}",
                                        subject=article.article_id)  # fmt: skip
            if await self.articles.save_reminder(article, version, events):
                self.uow.written(ARTICLES, article.article_id, events)
                count += 1
        return count

    # --- reads ----------------------------------------------------------------------------

    async def get_article(self, query: Envelope[c.GetArticle]) -> c.Article:
        q = query.data
        article = await self.articles.find(q.article_id)
        if article is None:
            raise not_found("article", q.article_id)
        home_staff = is_home_staff(query.actor, article.region, self.region)
        if not home_staff and article.status != "published":
            raise not_found("article", q.article_id)
        return await self._view(article, query.actor, q.version)

    async def _view(
        self, article: ArticleRecord, actor: Actor | None, version: int | None = None
    ) -> c.Article:
        home_staff = is_home_staff(actor, article.region, self.region)
        shown = article.latest
        if version is not None and version != article.latest_version:
            kept = await self.articles.version(article.article_id, version, article.region)
            if kept is None:
                raise not_found("version", f"{version} of article {article.article_id}")
            shown = ArticleRecord.copy_of(kept, []).latest
        content = shown.content if shown else None
        if content is None and home_staff and article.revision is not None:
            content = article.revision.content  # never published: its staff read the draft
        revision = None
        if home_staff and article.revision is not None:
            r = article.revision
            revision = c.Revision(
                **r.content.model_dump(),
                state=r.state,
                written_by=r.written_by,
                body_html=to_html(r.content.body),
                submitted_by=r.submitted_by,
                comment=r.comment,
                updated_at=r.updated_at,
            )
        notes = [self._note(doc) for doc in await self.notes.of_article(article.article_id)]
        view = c.Article(
            article_id=article.article_id,
            region=article.region,
            market=article.market,
            status=article.status,
            revision_number=article.revision_number,
            version=shown.version if shown else 0,
            latest_version=article.latest_version,
            content=content,
            body_html=to_html(content.body) if content else "",
            needs_review=article.needs_review(self.today()),
            published_at=shown.published_at if shown else None,
            approved_by=shown.approved_by if shown else None,
            written_by=shown.written_by if shown else [],
            author=article.author,
            versions=article.versions,
            revision=revision,
            notes=notes,
            updated_at=article.updated_at,
        )
        return view if may_see_names(actor) else without_names(view)

    def _summary(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "article_id": doc["_id"],
            "region": doc["region"],
            "market": doc["market"],
            "topic": doc["topic"],
            "title": doc["title"],
            "summary": doc["summary"],
            "language": doc["language"],
            "tags": doc.get("tags", []),
            "status": doc["status"],
            "version": doc.get("version", 0),
            "review_by": doc["review_by"],
            "needs_review": doc["status"] == "published"
            and doc["review_by"] < self.today().isoformat(),
            "revision_state": doc.get("revision_state"),
            "updated_at": doc["updated_at"],
        }

    def _region_filter(self, actor: Actor | None, status: str | None) -> str | None:
        """Articles that are not published are listed to their own region's staff only."""
        check_reads_status(actor, status, self.region)
        return None if status in (None, "published") else self.region

    async def list_articles(self, query: Envelope[c.ListArticles]) -> c.ArticlePage:
        q = query.data
        own_only = self._region_filter(query.actor, q.status)
        clauses: list[dict[str, Any]] = [{"status": q.status or "published"}]
        simple = {"market": q.market, "topic": q.topic, "language": q.language}
        clauses += [{name: value} for name, value in simple.items() if value is not None]
        region = own_only or q.region
        if own_only and q.region not in (None, own_only):
            return c.ArticlePage(items=[])
        if region is not None:
            clauses.append({"region": region})
        if q.needs_review is not None:
            op = "$lt" if q.needs_review else "$gte"
            clauses.append({"review_by": {op: self.today().isoformat()}})
        docs, cursor = await keyset_page(
            self.articles.articles, clauses, "sort_key", q.limit, q.cursor
        )
        items = [c.ArticleSummary.model_validate(self._summary(d)) for d in docs]
        return c.ArticlePage(items=items, next_cursor=cursor)

    async def search_guide(self, query: Envelope[c.SearchGuide]) -> c.GuidePage:
        q = query.data
        own_only = self._region_filter(query.actor, q.status)
        index = await self.index.current()
        filters = Filters(q.market, q.topic, q.language, q.status or "published", own_only)
        terms = words(q.text or "")
        return await asyncio.to_thread(self._ranked_page, index, filters, terms, q)

    def _ranked_page(
        self, index: Snapshot, filters: Filters, terms: list[str], q: c.SearchGuide
    ) -> c.GuidePage:
        """One page of the hits, best first (by BM25 score, then id; without text by the
        guide's order), after the cursor's (key, id)."""
        if not index.docs:
            return c.GuidePage(items=[])
        mask = index.mask(filters)
        scores = index.scores(terms)
        if terms:
            mask &= scores > 0
        chosen = np.flatnonzero(mask)
        by_text = bool(terms)

        def key(i: int) -> tuple[Any, str]:
            doc = index.docs[i]
            return (-float(scores[i]) if by_text else doc["sort_key"], doc["_id"])

        ordered = sorted(chosen.tolist(), key=key)
        if q.cursor:
            after = decode_cursor(q.cursor)
            if not isinstance(after[0], float | int) if by_text else not isinstance(after[0], str):
                raise Refused(
                    "invalid_cursor",
                    "the cursor is not one of this search",
                    fields=[{"field": "data.cursor", "message": "of another search",
                             "type": "cursor"}],
                )  # fmt: skip
            mark = (after[0], after[1])
            ordered = [i for i in ordered if key(i) > mark]
        page = ordered[: q.limit]
        wanted = set(terms)
        items = []
        for i in page:
            doc = index.docs[i]
            matched = sorted(wanted & index.terms[i])
            items.append(
                c.GuideHit.model_validate(
                    self._summary(doc)
                    | {
                        "score": round(float(scores[i]), 6),
                        "snippet": snippet(doc["plain_text"] or doc["summary"], set(matched)),
                        "matched": matched,
                    }
                )
            )
        more = len(ordered) > q.limit
        cursor = encode_cursor(list(key(page[-1]))) if more and page else None
        return c.GuidePage(items=items, next_cursor=cursor)

    # --- local notes ----------------------------------------------------------------------

    def _note(self, doc: dict[str, Any]) -> c.LocalNote:
        return c.LocalNote(
            note_id=doc["_id"],
            article_id=doc["article_id"],
            article_region=doc["article_region"],
            region=doc["region"],
            text=doc["text"],
            text_html=to_html(doc["text"]),
            written_by=doc["written_by"],
            updated_at=doc["updated_at"],
        )

    async def write_local_note(self, cmd: Envelope[c.WriteLocalNote]) -> c.LocalNote:
        d = cmd.data
        check_home_staff(cmd.actor, self.region)
        article = await self.articles.find(d.article_id)
        if article is None or article.region != d.article_region or article.status != "published":
            raise not_found("published article", f"{d.article_region}:{d.article_id}")
        by = actor_name(cmd.actor)
        expected: int | None = None
        if d.note_id is None:
            note_id = str(uuid.uuid5(_NAMESPACE, f"note:{self.region}:{command_key(cmd)}"))
            if (found := await self.notes.get(note_id)) is not None:
                return self._note(found[0])  # the same command again
        else:
            note_id = d.note_id
            found = await self.notes.get(note_id)
            if found is None or found[0]["article_id"] != d.article_id:
                raise not_found("note", note_id)
            expected = found[1]
        note = c.LocalNote(
            note_id=note_id, article_id=d.article_id, article_region=d.article_region,
            region=self.region, text=d.text, text_html=to_html(d.text), written_by=by,
            updated_at=self.now(),
        )  # fmt: skip
        changed = c.LocalNoteChanged(
            note_id=note_id, article_id=d.article_id, article_region=d.article_region,
            region=self.region, by=by,
        )  # fmt: skip
        event = self.uow.event(c.LOCAL_NOTE_CHANGED, changed, cmd, subject=note_id)
        await self.uow.commit(NOTES, note_id, [event], self.notes.save(note, expected, [event]))
        return note

    async def delete_local_note(self, cmd: Envelope[c.DeleteLocalNote]) -> c.LocalNote:
        check_home_staff(cmd.actor, self.region)
        found = await self.notes.get(cmd.data.note_id)
        if found is None:
            raise not_found("note", cmd.data.note_id)
        doc, version = found
        if doc["region"] != self.region:
            raise forbidden_field("a region deletes only its own notes", "data.note_id")
        note = self._note(doc)
        by = actor_name(cmd.actor)
        changed = c.LocalNoteChanged(
            note_id=note.note_id, article_id=note.article_id, article_region=note.article_region,
            region=self.region, by=by, deleted=True,
        )  # fmt: skip
        event = self.uow.event(c.LOCAL_NOTE_CHANGED, changed, cmd, subject=note.note_id)
        await self.uow.commit(
            NOTES, note.note_id, [event], self.notes.save(note, version, [event], deleted=True)
        )
        return note

    # --- the other regions' articles ------------------------------------------------------

    def _from_home(self, region: str, market: str, event: str, article_id: str) -> bool:
        """Whether a shared article (or its withdrawal) comes from its market's home region.
        The writer checks the home rule only where it writes; a region that is not the
        market's home (a fault, or a forged event on its shared stream) must not put its
        version of another region's market here: dropped, and logged for the operators."""
        if home_of(market, self.homes, region) == region:
            return True
        logs.get(service="guide").warning(
            "guide_copy_not_from_home", event=event, article_id=article_id, market=market,
            from_region=region, home_region=self.homes.get(market),
        )  # fmt: skip
        return False

    async def copy_published(self, published: c.PublishedArticle) -> None:
        if self._from_home(published.region, published.market, "article_published",
                           published.article_id):  # fmt: skip
            await self.articles.put_copy(published)

    async def copy_withdrawn(self, withdrawn: c.ArticleWithdrawn) -> None:
        if self._from_home(withdrawn.region, withdrawn.market, "article_withdrawn",
                           withdrawn.article_id):  # fmt: skip
            await self.articles.withdraw_copy(withdrawn)

    async def put_starter_copies(self, copies: Sequence[c.PublishedArticle]) -> int:
        """A demo's stand-ins for the other regions' published articles (read copies of them,
        replaced by the real copies when they arrive); only of a market whose home region they
        name. Run in this process at start, never on a request. Answers how many changed."""
        changed = 0
        for published in copies:
            if published.region != self.region and self.homes.get(published.market) == (
                published.region
            ):
                changed += await self.articles.put_starter_copy(published)
        return changed
