"""The article's workflow, the rendering of its body and its search words, without servers."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import guide as c
from contracts.access import Actor
from contracts.errors import Refused
from services.guide.domain.access import check_writes_market, home_of
from services.guide.domain.articles import ArticleRecord
from services.guide.domain.markdown import to_html, to_text
from services.guide.domain.text import snippet, words

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
HOMES = {"EE": "tallinn", "FI": "helsinki", "DE": "berlin"}


def content(**extra: Any) -> c.WriteArticle:
    base: dict[str, Any] = {
        "market": "EE", "topic": "tax_vat", "title": "VAT in Estonia",
        "summary": "Registering for VAT", "body": "Text",
        "sources": [{"url": "https://www.emta.ee/en", "title": "Tax and Customs Board",
                     "checked_on": "2026-11-30"}],
        "review_by": "2027-06-01",
    }  # fmt: skip
    return c.WriteArticle.model_validate(base | extra)


def published(**extra: Any) -> ArticleRecord:
    article = ArticleRecord.create("a1", "tallinn", content(**extra), "anna", NOW)
    article.submit("anna", "", NOW)
    article.approve("bert", NOW)
    article.events.clear()
    return article


def test_the_workflow_records_its_events_and_keeps_every_version() -> None:
    article = ArticleRecord.create("a1", "tallinn", content(), "anna", NOW)
    assert (article.status, article.revision_number) == ("draft", 1)
    article.submit("anna", "please check", NOW)
    assert article.status == "in_review"
    article.send_back("bert", "the rate is wrong", NOW)
    assert article.status == "draft" and article.revision is not None
    assert article.revision.comment == "the rate is wrong"
    article.submit("anna", "", NOW)
    first = article.approve("bert", NOW)
    assert (first.version, article.status, article.revision) == (1, "published", None)
    names = [op.name for op, _ in article.events]
    assert names == ["article_changed"] * 4 + ["article_changed", "article_published"]
    article.write(content(title="VAT in Estonia 2027"), "cleo", NOW)
    # The published version stays what readers read while the revision is worked on.
    assert article.status == "published" and article.shown_content().title == "VAT in Estonia"
    article.submit("cleo", "", NOW)
    second = article.approve("anna", NOW)
    assert second.version == 2 and [v.version for v in article.versions] == [1, 2]
    assert article.shown_content().title == "VAT in Estonia 2027"


def test_four_eyes_nobody_who_wrote_the_revision_approves_it() -> None:
    article = ArticleRecord.create("a1", "tallinn", content(), "anna", NOW)
    article.write(content(body="More"), "bert", NOW)
    article.submit("bert", "", NOW)
    for writer in ("anna", "bert"):
        with pytest.raises(Refused) as refused:
            article.approve(writer, NOW)
        assert refused.value.code == "forbidden"
        assert refused.value.details["rule"] == "four_eyes"
    assert article.approve("cleo", NOW).approved_by == "cleo"


def test_a_change_in_review_goes_back_to_draft_and_must_be_submitted_again() -> None:
    article = ArticleRecord.create("a1", "tallinn", content(), "anna", NOW)
    article.submit("anna", "", NOW)
    article.write(content(body="changed after submitting"), "anna", NOW)
    assert article.status == "draft"
    with pytest.raises(Refused) as refused:
        article.approve("bert", NOW)
    assert refused.value.code == "conflict" and refused.value.details["state"] == "draft"


def test_no_source_no_submission() -> None:
    article = ArticleRecord.create("a1", "tallinn", content(sources=[]), "anna", NOW)
    with pytest.raises(Refused) as refused:
        article.submit("anna", "", NOW)
    assert refused.value.code == "validation_failed"
    assert refused.value.details["fields"][0]["field"] == "sources"


def test_the_same_text_again_changes_nothing() -> None:
    article = ArticleRecord.create("a1", "tallinn", content(), "anna", NOW)
    article.events.clear()
    article.write(content(), "anna", NOW)
    assert article.revision_number == 1 and article.events == []


def test_the_market_is_fixed() -> None:
    article = ArticleRecord.create("a1", "tallinn", content(), "anna", NOW)
    with pytest.raises(Refused) as refused:
        article.write(content(market="LV"), "anna", NOW)
    assert refused.value.details["fields"][0]["field"] == "data.market"


def test_needs_review_and_the_reminder_follow_the_date() -> None:
    article = published(review_by="2026-12-10")
    assert not article.needs_review(date(2026, 12, 10))
    assert article.needs_review(date(2026, 12, 11))
    far = published(review_by="2027-06-01")
    assert not far.remind(TODAY)  # more than 14 days ahead
    assert far.remind(date(2027, 5, 18)) and not far.remind(date(2027, 5, 19))  # once
    assert [op.name for op, _ in far.events] == ["article_review_due"]
    # A new version is reminded of anew.
    far.write(content(review_by="2027-12-01"), "cleo", NOW)
    far.submit("cleo", "", NOW)
    far.approve("anna", NOW)
    assert far.remind(date(2027, 11, 20))


def test_withdrawal_and_archive_are_shared_only_for_a_published_article() -> None:
    draft = ArticleRecord.create("a1", "tallinn", content(), "anna", NOW)
    with pytest.raises(Refused):
        draft.withdraw("anna", "no", NOW)
    draft.archive("anna", NOW)
    assert "article_withdrawn" not in [op.name for op, _ in draft.events]
    with pytest.raises(Refused) as closed:
        draft.write(content(), "anna", NOW)
    assert closed.value.code == "conflict"
    article = published()
    article.withdraw("anna", "outdated", NOW)
    withdrawn = [d for op, d in article.events if op.name == "article_withdrawn"]
    assert withdrawn[0].status == "withdrawn" and withdrawn[0].version == 1


def test_a_copy_keeps_the_versions_it_heard_of() -> None:
    article = published()
    shared = article.published_article(article.latest)  # type: ignore[arg-type]
    copy = ArticleRecord.copy_of(shared, [])
    assert (copy.region, copy.status, copy.latest_version) == ("tallinn", "published", 1)


def test_only_the_home_region_writes_a_market() -> None:
    staff = Actor(id="x", role="map_staff", region="tallinn")
    check_writes_market(staff, "EE", HOMES, "tallinn")
    with pytest.raises(Refused) as refused:
        check_writes_market(staff, "FI", HOMES, "tallinn")
    assert refused.value.details["home_region"] == "helsinki"
    assert home_of("FR", HOMES, "tallinn") == "tallinn"  # nobody's country: any region's
    stranger = Actor(id="y", role="map_staff", region="riga")
    with pytest.raises(Refused):
        check_writes_market(stranger, "EE", HOMES, "tallinn")


# --- the body: Markdown rendered without raw HTML, then sanitised ---------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
    '<div onclick="alert(1)">x</div>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "<svg onload=alert(1)>",
    "<iframe src='https://evil.example'></iframe>",
    '[x](https://ok.example "title" onmouseover="alert(1)")',
    "<style>body{display:none}</style>",
    "`<script>` in code is text",
    "[text]([click](javascript:alert(1)))",  # a relative target holding a scheme (Hypothesis)
]


class Elements(HTMLParser):
    """Every element and attribute of an HTML text, as a browser's parser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_harmless(rendered: str) -> None:
    parser = Elements()
    parser.feed(rendered)
    for tag, attrs in parser.found:
        assert tag not in {"script", "iframe", "svg", "style", "img", "object", "embed"}, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                # What names a scheme: the part before the first "/", "?" or "#" (RFC 3986).
                named = re.split(r"[/?#]", (value or "").strip(), maxsplit=1)[0]
                scheme = named.split(":", 1)[0].lower()
                assert ":" not in named or scheme in ("http", "https", "mailto"), value


@pytest.mark.parametrize("markdown", HOSTILE)
def test_no_script_handler_or_javascript_link_survives(markdown: str) -> None:
    rendered = to_html(markdown)
    assert_harmless(rendered)


@pytest.mark.parametrize(
    "target", ["/wiki/Category:Tax", "?time=10:30", "#step:2", "../articles/vat#step:2",
               "https://example.com:8443/p?q=a:b", "mailto:x@example.ee?subject=Hi:there"],
)  # fmt: skip
def test_a_link_whose_colon_names_no_scheme_keeps_its_target(target: str) -> None:
    assert f'href="{html.escape(target)}"' in to_html(f"[a]({target})")


def test_ordinary_markdown_renders() -> None:
    rendered = to_html("# Title\n\n**bold** [EMTA](https://www.emta.ee) | a |\n\n- one\n- two")
    assert "<h1>Title</h1>" in rendered and "<strong>bold</strong>" in rendered
    assert '<a href="https://www.emta.ee" rel="noopener noreferrer nofollow">EMTA</a>' in rendered
    assert "<li>one</li>" in rendered
    assert to_text("**bold** & <b>raw</b>") == "bold & <b>raw</b>"


PIECES = [*HOSTILE, "**", "[", "](", ")", "<", ">", "\n\n", "`", "'", '"', "javascript:",
          "onerror=", "<a href=", "text", "# ", "> "]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_whatever_is_typed_renders_harmless(markdown: str) -> None:
    assert_harmless(to_html(markdown))


# --- search words and snippets ---------------------------------------------------------------


def test_words_are_lowercased_unicode_words() -> None:
    assert words("Käibemaks ja OÜ: VAT 20 %") == ["käibemaks", "ja", "oü", "vat", "20"]


@given(st.text(max_size=600), st.sets(st.sampled_from(["vat", "tax", "oü", "a"]), max_size=3))
def test_a_snippet_is_a_bounded_piece_of_the_text(text: str, terms: set[str]) -> None:
    cut = snippet(text, terms, size=120)
    assert len(cut) <= 122
    assert cut.strip("…").strip() in text or len(text) <= 120


def test_a_snippet_shows_the_words_found() -> None:
    text = "Filler. " * 60 + "Register for VAT at the Tax and Customs Board. " + "More. " * 60
    cut = snippet(text, {"vat"})
    assert "VAT" in cut and cut.startswith("…") and cut.endswith("…")


def test_review_dates_are_days(monkeypatch: pytest.MonkeyPatch) -> None:
    article = published(review_by=(TODAY + timedelta(days=3)).isoformat())
    assert article.remind(TODAY)
