"""The guide across three real regions and a real hub (as tests/test_federation.py): a published
article reaches the two other regions and is read there from their own copy, also while cut off;
its withdrawal reaches them too; another region adds a local note beside it and cannot change
it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from contracts import guide as c
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(240)

T, H, B = "tallinn", "helsinki", "berlin"


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    async with LocalNetwork(Path(tmp_path_factory.mktemp("guide-net")), [T, H, B], ("guide",)) as n:
        yield n


def staff(region: str, who: str) -> Actor:
    return Actor(id=f"{who}@{region}.example", role="map_staff", region=region)


def estonian_vat(title: str) -> c.WriteArticle:
    return c.WriteArticle.model_validate(
        {"market": "EE", "topic": "tax_vat", "title": title,
         "summary": "When a foreign company registers for VAT in Estonia",
         "body": "Register with the **Tax and Customs Board** (EMTA).",
         "sources": [{"url": "https://www.emta.ee/en", "title": "EMTA",
                      "checked_on": date.today().isoformat()}],
         "tags": ["vat"], "review_by": (date.today() + timedelta(days=180)).isoformat()}
    )  # fmt: skip


async def read(client: BusClient, region: str, article_id: str) -> c.Article | str:
    """The article as ``region`` answers it, or the code of its refusal."""
    try:
        return await client.call(c.GET_ARTICLE, c.GetArticle(article_id=article_id), region)
    except Refused as refused:
        return refused.code


async def test_a_published_article_and_its_withdrawal_reach_every_region(
    net: LocalNetwork,
) -> None:
    tallinn, helsinki, berlin = await net.client(T), await net.client(H), await net.client(B)
    anna, bert = staff(T, "anna"), staff(T, "bert")
    draft = await tallinn.call(c.WRITE_ARTICLE, estonian_vat("VAT in Estonia"), T, actor=anna)
    step = c.ArticleStep(article_id=draft.article_id)
    await tallinn.call(c.SUBMIT_ARTICLE, step, T, actor=anna)
    # A draft is Tallinn's alone.
    assert await read(berlin, B, draft.article_id) == "not_found"
    await tallinn.call(c.APPROVE_ARTICLE, step, T, actor=bert)

    for client, region in ((helsinki, H), (berlin, B)):
        copy = await eventually(
            partial(read, client, region, draft.article_id),
            until=lambda found: isinstance(found, c.Article),
        )
        assert isinstance(copy, c.Article)
        assert (copy.region, copy.version, copy.status) == (T, 1, "published")
        assert "<strong>Tax and Customs Board</strong>" in copy.body_html
        hits = await client.call(c.SEARCH_GUIDE, c.SearchGuide(text="customs board"), region)
        assert [h.article_id for h in hits.items] == [draft.article_id]

    # Berlin cut off from the network still reads the guide from its own copy.
    await net.cut(B)
    try:
        cut_off = await read(berlin, B, draft.article_id)
        assert isinstance(cut_off, c.Article) and cut_off.content is not None
        assert cut_off.content.title == "VAT in Estonia"
    finally:
        await net.heal(B)

    # Helsinki writes no Estonian article, nor changes Tallinn's copy; it adds a local note.
    with pytest.raises(Refused) as write:
        await helsinki.call(c.WRITE_ARTICLE, estonian_vat("Ours"), H, actor=staff(H, "hanna"))
    assert write.value.code == "forbidden" and write.value.details["home_region"] == T
    change = estonian_vat("Changed").model_copy(update={"article_id": draft.article_id})
    with pytest.raises(Refused) as copy_change:
        await helsinki.call(c.WRITE_ARTICLE, change, H, actor=staff(H, "hanna"))
    assert copy_change.value.code in ("forbidden", "not_home")
    note = await helsinki.call(
        c.WRITE_LOCAL_NOTE,
        c.WriteLocalNote(article_id=draft.article_id, article_region=T,
                         text="Finnish companies: ask Helsinki's MAP about the Tax Card."),
        H, actor=staff(H, "hanna"),
    )  # fmt: skip
    in_helsinki = await read(helsinki, H, draft.article_id)
    assert isinstance(in_helsinki, c.Article)
    assert [n.note_id for n in in_helsinki.notes] == [note.note_id]
    in_tallinn = await read(tallinn, T, draft.article_id)
    assert isinstance(in_tallinn, c.Article) and in_tallinn.notes == []

    # Withdrawn at home: gone from every region's guide.
    await tallinn.call(
        c.WITHDRAW_ARTICLE, c.WithdrawArticle(article_id=draft.article_id, reason="rates changed"),
        T, actor=anna,
    )  # fmt: skip
    for client, region in ((helsinki, H), (berlin, B)):
        await eventually(
            partial(read, client, region, draft.article_id),
            until=lambda found: found == "not_found",
        )
        hits = await client.call(c.SEARCH_GUIDE, c.SearchGuide(text="customs board"), region)
        assert hits.items == []


def shared_article(article_id: str, region: str, market: str) -> c.PublishedArticle:
    written = estonian_vat(f"Shared {article_id[:8]}")
    content = written.model_dump(include=set(c.ArticleContent.model_fields))
    return c.PublishedArticle.model_validate(
        content | {"article_id": article_id, "region": region, "market": market, "version": 1,
                   "published_at": datetime.now(UTC), "approved_by": f"bert@{region}.example",
                   "written_by": [f"anna@{region}.example"], "author": f"anna@{region}.example"}
    )  # fmt: skip


async def share(client: BusClient, region: str, op: Any, data: Any) -> None:
    """An event on the region's own guide stream, as its guide would publish it: from there
    the shared stream and the hub carry it to every other region, as a faulty or forged
    publisher's would be."""
    env = make_envelope(op, data, region=region, source=f"mapnet/{region}/guide")
    await client.nc.jetstream().publish(op.subject(region), encode(env))


async def test_a_shared_article_of_a_market_not_the_sharers_home_is_not_kept(
    net: LocalNetwork,
) -> None:
    """Helsinki shares an article of Estonia (Tallinn's market) and withdraws one of its own
    Finnish articles naming Estonia: neither is taken by Tallinn or Berlin; Helsinki's
    articles of Finland (its home) are."""
    helsinki, berlin = await net.client(H), await net.client(B)
    tallinn = await net.client(T)
    not_home, home, control = (str(uuid.uuid4()) for _ in range(3))
    await share(helsinki, H, c.ARTICLE_PUBLISHED, shared_article(not_home, H, "EE"))
    await share(helsinki, H, c.ARTICLE_PUBLISHED, shared_article(home, H, "FI"))
    for client, region in ((tallinn, T), (berlin, B)):
        kept = await eventually(
            partial(read, client, region, home), until=lambda found: isinstance(found, c.Article)
        )
        assert isinstance(kept, c.Article) and (kept.region, kept.market) == (H, "FI")
        # Shared before the home one, on the same stream: it would be here by now.
        assert await read(client, region, not_home) == "not_found"

    withdrawn = c.ArticleWithdrawn(article_id=home, region=H, market="EE", status="withdrawn",
                                   version=1, reason="forged")  # fmt: skip
    await share(helsinki, H, c.ARTICLE_WITHDRAWN, withdrawn)
    await share(helsinki, H, c.ARTICLE_PUBLISHED, shared_article(control, H, "FI"))
    for client, region in ((tallinn, T), (berlin, B)):
        await eventually(
            partial(read, client, region, control),
            until=lambda found: isinstance(found, c.Article),
        )
        still = await read(client, region, home)
        assert isinstance(still, c.Article) and still.status == "published"
