"""A partner system neither writes, approves nor withdraws a guide article, nor adds a local
note, on real servers, at both gates it meets:

* the region's server: a partner (general or finance, as `mapnet partner add --kind` makes it)
  logged in with its own credentials is not carried to these operations at all (its account
  imports only what partners may send): the server tells its connection so and the call is
  answered region_unavailable, the guide never hearing of it;
* the guide itself: a request the server stamped as a partner's (the stamp the server writes for
  a request through a partners' account, here written by a trusted process of the region as the
  server would) is refused forbidden, naming the role and who may send it, before any handler.

Either way the article is as it was, and no note is added."""

from __future__ import annotations

import json
import secrets
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from contracts import guide as c
from contracts.access import Actor, PartnerKind
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.runtime.access import PARTNER_ACCOUNTS, REQUEST_INFO
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from mapnet.runtime.credentials import with_login, without_login
from services.guide.settings import GuideSettings
from tests.fixtures import Servers
from tests.helpers import connect_when_let_in

pytestmark = pytest.mark.usefixtures("region_app")

TODAY = date.today()


@pytest.fixture
def service_configs(region: str) -> dict[str, BaseSettings]:
    # The test region is Estonia's home (as tallinn is in deploy/regions.toml).
    return {"guide": GuideSettings.model_validate({"MAPNET_GUIDE_HOME_MARKETS": f"{region}=EE"})}


def staff(region: str, who: str) -> Actor:
    return Actor(id=f"{who}@map.example.ee", role="map_staff", region=region)


def an_article(**extra: Any) -> c.WriteArticle:
    return c.WriteArticle.model_validate(
        {"market": "EE", "topic": "company_forms", "title": "Company forms in Estonia",
         "summary": "The OÜ is the usual form for a foreign SME.",
         "body": "Register an **OÜ** in the e-Business Register.",
         "sources": [{"url": "https://www.rik.ee/en/e-business-register",
                      "title": "e-Business Register", "checked_on": TODAY.isoformat()}],
         "tags": ["registration"], "review_by": (TODAY + timedelta(days=200)).isoformat()}
        | extra
    )  # fmt: skip


async def an_article_in_review(client: BusClient, region: str) -> c.Article:
    """A published article with a change of it submitted for review: something to approve,
    to withdraw and to note."""
    anna, bert = staff(region, "anna"), staff(region, "bert")
    draft = await client.call(c.WRITE_ARTICLE, an_article(), region, actor=anna)
    step = c.ArticleStep(article_id=draft.article_id)
    await client.call(c.SUBMIT_ARTICLE, step, region, actor=anna)
    await client.call(c.APPROVE_ARTICLE, step, region, actor=bert)
    change = an_article(article_id=draft.article_id, title="Changed")
    await client.call(c.WRITE_ARTICLE, change, region, actor=anna)
    return await client.call(c.SUBMIT_ARTICLE, step, region, actor=anna)


Request = tuple[Operation[Any, Any], BaseModel]


def partner_requests(article: c.Article, region: str) -> list[Request]:
    """What a partner might try on the article: a new one and a change of it, an approval, a
    withdrawal and a note."""
    step = c.ArticleStep(article_id=article.article_id)
    return [
        (c.WRITE_ARTICLE, an_article(title="By a partner")),
        (c.WRITE_ARTICLE, an_article(article_id=article.article_id, title="By a partner")),
        (c.APPROVE_ARTICLE, step),
        (c.WITHDRAW_ARTICLE, c.WithdrawArticle(article_id=article.article_id, reason="mine")),
        (c.WRITE_LOCAL_NOTE,
         c.WriteLocalNote(article_id=article.article_id, article_region=region, text="Ours")),
    ]  # fmt: skip


async def as_it_was(client: BusClient, region: str, before: c.Article) -> None:
    now = await client.call(c.GET_ARTICLE, c.GetArticle(article_id=before.article_id), region,
                            actor=staff(region, "anna"))  # fmt: skip
    assert (now.status, now.revision_number, now.version) == (
        before.status, before.revision_number, before.version,
    )  # fmt: skip
    assert now.revision is not None and now.revision.state == "in_review"
    assert now.notes == []
    listed = await client.call(c.LIST_ARTICLES, c.ListArticles(market="EE"), region)
    assert [a.article_id for a in listed.items] == [before.article_id]


@pytest.mark.parametrize("kind", ["general", "finance"])
async def test_the_server_carries_no_partners_article_write_approval_withdrawal_or_note(
    servers: Servers, client: BusClient, region: str, kind: PartnerKind
) -> None:
    article = await an_article_in_review(client, region)
    book = servers.partner_book()
    added = book.add(f"{kind[:3]}{secrets.token_hex(3)}", kind)
    assert book.reload_server()
    told: list[str] = []

    async def complaint(exc: Exception) -> None:
        told.append(str(exc).lower())

    url = with_login(without_login(servers.nats_url), added.user, added.password)
    nc = await connect_when_let_in(url, inbox_prefix=added.inbox_prefix, error_cb=complaint)
    # Its envelopes claim the region's administrator: never believed either way.
    partner = BusClient(nc, source=f"https://{added.user}.example", role="map_admin")
    try:
        for op, data in partner_requests(article, region):
            with pytest.raises(Refused) as refused:
                await partner.call(op, data, region, timeout_s=1.0)
            assert refused.value.code == "region_unavailable", op.name
        for op, _ in partner_requests(article, region):
            assert any("permissions violation" in t and op.name in t for t in told), (op, told)
    finally:
        await nc.close()
        book.remove(added.user)
        book.reload_server()
    await as_it_was(client, region, article)


@pytest.mark.parametrize("kind", ["general", "finance"])
async def test_the_guide_refuses_a_request_stamped_as_a_partners(
    client: BusClient, region: str, kind: PartnerKind
) -> None:
    article = await an_article_in_review(client, region)
    stamp = {REQUEST_INFO: json.dumps({"acc": PARTNER_ACCOUNTS[kind], "user": "sciencepark"})}
    claims = Actor(id="admin@map.example.ee", role="map_admin", region=region)
    for op, data in partner_requests(article, region):
        env = make_envelope(op, data, region=region, source="https://sciencepark.example",
                            actor=claims)  # fmt: skip
        answer = await client.nc.request(op.subject(region), encode(env), timeout=5,
                                         headers=stamp)  # fmt: skip
        error = json.loads(answer.data)["data"]["error"]
        assert error["code"] == "forbidden", (op.name, error)
        assert error["details"]["role"] == "partner", op.name
        assert "partner" not in error["details"]["allowed"]
    await as_it_was(client, region, article)
