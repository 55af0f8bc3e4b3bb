"""The portal's guide and finance pages over HTTP on real servers (a region with every service):
the guide by market and topic with the facts card and search for anyone signed in or not, an
article's body as the guide sanitised it, writing and reviewing with four eyes, who may not,
finance offers, an SME's need with the suggestions and their reasons, and the guide of a
partner's market in partner search."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_settings import BaseSettings

from contracts import finance as f
from contracts import registry as rg
from contracts.access import Actor
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.guide.settings import GuideSettings
from services.guide.tests.test_articles_bus import published_article
from services.portal.entrypoints import finance_pages
from services.portal.settings import PortalSettings
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.test_portal import add_person, csrf_of, portal_url, sign_in

pytestmark = pytest.mark.usefixtures("region_app")

TODAY = date.today()


@pytest.fixture
def service_configs(region: str, tmp_path: Path) -> dict[str, BaseSettings]:
    """The test region is Estonia's home, for the guide and for the portal (as tallinn is in
    deploy/regions.toml); the other regions of the file stay as they are (berlin: DE)."""
    regions = tmp_path / "regions.toml"
    network = (Path(__file__).resolve().parents[1] / "deploy" / "regions.toml").read_text()
    tallinn = 'tallinn = { city = "Tallinn", country = "EE" }'
    # The test region's operator set its MAP's contact (invented, example.org); berlin's has
    # not, as no region of deploy/regions.toml has.
    ours = tallinn.replace("tallinn", region).replace(" }", MAP_CONTACT + " }")
    regions.write_text(network.replace(tallinn, ours))
    return {
        "guide": GuideSettings.model_validate(
            {"MAPNET_GUIDE_HOME_MARKETS": f"{region}=EE", "MAPNET_REGIONS_FILE": str(regions)}
        ),
        "portal": PortalSettings.model_validate({"MAPNET_REGIONS_FILE": str(regions)}),
    }


MAP_CONTACT = (
    ', map_name = "Test MAP (invented)", map_email = "map@test.example.org", '
    'map_url = "https://map.example.org/"'
)


def revision_of(page: httpx.Response) -> str:
    """The article's revision a page's form was made at (the change's expected_revision)."""
    found = re.search(r'name="revision" value="(\d+)"', page.text)
    assert found, page.text
    return found.group(1)


def article_form(page: httpx.Response, **extra: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf": csrf_of(page),
        "market": "EE",
        "topic": "tax_vat",
        "language": "en",
        "title": "VAT in Estonia",
        "summary": "Register for VAT once taxable supplies pass the threshold.",
        "body": "## Registration\n\nRegister with the **Tax and Customs Board**.\n\nKeep it.\n",
        "source_url": ["https://www.emta.ee/en", ""],
        "source_title": ["Estonian Tax and Customs Board", ""],
        "source_checked_on": [TODAY.isoformat(), TODAY.isoformat()],
        "tags": "vat, registration",
        "review_by": (TODAY + timedelta(days=300)).isoformat(),
        "action": "submit",
    }
    return form | extra


async def test_anyone_reads_the_guide_by_market_with_the_facts_card_and_searches_it(
    client: BusClient, region: str, region_app: Assembly
) -> None:
    hostile = (
        "Register an **OÜ**.\n\n<script>document.title='owned'</script>\n\n"
        "<img src=x onerror=\"document.title='owned'\">\n\n[click](javascript:alert(1))\n"
    )
    article = await published_article(client, region, body=hostile)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as visitor:
        index = await visitor.get("/guide")
        assert index.status_code == 200
        assert '<a href="/guide/markets/EE">Estonia</a>' in index.text
        assert '<a href="/guide/markets/DE">Germany</a>' in index.text  # the network's ten
        market = await visitor.get("/guide/markets/ee")
        assert market.status_code == 200 and "The guide to Estonia" in market.text
        facts = market.text.split('id="facts-heading"')[1].split("</section>")[0]
        assert "Euro (EUR)" in facts and "standard rate" in facts and "Estonian" in facts
        assert "Source:" in facts and "as of" in facts and "Public holidays" in facts
        # The MAP's contact as the region's operator set it in the regions file ...
        assert "The MAP of Tallinn: Test MAP (invented)" in facts
        assert '<a href="mailto:map@test.example.org">' in facts
        assert '<a href="https://map.example.org/">' in facts
        # ... and where it set none, said so and where it is set; no contact made up.
        germany = await visitor.get("/guide/markets/DE")
        unset = germany.text.split('id="facts-heading"')[1].split("</section>")[0]
        assert "The MAP of Berlin" in unset and "has not set its contact details yet" in unset
        assert "region berlin has not set its MAP&#39;s contact" in unset
        assert "map_email" in unset and "deploy/regions.toml" in unset
        assert "mailto:" not in unset and "Market Access Point" not in unset
        topics = market.text.split("Articles by topic")[1]
        forms = topics.split("<h3>Company forms and registration</h3>")[1].split("<h3>")[0]
        assert f'href="/guide/articles/{article.article_id}"' in forms
        assert "Write an article" not in market.text  # for the region's staff only
        read = await visitor.get(f"/guide/articles/{article.article_id}")
        assert read.status_code == 200 and "<strong>OÜ</strong>" in read.text
        # The guide sanitised the body; the portal showed it as it came: nothing runs.
        body = read.text.split("<article>")[1].split("</article>")[0]
        assert "<script" not in body and "<img" not in body and 'href="javascript:' not in body
        assert "&lt;script&gt;" in body  # raw HTML is shown as text, never as markup
        assert "Edit the article" not in read.text
        found = await visitor.get("/guide", params={"text": "register OÜ"})
        assert f'href="/guide/articles/{article.article_id}"' in found.text
        assert "<mark>" in found.text  # the words found, marked
        part = await visitor.get("/guide", params={"text": "register", "market": "EE"},
                                 headers={"HX-Request": "true"})  # fmt: skip
        assert "<html" not in part.text and "Company forms in Estonia" in part.text
        none = await visitor.get("/guide", params={"text": "astrology"})
        assert "Nothing in the guide matches." in none.text
        assert (await visitor.get("/guide/markets/XX")).status_code == 422
        assert (await visitor.get("/guide/articles/nothing-here")).status_code == 404


async def test_staff_write_and_submit_a_second_person_approves_and_the_author_is_refused(
    servers: Servers, region: str, region_app: Assembly
) -> None:
    for who in ("anna", "bert"):
        await add_person(servers, region, f"{who}@map.example.ee", "map_staff")
    base = portal_url(region_app, region)
    async with httpx.AsyncClient(base_url=base) as anna, httpx.AsyncClient(base_url=base) as bert:
        await sign_in(anna, "anna@map.example.ee")
        await sign_in(bert, "bert@map.example.ee")
        page = await anna.get("/guide/new", params={"market": "EE", "topic": "tax_vat"})
        assert page.status_code == 200
        # Without a source it is saved, not submitted: the page says which field.
        sourceless = article_form(page, source_url=[""], source_title=[""])
        refused = await anna.post("/guide/new", data=sourceless)
        assert refused.status_code == 400 and "sources" in refused.text
        article_id = re.search(r'action="/guide/articles/([^/"]+)/edit"', refused.text)
        assert article_id, refused.text
        edit = f"/guide/articles/{article_id.group(1)}/edit"
        sent = await anna.post(edit, data=article_form(refused, revision=revision_of(refused)))
        assert sent.status_code == 303
        review = sent.headers["location"]
        mine = await anna.get(review)
        assert "in review" in mine.text and "You wrote this revision" in mine.text
        assert 'value="approve"' not in mine.text  # no button for the author
        assert "A new article: never published" in mine.text
        # Sent anyway (a page kept open, a forged form): the guide refuses, the page says why.
        revision = revision_of(mine)
        step = review.replace("/review", "/step")
        own = await anna.post(step, data={"csrf": csrf_of(mine), "action": "approve",
                                          "revision": revision})  # fmt: skip
        assert own.status_code == 403 and "four eyes" in own.text.lower()
        theirs = await bert.get(review)
        assert 'value="approve"' in theirs.text and "You wrote" not in theirs.text
        assert '<li class="added"><ins>' in theirs.text and "Tax and Customs Board" in theirs.text
        done = await bert.post(step, data={"csrf": csrf_of(theirs), "action": "approve",
                                           "revision": revision})  # fmt: skip
        assert done.status_code == 303
        published = await bert.get(done.headers["location"])
        assert (
            "Version 1, published on" in published.text and "bert@map.example.ee" in published.text
        )
        # A change is reviewed against the published version: what went, what came.
        page = await anna.get(edit)
        form = article_form(page, body="## Registration\n\nRegister online in e-MTA.\n\nKeep it.\n")
        form["revision"] = revision_of(page)
        assert (await anna.post(edit, data=form)).status_code == 303
        change = await bert.get(review)
        assert "The change against published version 1" in change.text
        removed = re.findall(r'<li class="removed"><del>.*?</del>', change.text, re.S)
        added = re.findall(r'<li class="added"><ins>.*?</ins>', change.text, re.S)
        assert any("Tax and Customs Board" in line for line in removed)
        assert any("e-MTA" in line for line in added)
        assert not any("Keep it." in line for line in removed + added)  # unchanged
        async with httpx.AsyncClient(base_url=base) as visitor:
            meanwhile = await visitor.get(published.url.path)
        assert "Tax and Customs Board" in meanwhile.text  # readers read version 1 meanwhile
        back = {"csrf": csrf_of(change), "action": "return", "revision": revision_of(change),
                "comment": "Name the e-MTA's address, please."}  # fmt: skip
        assert (await bert.post(step, data=back)).status_code == 303
        returned = await anna.get(review)
        assert ">draft</dd>" in returned.text and "Name the e-MTA&#39;s address" in returned.text
        work = await anna.get("/guide/work")
        drafts = work.text.split("<h2>Drafts</h2>")[1].split("<h2>")[0]
        assert "VAT in Estonia" in drafts


async def test_an_sme_cannot_write_the_guide_nor_staff_another_regions_market(
    servers: Servers, client: BusClient, region: str, region_app: Assembly
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    await add_person(servers, region, "anna@map.example.ee", "map_staff")
    article = await published_article(client, region)
    base = portal_url(region_app, region)
    async with httpx.AsyncClient(base_url=base) as mari:
        await sign_in(mari, "mari@photonforge.ee")
        assert (await mari.get("/guide/new")).status_code == 403
        assert (await mari.get(f"/guide/articles/{article.article_id}/review")).status_code == 403
        read = await mari.get(f"/guide/articles/{article.article_id}")
        assert read.status_code == 200 and "Edit the article" not in read.text
        forged = await mari.post("/guide/new", data=article_form(read))
        assert forged.status_code == 403
    async with httpx.AsyncClient(base_url=base) as anna:
        await sign_in(anna, "anna@map.example.ee")
        # Germany is berlin's market (deploy/regions.toml): this region's staff do not write it.
        page = await anna.get("/guide/new")
        assert 'value="EE"' in page.text  # the region's own market by default
        german = await anna.post("/guide/new", data=article_form(page, market="DE"))
        assert german.status_code == 403 and "berlin" in german.text
        berlin = await anna.get("/guide/markets/DE")
        assert "Write an article" not in berlin.text
        assert "Write an article" in (await anna.get("/guide/markets/EE")).text


async def test_staff_publish_a_finance_offer_and_an_sme_finds_it_with_the_reasons(
    servers: Servers, client: BusClient, region: str, region_app: Assembly
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    other = await client.call(rg.REGISTER_SME, new_sme(reg="14000015", name="Other OÜ"), region)
    await add_person(servers, region, "anna@map.example.ee", "map_staff")
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    base = portal_url(region_app, region)
    async with httpx.AsyncClient(base_url=base) as anna:
        await sign_in(anna, "anna@map.example.ee")
        form = await anna.get("/finance/new")
        offer = {
            "csrf": csrf_of(form), "external_id": "form-1", "title": "Export growth loan",
            "provider": "KredEx", "kind": "loan", "markets": "ee, fi", "amount_min": "10000",
            "amount_max": "500000", "currency": "EUR", "url": "https://kredex.ee/en",
            "sme_sizes": ["micro", "small", "medium"],
            "growth_classes": list(f.GROWTH_CLASSES), "stages": list(f.STAGES),
            "purposes": ["internationalisation", "growth"],
        }  # fmt: skip
        bad = await anna.post("/finance/new", data=offer | {"amount_max": "5"})
        assert bad.status_code == 400 and "amount_max" in bad.text
        assert (await anna.post("/finance/new", data=offer)).status_code == 303
        again = await anna.post("/finance/new", data=offer)  # a double click: the same offer
        assert again.status_code == 303
        norway = offer | {"external_id": "form-2", "title": "Norwegian grant", "kind": "grant",
                          "markets": "NO", "purposes": ["r_and_d"]}  # fmt: skip
        assert (await anna.post("/finance/new", data=norway)).status_code == 303
    async with httpx.AsyncClient(base_url=base) as visitor:
        listed = await visitor.get("/finance")
        assert listed.text.count("Export growth loan") == 1 and "Norwegian grant" in listed.text
        assert "Withdraw" not in listed.text
        assert "Norwegian grant" not in (await visitor.get("/finance?market=EE")).text
    async with httpx.AsyncClient(base_url=base) as mari:
        await sign_in(mari, "mari@photonforge.ee")
        assert (await mari.get("/finance/new")).status_code == 403
        assert (await mari.get(f"/smes/{other.sme_id}/finance")).status_code == 403
        page = await mari.get(f"/smes/{sme.sme_id}/finance")
        need = {"csrf": csrf_of(page), "amount": "50000", "currency": "EUR",
                "purpose": "internationalisation", "instruments": ["loan"],
                "by_when": (TODAY + timedelta(days=90)).isoformat(), "target_markets": "fi",
                "action": "set"}  # fmt: skip
        past = await mari.post(f"/smes/{sme.sme_id}/finance", data=need | {"by_when": "2001-01-01"})
        assert past.status_code == 400 and "by_when" in past.text
        assert (await mari.post(f"/smes/{sme.sme_id}/finance", data=need)).status_code == 303
        own = await mari.get(f"/smes/{sme.sme_id}")
        assert "Needed: 50000" in own.text
        suggested = own.text.split('id="suggested"')[1].split("</ul>\n")[0]
        assert "Export growth loan" in suggested and "Norwegian grant" not in suggested
        assert suggested.count("<li>") >= 3  # the reasons it fits
        left_out = own.text.split("Offers left out")[1]
        assert "Norwegian grant" in left_out
    async with httpx.AsyncClient(base_url=base) as anna:
        await sign_in(anna, "anna@map.example.ee")
        listed = await anna.get("/finance")
        offer_id = re.findall(r'action="/finance/([^/]+)/withdraw"', listed.text)[0]
        reason = {"csrf": csrf_of(listed), "reason": "budget spent"}
        gone = await anna.post(f"/finance/{offer_id}/withdraw", data=reason)
        assert gone.status_code == 303
        assert listed.text.count("/withdraw") == 2
        assert (await anna.get("/finance")).text.count("/withdraw") == 1


async def test_the_finance_offers_page_links_the_next_page_of_offers(
    client: BusClient, region: str, region_app: Assembly, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More offers than one page shows: the page links the next (with its filters), and every
    offer is reached by following the links."""
    monkeypatch.setattr(finance_pages, "OFFERS_PAGE", 2)
    staff = Actor(id="anna@map.example.ee", role="map_staff", region=region)
    titles = [f"Paged loan {n}" for n in range(5)]
    for n, title in enumerate(titles):
        offer = f.PublishFinanceOffer(
            partner_id=f"map-{region}", external_id=f"paged-{n}", kind="loan", title=title,
            provider="KredEx", markets=["EE"], amount_min=Decimal(1), amount_max=Decimal(9),
            deadline=TODAY + timedelta(days=10 + n),
        )  # fmt: skip
        await client.call(f.PUBLISH_FINANCE_OFFER, offer, region, actor=staff)
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as visitor:
        path: str | None = "/finance?market=EE"
        while path is not None:
            page = await visitor.get(path)
            assert page.status_code == 200
            seen += re.findall(r"Paged loan \d", page.text)
            found = re.search(r'<a href="(/finance\?[^"]*cursor=[^"]*)">Next page', page.text)
            path = html.unescape(found.group(1)) if found else None
            assert path is None or "market=EE" in path
    assert seen == titles


async def test_partner_search_and_another_companys_page_link_the_guide_of_its_market(
    servers: Servers, client: BusClient, region: str, region_app: Assembly
) -> None:
    from services.matching.tests.test_matching_bus import profile
    from services.matching.tests.test_matching_bus import sme as sme_of
    from tests.helpers import eventually

    await published_article(client, region)  # company forms in Estonia
    await published_article(client, region, topic="tax_vat", title="VAT in Estonia")

    async def registered(name: str, number: str, *said: str) -> str:
        company = sme_of(name, number, nace_codes=["26.70"], clusters=["photonics"])
        view = await client.call(rg.REGISTER_SME, company, region)
        offered = profile(*said, nace_codes=["26.70"])
        publish = rg.PublishProfile(sme_id=view.sme_id, profile=offered)
        await client.call(rg.PUBLISH_PROFILE, publish, region)
        return view.sme_id

    wanted = ("Femtosecond laser for glass cutting", "We need an ultrafast laser for thin glass")
    offered = ("Ultrafast femtosecond laser source", "Compact femtosecond laser for glass cutting")
    seeker = await registered("Laser Seekers OÜ", "14000009", "technology_request", *wanted)
    partner = await registered("Ultrafast Optics OÜ", "14000015", "technology_offer", *offered)
    await add_person(servers, region, "seeker@lasers.ee", "sme", sme_id=seeker)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, "seeker@lasers.ee")

        async def results() -> str:
            return (await http.get("/partners")).text

        page = await eventually(results, until=lambda text: "Ultrafast femtosecond" in text)
        link = page.split("Ultrafast femtosecond")[1].split("</li>")[0]
        assert "Entering Estonia? Read:" in link
        assert ">Company forms and registration</a>" in link and ">Tax and VAT</a>" in link
        assert 'href="/guide/markets/EE"' in link
        theirs = await http.get(f"/smes/{partner}")
        assert "Entering Estonia? Read:" in theirs.text
        assert 'id="finance"' not in theirs.text  # another company's finance is not shown
