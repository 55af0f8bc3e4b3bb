"""The guide's starter content: Markdown articles with a TOML front matter (between ``+++``
lines), one file per market and topic (``starter/<market>/<topic>.md``), written from official
sources that each names. Parsing is pure; the files are read by the demo loader."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from contracts import guide as c

FENCE = "+++"
REQUIRED = ("title", "summary", "language", "sources", "tags", "review_by", "written")


class StarterError(ValueError):
    """A starter file that is not a well-formed article; the message names the file and why."""


@dataclass(frozen=True)
class StarterArticle:
    market: str
    written: date
    content: c.ArticleContent

    def write(self) -> c.WriteArticle:
        """The command that writes it as a new article."""
        return c.WriteArticle.model_validate({**self.content.model_dump(), "market": self.market})


def parse(name: str, market: str, topic: str, text: str) -> StarterArticle:
    """One starter file: ``name`` is its path, for the messages."""
    head, body = _split(name, text)
    try:
        meta: dict[str, Any] = tomllib.loads(head)
    except tomllib.TOMLDecodeError as exc:
        raise StarterError(f"{name}: front matter is not TOML: {exc}") from None
    missing = [key for key in REQUIRED if key not in meta]
    if missing:
        raise StarterError(f"{name}: front matter lacks {', '.join(missing)}")
    written = meta.pop("written")
    if not isinstance(written, date):
        raise StarterError(f"{name}: written is not a date")
    try:
        content = c.ArticleContent.model_validate({**meta, "topic": topic, "body": body.strip()})
    except ValidationError as exc:
        raise StarterError(f"{name}: {exc}") from None
    if not content.sources:
        raise StarterError(f"{name}: an article names at least one source")
    return StarterArticle(market=market.upper(), written=written, content=content)


def _split(name: str, text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FENCE:
        raise StarterError(f"{name}: does not start with a {FENCE} front matter")
    for n, line in enumerate(lines[1:], start=1):
        if line.strip() == FENCE:
            return "".join(lines[1:n]), "".join(lines[n + 1 :])
    raise StarterError(f"{name}: front matter is not closed by {FENCE}")
