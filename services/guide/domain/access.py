"""Who may write which article: the staff of the market's home region (the region whose country
the market is), checked by the handlers after the runtime has checked the role. No I/O."""

from __future__ import annotations

from collections.abc import Mapping

from contracts import guide as c
from contracts.access import STAFF, Actor
from contracts.errors import Refused, forbidden_field


def home_of(market: str, homes: Mapping[str, str], writer_region: str) -> str:
    """The region that writes a market's articles: the one whose country it is; a market that
    is no region's country, the writing region itself (any region may write about it)."""
    return homes.get(market, writer_region)


def check_writes_market(
    actor: Actor | None, market: str, homes: Mapping[str, str], region: str
) -> None:
    """Only the home region of a market writes its articles."""
    home = home_of(market, homes, region)
    if home != region:
        raise forbidden_field(
            f"{market} is region {home}'s market: only its staff write its articles "
            f"(this region may add a local note)",
            "data.market",
            "another region's market",
            home_region=home,
        )
    check_home_staff(actor, region)


def check_home_staff(actor: Actor | None, region: str) -> None:
    """Staff act on their own region's articles and notes, not on another region's."""
    if actor is not None and actor.role in STAFF and actor.region != region:
        raise Refused(
            "forbidden",
            f"staff of {actor.region} act only in their own region, not in {region}",
            home_region=region,
        )


def is_home_staff(actor: Actor | None, article_region: str, region: str) -> bool:
    """Whether the reader is staff of the article's home region, asking there: they see its
    drafts, reviews and working revision."""
    return (
        actor is not None
        and actor.role in STAFF
        and actor.region == region
        and article_region == region
    )


def check_reads_status(actor: Actor | None, status: str | None, region: str) -> None:
    """Only this region's staff list articles that are not published (their own region's)."""
    if status in (None, "published"):
        return
    if actor is None or actor.role not in STAFF or actor.region != region:
        raise forbidden_field(
            "only the region's staff list its articles that are not published",
            "data.status",
            "staff only",
        )


def actor_name(actor: Actor | None) -> str:
    """Who a change is by: the stamped actor's id (never a field of the request)."""
    return actor.id if actor is not None else "unknown"


def may_see_names(actor: Actor | None) -> bool:
    """Who wrote, approved and noted an article is named (their work address) to MAP staff
    only: to the public (the portal's public pages read as a service), SMEs, partners and
    officials the guide speaks as the region's MAP, and staff's addresses are not published."""
    return actor is not None and actor.role in STAFF


def without_names(article: c.Article) -> c.Article:
    """The article as a reader who may not see staff's names reads it."""
    return article.model_copy(update={
        "approved_by": None, "written_by": [], "author": "",
        "versions": [v.model_copy(update={"approved_by": "", "written_by": []})
                     for v in article.versions],
        "notes": [n.model_copy(update={"written_by": ""}) for n in article.notes],
    })  # fmt: skip
