"""The guide's articles over real NATS and the MongoDB-compatible server: the four-eyes rule,
versions, needs_review by date, the review reminder, who writes which market, refusals for
every role, another region and a partner, bad input named field by field, search."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from contracts import guide as c
from contracts.access import Actor, Role
from contracts.errors import Refused
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from services.guide.settings import GuideSettings
from tests.fixtures import Servers
from tests.helpers import eventually, published

pytestmark = pytest.mark.usefixtures("region_app")

TODAY = date.today()


@pytest.fixture
def service_configs(region: str) -> dict[str, BaseSettings]:
    # The test region is Estonia's home (as tallinn is in deploy/regions.toml).
    return {
        "guide": GuideSettings.model_validate(
            {"MAPNET_GUIDE_HOME_MARKETS": f"{region}=EE", "MAPNET_GUIDE_REVIEW_CHECK_S": 0.3}
        )
    }


def staff(region: str, who: str, role: Role = "map_staff") -> Actor:
    return Actor(id=f"{who}@map.example.ee", role=role, region=region)


def an_article(**extra: Any) -> c.WriteArticle:
    base: dict[str, Any] = {
        "market": "EE",
        "topic": "company_forms",
        "title": "Company forms in Estonia",
        "summary": "The OÜ (private limited company) is the usual form for a foreign SME.",
        "body": "## Forms\n\nMost SMEs register an **OÜ** in the [Business Register]"
        "(https://www.rik.ee/en/e-business-register).\n",
        "language": "en",
        "sources": [
            {
                "url": "https://www.rik.ee/en/e-business-register",
                "title": "e-Business Register",
                "checked_on": TODAY.isoformat(),
            }
        ],
        "tags": ["registration", "oü"],
        "review_by": (TODAY + timedelta(days=200)).isoformat(),
    }
    return c.WriteArticle.model_validate(base | extra)


async def published_article(client: BusClient, region: str, **extra: Any) -> c.Article:
    """An article written by Anna, submitted, and approved by Bert."""
    anna, bert = staff(region, "anna"), staff(region, "bert")
    draft = await client.call(c.WRITE_ARTICLE, an_article(**extra), region, actor=anna)
    step = c.ArticleStep(article_id=draft.article_id)
    await client.call(c.SUBMIT_ARTICLE, step, region, actor=anna)
    return await client.call(c.APPROVE_ARTICLE, step, region, actor=bert)


async def test_four_eyes_the_author_cannot_approve_a_second_person_publishes(
    servers: Servers, client: BusClient, region: str
) -> None:
    anna, bert = staff(region, "anna"), staff(region, "bert", "map_admin")
    draft = await client.call(c.WRITE_ARTICLE, an_article(), region, actor=anna)
    assert (draft.status, draft.version, draft.author) == ("draft", 0, anna.id)
    assert draft.revision is not None and draft.revision.written_by == [anna.id]
    step = c.ArticleStep(article_id=draft.article_id)
    # Not yet submitted: nothing to approve.
    with pytest.raises(Refused) as early:
        await client.call(c.APPROVE_ARTICLE, step, region, actor=bert)
    assert early.value.code == "conflict" and early.value.details["state"] == "draft"
    submitted = await client.call(c.SUBMIT_ARTICLE, step, region, actor=anna)
    assert submitted.status == "in_review"
    with pytest.raises(Refused) as own:
        await client.call(c.APPROVE_ARTICLE, step, region, actor=anna)
    assert own.value.code == "forbidden" and own.value.details["rule"] == "four_eyes"
    assert own.value.details["written_by"] == [anna.id]
    approved = await client.call(c.APPROVE_ARTICLE, step, region, actor=bert)
    assert (approved.status, approved.version, approved.approved_by) == ("published", 1, bert.id)
    # Anyone reads it, rendered; nobody but the home staff sees a working revision.
    reader = Actor(id="sme@example.com", role="sme", region=region, sme_id="s1")
    read = await client.call(c.GET_ARTICLE, c.GetArticle(article_id=draft.article_id), region,
                             actor=reader)  # fmt: skip
    assert "<strong>OÜ</strong>" in read.body_html and read.revision is None
    shared = await published(servers.nats_url, c.ARTICLE_PUBLISHED, region)
    assert shared[0]["article_id"] == draft.article_id and shared[0]["version"] == 1


async def test_a_co_writer_cannot_approve_but_the_first_writer_may_approve_anothers_change(
    client: BusClient, region: str
) -> None:
    anna, bert, cleo = (staff(region, n) for n in ("anna", "bert", "cleo"))
    first = await published_article(client, region)
    step = c.ArticleStep(article_id=first.article_id)
    change = an_article(article_id=first.article_id, title="Company forms in Estonia (2027)")
    revised = await client.call(c.WRITE_ARTICLE, change, region, actor=bert)
    # Readers still read version 1 while the revision is worked on.
    assert (revised.status, revised.version, revised.content.title) == (  # type: ignore[union-attr]
        "published", 1, "Company forms in Estonia",
    )  # fmt: skip
    await client.call(c.SUBMIT_ARTICLE, step, region, actor=bert)
    with pytest.raises(Refused) as co_writer:
        await client.call(c.APPROVE_ARTICLE, step, region, actor=bert)
    assert co_writer.value.code == "forbidden"
    second = await client.call(c.APPROVE_ARTICLE, step, region, actor=anna)
    assert (second.version, second.latest_version) == (2, 2)
    assert [v.version for v in second.versions] == [1, 2]
    old = await client.call(
        c.GET_ARTICLE, c.GetArticle(article_id=first.article_id, version=1), region, actor=cleo
    )
    assert old.content is not None and old.content.title == "Company forms in Estonia"
    assert old.version == 1 and old.latest_version == 2
    with pytest.raises(Refused) as missing:
        await client.call(
            c.GET_ARTICLE, c.GetArticle(article_id=first.article_id, version=3), region
        )
    assert missing.value.code == "not_found"


async def test_an_article_without_a_source_cannot_be_submitted(
    client: BusClient, region: str
) -> None:
    anna = staff(region, "anna")
    draft = await client.call(c.WRITE_ARTICLE, an_article(sources=[]), region, actor=anna)
    with pytest.raises(Refused) as refused:
        await client.call(
            c.SUBMIT_ARTICLE, c.ArticleStep(article_id=draft.article_id), region, actor=anna
        )
    assert refused.value.code == "validation_failed"
    assert [f["field"] for f in refused.value.details["fields"]] == ["sources"]


async def test_bad_input_is_named_field_by_field_and_nothing_is_stored(
    servers: Servers, client: BusClient, region: str
) -> None:
    body = an_article().model_dump(mode="json") | {
        "market": "XX",
        "topic": "astrology",
        "title": "a\nb",
        "sources": [{"url": "not a url", "title": "", "checked_on": "yesterday"}],
        "review_by": "soon",
    }
    doc = json.loads(encode(make_envelope(c.WRITE_ARTICLE, an_article(), region=region,
                                          source="t", actor=staff(region, "anna"))))  # fmt: skip
    doc["data"] = body
    msg = await client.nc.request(c.WRITE_ARTICLE.subject(region), json.dumps(doc).encode())
    error = json.loads(msg.data)["data"]["error"]
    assert error["code"] == "validation_failed"
    fields = {f["field"] for f in error["details"]["fields"]}
    assert {"data.market", "data.topic", "data.title", "data.review_by"} <= fields
    assert {"data.sources.0.url", "data.sources.0.title", "data.sources.0.checked_on"} <= fields
    db = mongo.database(mongo.client(servers.mongo_url), region, "guide")
    assert await db["articles"].count_documents({}) == 0


async def test_only_the_home_region_writes_a_market(client: BusClient, region: str) -> None:
    # Finland is helsinki's market (deploy/regions.toml): this region may not write it.
    with pytest.raises(Refused) as refused:
        await client.call(c.WRITE_ARTICLE, an_article(market="FI"), region,
                          actor=staff(region, "anna"))  # fmt: skip
    assert refused.value.code == "forbidden"
    assert refused.value.details["home_region"] == "helsinki"
    assert refused.value.details["fields"][0]["field"] == "data.market"
    # A market that is no region's country: any region writes about it.
    france = await client.call(c.WRITE_ARTICLE, an_article(market="FR"), region,
                               actor=staff(region, "anna"))  # fmt: skip
    assert france.market == "FR" and france.region == region


@pytest.mark.parametrize("role", ["sme", "organiser", "steering", "operator", "service"])
async def test_only_staff_write_articles(client: BusClient, region: str, role: Role) -> None:
    actor = Actor(id="someone", role=role, region=region, sme_id="s1" if role == "sme" else None)
    for op, data in (
        (c.WRITE_ARTICLE, an_article()),
        (c.SUBMIT_ARTICLE, c.ArticleStep(article_id="a1")),
        (c.APPROVE_ARTICLE, c.ArticleStep(article_id="a1")),
        (c.RETURN_ARTICLE, c.ArticleStep(article_id="a1")),
        (c.WITHDRAW_ARTICLE, c.WithdrawArticle(article_id="a1", reason="r")),
        (c.ARCHIVE_ARTICLE, c.ArchiveArticle(article_id="a1")),
    ):
        with pytest.raises(Refused) as refused:
            await client.call(op, data, region, actor=actor)
        assert refused.value.code == "forbidden", op.name


async def test_staff_of_another_region_neither_write_nor_approve_here(
    client: BusClient, region: str
) -> None:
    article = await published_article(client, region)
    stranger = staff("helsinki", "hanna")
    with pytest.raises(Refused) as write:
        await client.call(c.WRITE_ARTICLE, an_article(), region, actor=stranger)
    assert write.value.code == "forbidden"
    draft = await client.call(
        c.WRITE_ARTICLE, an_article(article_id=article.article_id, title="Changed"),
        region, actor=staff(region, "anna"),
    )  # fmt: skip
    await client.call(c.SUBMIT_ARTICLE, c.ArticleStep(article_id=draft.article_id), region,
                      actor=staff(region, "anna"))  # fmt: skip
    with pytest.raises(Refused) as approve:
        await client.call(c.APPROVE_ARTICLE, c.ArticleStep(article_id=draft.article_id),
                          region, actor=stranger)  # fmt: skip
    assert approve.value.code == "forbidden"
    # Nor do they see the working revision.
    read = await client.call(c.GET_ARTICLE, c.GetArticle(article_id=draft.article_id), region,
                             actor=stranger)  # fmt: skip
    assert read.revision is None and read.content is not None
    assert read.content.title == "Company forms in Estonia"


async def test_a_draft_is_read_by_its_home_staff_only(client: BusClient, region: str) -> None:
    draft = await client.call(c.WRITE_ARTICLE, an_article(), region, actor=staff(region, "anna"))
    ask = c.GetArticle(article_id=draft.article_id)
    own = await client.call(c.GET_ARTICLE, ask, region, actor=staff(region, "bert"))
    assert own.content is not None and own.revision is not None
    for reader in (
        Actor(id="sme@example.com", role="sme", region=region, sme_id="s1"),
        staff("helsinki", "hanna"),
    ):
        with pytest.raises(Refused) as refused:
            await client.call(c.GET_ARTICLE, ask, region, actor=reader)
        assert refused.value.code == "not_found"
    with pytest.raises(Refused) as listing:
        await client.call(c.LIST_ARTICLES, c.ListArticles(status="draft"), region,
                          actor=Actor(id="x", role="sme", region=region, sme_id="s1"))  # fmt: skip
    assert listing.value.code == "forbidden"
    drafts = await client.call(c.LIST_ARTICLES, c.ListArticles(status="draft"), region,
                               actor=staff(region, "bert"))  # fmt: skip
    assert [a.article_id for a in drafts.items] == [draft.article_id]


async def test_needs_review_is_computed_from_the_date_and_the_author_is_reminded_once(
    servers: Servers, client: BusClient, region: str
) -> None:
    past = await published_article(
        client, region, review_by=(TODAY - timedelta(days=1)).isoformat(), title="Past review"
    )
    soon = await published_article(
        client, region, review_by=(TODAY + timedelta(days=10)).isoformat(), title="Due soon"
    )
    later = await published_article(client, region, title="Far off")
    ask = c.GetArticle
    assert (await client.call(c.GET_ARTICLE, ask(article_id=past.article_id), region)).needs_review
    assert not (await client.call(c.GET_ARTICLE, ask(article_id=soon.article_id),
                                  region)).needs_review  # fmt: skip
    listed = await client.call(c.LIST_ARTICLES, c.ListArticles(needs_review=True), region)
    assert [a.article_id for a in listed.items] == [past.article_id]
    # The periodic check (every 0.3 s here) records one reminder per version due within 14 days.
    due = await eventually(
        lambda: published(servers.nats_url, c.ARTICLE_REVIEW_DUE, region, at_least=2),
        until=lambda events: len(events) >= 2,
    )
    assert {e["article_id"] for e in due} == {past.article_id, soon.article_id}
    assert later.article_id not in {e["article_id"] for e in due}
    assert all(e["author"].startswith("anna@") for e in due)
    db = mongo.database(mongo.client(servers.mongo_url), region, "guide")
    await eventually(
        lambda: db["articles"].find_one({"_id": soon.article_id}),
        until=lambda doc: doc is not None and doc["reminded"] == [1],
    )


async def test_withdraw_and_archive(client: BusClient, region: str) -> None:
    article = await published_article(client, region)
    anna = staff(region, "anna")
    withdrawn = await client.call(
        c.WITHDRAW_ARTICLE, c.WithdrawArticle(article_id=article.article_id, reason="outdated"),
        region, actor=anna,
    )  # fmt: skip
    assert withdrawn.status == "withdrawn"
    with pytest.raises(Refused) as gone:
        await client.call(c.GET_ARTICLE, c.GetArticle(article_id=article.article_id), region,
                          actor=Actor(id="x", role="sme", region=region, sme_id="s1"))  # fmt: skip
    assert gone.value.code == "not_found"
    with pytest.raises(Refused) as again:
        await client.call(
            c.WITHDRAW_ARTICLE, c.WithdrawArticle(article_id=article.article_id, reason="x"),
            region, actor=anna,
        )  # fmt: skip
    assert again.value.code == "conflict"
    archived = await client.call(
        c.ARCHIVE_ARTICLE, c.ArchiveArticle(article_id=article.article_id), region, actor=anna
    )
    assert archived.status == "archived"
    with pytest.raises(Refused) as closed:
        await client.call(c.WRITE_ARTICLE, an_article(article_id=article.article_id), region,
                          actor=anna)  # fmt: skip
    assert closed.value.code == "conflict"


async def test_search_finds_by_words_with_snippets_and_pages_to_the_end(
    client: BusClient, region: str
) -> None:
    for n in range(5):
        await published_article(
            client, region, title=f"VAT registration number {n}", topic="tax_vat",
            body="Filler text. " * 40 + f"A foreign company registers for VAT at the tax board"
            f" {n}.",
        )  # fmt: skip
    await published_article(client, region, title="Posting workers", topic="employment")
    found: list[c.GuideHit] = []
    cursor: str | None = None
    while True:
        page = await client.call(
            c.SEARCH_GUIDE, c.SearchGuide(text="VAT tax board", limit=2, cursor=cursor), region
        )
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(found) == 5 and len({h.article_id for h in found}) == 5
    assert all(h.topic == "tax_vat" for h in found)
    assert "tax board" in found[0].snippet and "vat" in found[0].matched
    scores = [h.score for h in found]
    assert scores == sorted(scores, reverse=True)
    by_topic = await client.call(c.SEARCH_GUIDE, c.SearchGuide(topic="employment"), region)
    assert [h.title for h in by_topic.items] == ["Posting workers"]
    with pytest.raises(Refused) as bad:
        await client.call(c.SEARCH_GUIDE, c.SearchGuide(cursor="nonsense"), region)
    assert bad.value.code == "invalid_cursor"


async def test_a_local_note_is_the_regions_own_record_shown_beside_the_article(
    client: BusClient, region: str
) -> None:
    article = await published_article(client, region)
    note = await client.call(
        c.WRITE_LOCAL_NOTE,
        c.WriteLocalNote(article_id=article.article_id, article_region=region,
                         text="Ask us about the <script>alert(1)</script> e-Residency."),
        region, actor=staff(region, "cleo"),
    )  # fmt: skip
    assert "<script>" not in note.text_html and note.written_by.startswith("cleo@")
    read = await client.call(c.GET_ARTICLE, c.GetArticle(article_id=article.article_id), region)
    assert [n.note_id for n in read.notes] == [note.note_id]
    await client.call(c.DELETE_LOCAL_NOTE, c.DeleteLocalNote(note_id=note.note_id), region,
                      actor=staff(region, "cleo"))  # fmt: skip
    read = await client.call(c.GET_ARTICLE, c.GetArticle(article_id=article.article_id), region)
    assert read.notes == []


@pytest.mark.parametrize("role", ["service", "sme", "organiser", "steering"])
async def test_staffs_names_are_shown_to_map_staff_only(
    client: BusClient, region: str, role: Role
) -> None:
    """The public (the portal's public pages read as a service), companies' contacts,
    organisers and officials read an article as the region's MAP's, without the addresses of
    the staff who wrote, approved and noted it; staff read them."""
    article = await published_article(client, region)
    await client.call(
        c.WRITE_LOCAL_NOTE,
        c.WriteLocalNote(article_id=article.article_id, article_region=region, text="Ask us."),
        region, actor=staff(region, "cleo"),
    )  # fmt: skip
    asked = c.GetArticle(article_id=article.article_id)
    reader = Actor(id="reader@example.ee", role=role, region=region, sme_id="s1", event_ids=[])
    public = await client.call(c.GET_ARTICLE, asked, region, actor=reader)
    shown = public.model_dump_json()
    assert "@map.example.ee" not in shown, shown
    assert (public.approved_by, public.written_by, public.author) == (None, [], "")
    assert public.content is not None and public.notes[0].text == "Ask us."
    named = await client.call(c.GET_ARTICLE, asked, region, actor=staff(region, "dora"))
    assert named.approved_by == staff(region, "bert").id
    assert named.notes[0].written_by == staff(region, "cleo").id
