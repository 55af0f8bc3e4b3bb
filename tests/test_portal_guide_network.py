"""The guide's pages in two real regions linked by a real hub: Tallinn's article, published there,
is read in Berlin's portal from Berlin's copy; Berlin's staff may not edit it nor write Tallinn's
market there, and write their own."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest

from contracts import guide as c
from contracts.access import Actor
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs, mongo
from services.portal.adapters.store import PortalStore
from services.portal.entrypoints.wiring import accounts_on
from tests.helpers import eventually
from tests.test_portal import PASSWORD, csrf_of, sign_in
from tests.test_portal_guide import article_form

pytestmark = pytest.mark.timeout(240)

T, B = "tallinn", "berlin"


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    home = Path(tmp_path_factory.mktemp("portal-guide-net"))
    async with LocalNetwork(home, [T, B], ("guide", "portal")) as network:
        yield network


def portal_of(net: LocalNetwork, region: str) -> str:
    assembly = net.regions[region].assembly
    assert assembly is not None
    [url] = [rt.http_url for rt in assembly.runtimes if rt.service == "portal"]
    assert url
    return url


async def staff_member(net: LocalNetwork, region: str, email: str) -> None:
    db = mongo.database(mongo.client(net.regions[region].mongo_url), region, "portal")
    await accounts_on(PortalStore(db)).add_user(email, "map_staff", region, PASSWORD)


async def test_another_regions_staff_read_an_article_but_neither_edit_it_nor_its_market(
    net: LocalNetwork,
) -> None:
    tallinn = await net.client(T)
    anna = Actor(id="anna@tallinn.example", role="map_staff", region=T)
    bert = Actor(id="bert@tallinn.example", role="map_staff", region=T)
    vat = c.WriteArticle.model_validate(
        {"market": "EE", "topic": "tax_vat", "title": "VAT in Estonia", "summary": "Registering.",
         "body": "Register with the **Tax and Customs Board**.",
         "sources": [{"url": "https://www.emta.ee/en", "title": "EMTA",
                      "checked_on": date.today().isoformat()}],
         "review_by": (date.today() + timedelta(days=180)).isoformat()}
    )  # fmt: skip
    draft = await tallinn.call(c.WRITE_ARTICLE, vat, T, actor=anna)
    step = c.ArticleStep(article_id=draft.article_id)
    await tallinn.call(c.SUBMIT_ARTICLE, step, T, actor=anna)
    await tallinn.call(c.APPROVE_ARTICLE, step, T, actor=bert)
    await staff_member(net, B, "carl@berlin.example")
    article = f"/guide/articles/{draft.article_id}"

    async with httpx.AsyncClient(base_url=portal_of(net, B)) as carl:

        async def read() -> httpx.Response:
            return await carl.get(article)

        copy = await eventually(read, until=lambda page: page.status_code == 200)
        assert "<strong>Tax and Customs Board</strong>" in copy.text  # Berlin's own copy
        await sign_in(carl, "carl@berlin.example")
        seen = await carl.get(article)
        assert "Edit the article" not in seen.text and "Withdraw" not in seen.text
        assert (await carl.get(f"{article}/edit")).status_code == 403
        page = await carl.get("/guide/new")
        assert 'value="DE"' in page.text  # Berlin writes Germany
        estonia = await carl.post("/guide/new", data=article_form(page, market="EE"))
        assert estonia.status_code == 403 and "tallinn" in estonia.text
        edit = article_form(page, revision="1")
        refused = await carl.post(f"{article}/edit", data=edit)
        assert refused.status_code == 403 and "region tallinn" in refused.text  # a read copy
        step_form = {"csrf": csrf_of(page), "action": "withdraw", "reason": "no"}
        withdrawn = await carl.post(f"{article}/step", data=step_form)
        assert withdrawn.status_code == 403 and "region tallinn" in withdrawn.text
        # A note of Berlin's MAP beside Tallinn's article: Berlin's own record, shown in Berlin.
        note = {"csrf": csrf_of(page), "text": "Ask us about <b>Estonian</b> VAT, too."}
        assert (await carl.post(f"{article}/notes", data=note)).status_code == 303
        noted = await carl.get(article)
        assert "Ask us about &lt;b&gt;Estonian&lt;/b&gt; VAT, too." in noted.text  # as text
        germany = await carl.post("/guide/new", data=article_form(page, market="DE"))
        assert germany.status_code == 303, germany.text
        assert re.match(r"/guide/articles/[^/]+/review$", germany.headers["location"])
    async with httpx.AsyncClient(base_url=portal_of(net, T)) as visitor:
        home = await eventually(
            partial(visitor.get, article), until=lambda page: page.status_code == 200
        )
        assert "Version 1" in home.text and "Ask us about" not in home.text  # Berlin's note
