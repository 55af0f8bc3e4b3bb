"""Article bodies: Markdown rendered to HTML with raw HTML off, the result sanitised, so that
nothing a writer types (a script, an event handler, a javascript: link) reaches a reader's
browser as code. Pure: no I/O."""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

# CommonMark with tables and strikethrough; raw HTML is shown as text, never passed through.
_MARKDOWN = MarkdownIt("js-default", {"html": False, "linkify": False})
# What a rendered article may hold: markup, links (web and mail only) and tables. No images:
# a reader's browser fetches nothing from a third party because of an article.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Where the path, query or fragment of a link target starts: a colon after it names no scheme.
_PATH_START = re.compile(r"[/?#]")


def to_html(markdown: str) -> str:
    """Markdown as HTML safe to put into a page as it is."""
    rendered = _MARKDOWN.render(markdown)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_plain_link,
        link_rel="noopener noreferrer nofollow",
    )


def _plain_link(tag: str, attribute: str, value: str) -> str | None:
    """A link target that names a scheme names one of URL_SCHEMES, or is dropped. A scheme is
    what comes before a colon that precedes the first "/", "?" or "#" (RFC 3986, 4.2), so
    relative targets with a colon further on stay ("/wiki/Category:Tax", "#step:2"). nh3 let
    through `[t]([c](javascript:x))` as href="%5Bc%5D(javascript:x)": a path to a browser,
    but a target naming no scheme we allow, which a mail client or a later tool need not read
    so (found by the property test)."""
    if attribute != "href":
        return value
    before_path = _PATH_START.split(value.strip(), maxsplit=1)[0]
    if ":" not in before_path:
        return value
    return value if before_path.split(":", 1)[0].lower() in URL_SCHEMES else None


def to_text(markdown: str) -> str:
    """The words of a Markdown text without its markup (for snippets and search)."""
    bare = nh3.clean(_MARKDOWN.render(markdown), tags=set(), attributes={})
    return " ".join(html.unescape(bare).split())
