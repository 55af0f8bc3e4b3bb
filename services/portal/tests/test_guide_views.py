"""The guide pages' view models without servers: the reviewer's diff, the marked snippet, and
the one place a page shows HTML unescaped."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from contracts import guide as g
from services.portal.service_layer.guide import body_diff, field_changes, marked

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def test_the_body_diff_names_each_line_removed_added_or_kept() -> None:
    before = "# Title\n\nOld line.\n\nKept line.\n-- a line that starts with dashes\n"
    after = "# Title\n\nNew line.\n\nKept line.\n"
    lines = [(d.kind, d.text) for d in body_diff(before, after)]
    assert ("removed", "Old line.") in lines and ("added", "New line.") in lines
    assert ("same", "Kept line.") in lines and lines[0][0] == "hunk"
    # A removed line that starts with dashes is a line of the text, not a diff header.
    assert ("removed", "-- a line that starts with dashes") in lines
    assert body_diff("same\n", "same\n") == []
    assert [d.kind for d in body_diff("", "a\nb\n")] == ["hunk", "added", "added"]


def test_a_snippet_marks_the_words_found_and_keeps_the_rest() -> None:
    parts = marked("Register an OÜ at the register.", ["register", "oü"])
    assert parts == [("Register", True), (" an ", False), ("OÜ", True), (" at the ", False),
                     ("register", True), (".", False)]  # fmt: skip
    assert "".join(text for text, _ in parts) == "Register an OÜ at the register."
    assert marked("<b>x</b>", []) == [("<b>x</b>", False)]  # the page escapes it


def test_the_fields_a_revision_changes() -> None:
    source = g.Source(url="https://www.emta.ee/en", title="EMTA", checked_on=date(2026, 1, 5))
    published = g.ArticleContent(topic="tax_vat", title="VAT", summary="s", sources=[source],
                                 review_by=date(2027, 1, 1))  # fmt: skip
    revision = g.Revision(**published.model_dump() | {"title": "VAT in Estonia"},
                          state="in_review", written_by=["a"], body_html="",
                          updated_at=datetime.now(UTC))  # fmt: skip
    assert [(c.name, c.published, c.revised) for c in field_changes(published, revision)] == [
        ("title", "VAT", "VAT in Estonia")
    ]
    assert {c.name for c in field_changes(None, revision)} >= {"title", "summary", "sources"}


def test_only_the_guides_rendered_bodies_are_shown_unescaped() -> None:
    """The guide renders Markdown without raw HTML and sanitises it: its body_html is the only
    text a page marks safe; everything else is escaped."""
    unescaped = {
        (p.name, m)
        for p in TEMPLATES.glob("*.html")
        for m in re.findall(r"{{[^}]*\|\s*safe[^}]*}}", p.read_text())
    }
    assert unescaped == {
        ("guide_article.html", "{{ article.body_html|safe }}"),
        ("guide_review.html", "{{ r.body_html|safe }}"),
    }
    python = [p for p in TEMPLATES.parent.rglob("*.py") if "tests" not in p.parts]
    marking = {
        p.name for p in python if re.search(r"\bMarkup\(|markupsafe|mark_safe", p.read_text())
    }
    # Besides: the reports page holds the section the reports service renders from its own
    # autoescaping Jinja2 templates (charts as SVG images in data URIs).
    assert marking == {"monitoring_pages.py"}


async def test_a_partner_links_the_guide_of_the_country_it_is_based_in() -> None:
    """An SME registered at Tallinn's MAP but based in Finland links Finland's guide; one whose
    country matching does not give links its region's."""
    from typing import Any

    from contracts import matching as mt
    from contracts.access import Actor
    from contracts.common import SmeRef
    from services.portal.service_layer.guide import Guide

    def summary(market: str) -> g.ArticleSummary:
        return g.ArticleSummary(
            article_id=f"article-{market}", region="tallinn", market=market, topic="company_forms",
            title="Forms", summary="s", language="en", tags=[], status="published", version=1,
            review_by=date(2030, 1, 1), needs_review=False, updated_at=datetime.now(UTC),
        )  # fmt: skip

    async def call(op: Any, query: g.ListArticles, actor: Actor) -> g.ArticlePage:
        return g.ArticlePage(items=[summary(query.market)] if query.market else [])

    guide = Guide(call, "tallinn", {"EE": "Estonia", "FI": "Finland"}, {"tallinn": "EE"})

    def match(profile_id: str, country: str | None) -> mt.PartnerMatch:
        return mt.PartnerMatch(
            sme=SmeRef(sme_id=f"s-{profile_id}", region="tallinn"), legal_name="Oy",
            profile_id=profile_id, profile_type="technology_offer", title="t", score=1.0,
            reasons=[], country=country,
        )  # fmt: skip

    reader = Actor(id="x@y.ee", role="sme", region="tallinn")
    links = await guide.partner_links([match("p1", "FI"), match("p2", None)], reader)
    assert links.links["p1"].market.code == "FI" and links.links["p2"].market.code == "EE"
    assert not links.unavailable
