"""The Market Access Guide's pages. Reading is for everyone, signed in or not (public
information: the portal reads for an anonymous visitor as itself, as the calendar does): the
guide by market and topic with the market's facts card, search, an article. The region's staff
write articles, submit them, and review a colleague's revision against the published version
(the guide publishes it only on a second person's approval)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from contracts import guide as g
from contracts.access import STAFF, Actor
from contracts.errors import Refused

from ..adapters.regions import region_countries
from ..domain.users import User
from ..service_layer.guide import TOPICS, Guide
from .forms import listed, posted, problems, validated
from .i18n import CountryNamesNow, tr

if TYPE_CHECKING:
    from .pages import Pages
    from .web import Portal

_SEARCH_FILTERS = ("text", "market", "topic", "language")
RESULTS = 20
# A new article's review day, unless its writer says another: a year on.
REVIEW_AFTER = timedelta(days=365)
# Empty rows for sources under the ones an article has.
MORE_SOURCES = 2
STEP_OPS: dict[str, tuple[Any, type[BaseModel]]] = {
    "submit": (g.SUBMIT_ARTICLE, g.ArticleStep),
    "approve": (g.APPROVE_ARTICLE, g.ArticleStep),
    "return": (g.RETURN_ARTICLE, g.ArticleStep),
    "withdraw": (g.WITHDRAW_ARTICLE, g.WithdrawArticle),
    "archive": (g.ARCHIVE_ARTICLE, g.ArchiveArticle),
}
STEP_STATUS = {"forbidden": 403, "conflict": 409, "validation_failed": 400, "not_found": 404}


def _as_told(refusal: Refused) -> Refused:
    """A refusal as a page says it: another region's article (the guide's not_home, meant for
    a caller that may resend it there) is, to a person, one they may not change here."""
    if refusal.code != "not_home":
        return refusal
    home = str(refusal.details.get("region") or "")
    said = tr("the article is region %(home)s's: only its staff change it", home=home)
    return Refused("forbidden", said, home_region=home)


def _said(refusal: Refused) -> list[str]:
    """What the page says: who may, whole (whose market it is); else each field's problem."""
    return [refusal.message] if refusal.code == "forbidden" else problems(refusal)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _values(form: Any) -> dict[str, Any]:
    """The article form as it was sent (shown again beside what is wrong with it)."""
    values: dict[str, Any] = {
        k: str(form.get(k) or "").strip()
        for k in ("market", "topic", "title", "summary", "language", "review_by", "tags")
    }
    values["market"] = values["market"].upper()
    values["body"] = str(form.get("body") or "")
    rows = zip(
        form.getlist("source_url"),
        form.getlist("source_title"),
        form.getlist("source_checked_on"),
        strict=False,
    )
    values["sources"] = [
        {"url": str(u).strip(), "title": str(t).strip(), "checked_on": str(d).strip()}
        for u, t, d in rows
        if str(u).strip() or str(t).strip()
    ]
    return values


def _content(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "tags"} | {"tags": listed(values["tags"])}


def _shown(content: g.ArticleContent, market: str) -> dict[str, Any]:
    values = content.model_dump(mode="json")
    return values | {"market": market, "tags": ", ".join(content.tags)}


def guide_of(portal: Portal) -> Guide:
    """The guide's pages' data for the portal's region, its countries named in each request's
    language."""
    countries = region_countries(portal.settings.regions_file)
    return Guide(portal.call, portal.region, CountryNamesNow(), countries)


class GuidePages:
    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.guide = guide_of(portal)

    async def _reader(self, request: Request) -> tuple[User | None, Actor]:
        """Who reads: the signed-in person, else the portal itself for a visitor."""
        found = await self.portal.person(request)
        person = found[0] if found else None
        return person, person.actor() if person else self.portal.public()

    async def index(self, request: Request) -> Response:
        """The guide's markets and topics; with a text or filters, the search's hits (only the
        hits for an htmx request)."""
        person, actor = await self._reader(request)
        given = {k: v for k in _SEARCH_FILTERS if (v := request.query_params.get(k))}
        hits, more = None, None
        if given or request.query_params.get("cursor"):
            paged = {"limit": RESULTS, "cursor": request.query_params.get("cursor")}
            query = validated(g.SearchGuide, given | paged)
            hits, cursor = await self.guide.search(query, actor)
            more = urlencode(given | {"cursor": cursor}) if cursor else None
        part = "guide_rows.html" if request.headers.get("HX-Request") else "guide.html"
        return self.portal.page(
            request,
            part,
            person=person,
            given=given,
            hits=hits,
            more=more,
            markets=self.guide.network_markets(),
            topics=g.TOPIC_TITLES,
            staff=person is not None and person.role in STAFF,
        )

    async def choose_market(self, request: Request) -> Response:
        market = request.query_params.get("market", "").strip().upper()
        return RedirectResponse(f"/guide/markets/{market or 'x'}", status_code=303)

    async def market(self, request: Request) -> Response:
        person, actor = await self._reader(request)
        market = validated(g.ListArticles, {"market": request.path_params["market"].upper()})
        assert market.market is not None
        view = await self.guide.market_guide(market.market, actor)
        return self.portal.page(request, "guide_market.html", person=person, view=view)

    async def article(self, request: Request) -> Response:
        person, actor = await self._reader(request)
        asked = validated(
            g.GetArticle,
            {
                "article_id": request.path_params["article_id"],
                "version": request.query_params.get("version"),
            },
        )
        article = await self.guide.article(asked.article_id, asked.version, actor)
        return self.portal.page(
            request,
            "guide_article.html",
            person=person,
            article=article,
            market=self.guide.market(article.market),
            topic=_topic(article),
            may_edit=self.guide.may_edit(article, actor),
            errors=[],
        )

    # --- staff: write, submit, review ------------------------------------------------------

    async def work(self, request: Request, person: User) -> Response:
        found = await self.guide.work(person.actor())
        return self.portal.page(
            request, "guide_work.html", person=person, work=found, topics=g.TOPIC_TITLES
        )

    def _form(
        self,
        request: Request,
        person: User,
        values: dict[str, Any],
        status: int = 200,
        article: g.Article | None = None,
        errors: list[str] | None = None,
    ) -> Response:
        blank = {"url": "", "title": "", "checked_on": _today()}
        sources = list(values.get("sources") or []) + [blank] * MORE_SOURCES
        return self.portal.page(
            request,
            "guide_edit.html",
            status,
            person=person,
            values=values,
            sources=sources,
            article=article,
            errors=errors or [],
            topics=g.TOPIC_TITLES,
            home=self.guide.home_market(),
        )

    async def new_page(self, request: Request, person: User) -> Response:
        topic = request.query_params.get("topic")
        values = {
            "market": (
                request.query_params.get("market") or self.guide.home_market() or ""
            ).upper(),
            "topic": topic if topic in TOPICS else TOPICS[0],
            "language": "en",
            "review_by": (datetime.now(UTC).date() + REVIEW_AFTER).isoformat(),
        }
        return self._form(request, person, values)

    async def edit_page(self, request: Request, person: User) -> Response:
        article = await self.guide.article(request.path_params["article_id"], None, person.actor())
        if not self.guide.may_edit(article, person.actor()):
            raise Refused("forbidden", tr("only the staff of the article's home region change it"))
        content = article.revision or article.content
        assert content is not None  # the home region's staff read every article of theirs
        values = _shown(content, article.market) | {"revision": article.revision_number}
        return self._form(request, person, values, article=article)

    async def write(self, request: Request, person: User) -> Response:
        """Save the form as the article's working revision; with "submit", submit it too."""
        form = await posted(request)
        values = _values(form)
        article_id = request.path_params.get("article_id")
        action = form.get("action")
        if action not in ("save", "submit"):
            raise Refused("validation_failed", tr("choose save or submit"))
        given = _content(values) | {
            "article_id": article_id,
            "expected_revision": form.get("revision") or None,
        }
        actor = person.actor()
        written: g.Article | None = None
        try:
            command = validated(g.WriteArticle, given)
            written = await self.portal.call(g.WRITE_ARTICLE, command, actor)
            if action == "submit":
                step = g.ArticleStep(
                    article_id=written.article_id, expected_revision=written.revision_number
                )
                await self.portal.call(g.SUBMIT_ARTICLE, step, actor)
        except Refused as refused:
            refusal = _as_told(refused)
            if refusal.code not in STEP_STATUS:
                raise refusal from None
            # Saved, and its submission refused (no source, say): the form goes on editing the
            # article at the revision just written; else at the one it was sent with.
            found = written.article_id if written else article_id
            article = await self.guide.article(found, None, actor) if found else None
            values["revision"] = written.revision_number if written else form.get("revision")
            return self._form(
                request,
                person,
                values,
                STEP_STATUS[refusal.code],
                article=article,
                errors=_said(refusal),
            )
        assert written is not None
        return RedirectResponse(f"/guide/articles/{written.article_id}/review", status_code=303)

    async def review(
        self, request: Request, person: User, errors: list[str] | None = None, status: int = 200
    ) -> Response:
        view = await self.guide.review(request.path_params["article_id"], person.actor())
        return self.portal.page(
            request,
            "guide_review.html",
            status,
            person=person,
            view=view,
            market=self.guide.market(view.article.market),
            topic=g.TOPIC_TITLES[view.revision.topic],
            errors=errors or [],
        )

    async def review_page(self, request: Request, person: User) -> Response:
        return await self.review(request, person)

    async def step(self, request: Request, person: User) -> Response:
        """Submit, approve or return a revision; withdraw or archive an article. A refusal (the
        author approving, say) is shown on the page it came from, saying why."""
        form = await posted(request)
        article_id, action = request.path_params["article_id"], form.get("action")
        if action not in STEP_OPS:  # never a step by default
            raise Refused("validation_failed", tr("choose a step: submit, approve or return"))
        expected = form.get("revision") or None
        comment = str(form.get("comment") or "")
        op, data = STEP_OPS[str(action)]
        given: dict[str, Any] = {"article_id": article_id}
        if data is g.ArticleStep:
            given |= {"expected_revision": expected, "comment": comment}
        elif data is g.WithdrawArticle:
            given["reason"] = str(form.get("reason") or "").strip()
        try:
            await self.portal.call(op, validated(data, given), person.actor())
        except Refused as refused:
            refusal = _as_told(refused)
            if refusal.code not in STEP_STATUS:
                raise refusal from None
            try:  # on the review page, beside the revision
                return await self.review(request, person, _said(refusal), STEP_STATUS[refusal.code])
            except Refused:  # no revision to show (a withdrawal, another region's article)
                raise refusal from None
        if action in ("submit", "return"):
            return RedirectResponse(f"/guide/articles/{article_id}/review", status_code=303)
        return RedirectResponse(f"/guide/articles/{article_id}", status_code=303)

    # --- staff: this region's local notes beside any region's article -------------------

    async def note(self, request: Request, person: User) -> Response:
        form = await posted(request)
        article_id = request.path_params["article_id"]
        article = await self.guide.article(article_id, None, person.actor())
        given = {
            "article_id": article_id,
            "article_region": article.region,
            "note_id": form.get("note_id") or None,
            "text": form.get("text") or "",
        }
        try:
            await self.portal.call(
                g.WRITE_LOCAL_NOTE, validated(g.WriteLocalNote, given), person.actor()
            )
        except Refused as refusal:
            if refusal.code != "validation_failed":
                raise
            return self.portal.page(
                request,
                "guide_article.html",
                400,
                person=person,
                article=article,
                market=self.guide.market(article.market),
                topic=_topic(article),
                errors=problems(refusal),
                may_edit=self.guide.may_edit(article, person.actor()),
            )
        return RedirectResponse(f"/guide/articles/{article_id}#notes", status_code=303)

    async def delete_note(self, request: Request, person: User) -> Response:
        form = await posted(request)
        note = g.DeleteLocalNote(note_id=request.path_params["note_id"])
        await self.portal.call(g.DELETE_LOCAL_NOTE, note, person.actor())
        back = str(form.get("article_id") or "")
        return RedirectResponse(f"/guide/articles/{back}#notes" if back else "/guide", 303)


def _topic(article: g.Article) -> str:
    return g.TOPIC_TITLES[article.content.topic] if article.content else ""


def add_routes(app: FastAPI, portal: Portal, pages: Pages) -> None:
    guide = GuidePages(portal)
    app.add_api_route("/guide", guide.index, methods=["GET"])
    app.add_api_route("/guide/markets", guide.choose_market, methods=["GET"])
    app.add_api_route("/guide/markets/{market}", guide.market, methods=["GET"])
    app.add_api_route("/guide/articles/{article_id}", guide.article, methods=["GET"])
    pages.get(app, "/guide/work", guide.work, *STAFF)
    pages.get(app, "/guide/new", guide.new_page, *STAFF)
    pages.post(app, "/guide/new", guide.write, *STAFF)
    pages.get(app, "/guide/articles/{article_id}/edit", guide.edit_page, *STAFF)
    pages.post(app, "/guide/articles/{article_id}/edit", guide.write, *STAFF)
    pages.get(app, "/guide/articles/{article_id}/review", guide.review_page, *STAFF)
    pages.post(app, "/guide/articles/{article_id}/step", guide.step, *STAFF)
    pages.post(app, "/guide/articles/{article_id}/notes", guide.note, *STAFF)
    pages.post(app, "/guide/notes/{note_id}/delete", guide.delete_note, *STAFF)
