"""The guide across three real regions and a real hub (as tests/test_federation.py): a published
article reaches the two other regions and is read there from their own copy, also while cut off;
its withdrawal reaches them too; another region adds a local note beside it and cannot change
it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import pytest

from contracts import guide as c
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient
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
