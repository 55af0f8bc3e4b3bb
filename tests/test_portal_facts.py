"""The facts page over HTTP: a fact sent twice (a form sent again, two staff recording the same
presentation) is refused on the form, which keeps what was typed, and counts once."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from contracts import registry as rg
from contracts import reports as rp
from contracts.access import Actor
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.test_portal import add_person, csrf_of, portal_url, sign_in


async def test_a_presentation_sent_twice_is_refused_on_the_form_and_counts_once(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    staff = Actor(id="anna@map.example.ee", role="map_staff", region=region)
    sme = await client.call(rg.REGISTER_SME, new_sme(), region, actor=staff)
    await add_person(servers, region, staff.id, "map_staff")
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, staff.id)
        form = {"sme_id": sme.sme_id, "show": "MEDICA <b>2026</b>", "country": "de",
                "presented_on": today.isoformat()}  # fmt: skip
        first = await http.post("/facts/presentation", data=form | {"csrf": csrf_of(
            await http.get("/facts"))})  # fmt: skip
        assert first.status_code == 303
        again = await http.post("/facts/presentation", data=form | {"csrf": csrf_of(
            await http.get("/facts"))})  # fmt: skip
        assert again.status_code == 409, again.text
        assert 'role="alert"' in again.text and "recorded already" in again.text
        assert 'value="MEDICA &lt;b&gt;2026&lt;/b&gt;"' in again.text  # kept, inert
    kpis = await client.call(rg.GET_KPIS, rg.GetKpis(period_from=today, period_to=today), region)
    assert kpis.total.trade_show_presentations == 1


async def test_a_withdrawal_from_a_page_read_before_the_fact_changed_is_refused_on_it(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    """The Withdraw form sends the version its row showed: an introduction told anew after the
    page was read (by another staff member) is not withdrawn unseen; the page says it changed
    (409), and the fact still counts. A CSRF-less post withdraws nothing."""
    staff = Actor(id="anna@map.example.ee", role="map_staff", region=region)
    sme = await client.call(rg.REGISTER_SME, new_sme(), region, actor=staff)
    await add_person(servers, region, staff.id, "map_staff")
    today = datetime.now(UTC).date()
    intro = rg.RecordCompanyIntroduction(
        sme_id=sme.sme_id, company="Wärtsilä Oyj", company_country="FI", introduced_on=today
    )
    seen = await client.call(rg.RECORD_COMPANY_INTRODUCTION, intro, region, actor=staff)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, staff.id)
        page = await http.get("/facts")
        assert f'name="version" value="{seen.version}"' in page.text
        form = {"fact_id": seen.fact_id, "version": str(seen.version), "reason": "wrong SME"}
        forged = await http.post("/facts/withdraw", data=form)
        assert forged.status_code == 403
        told = intro.model_copy(update={"fact_id": seen.fact_id, "outcome": "meeting_held"})
        await client.call(rg.RECORD_COMPANY_INTRODUCTION, told, region, actor=staff)
        late = await http.post("/facts/withdraw", data=form | {"csrf": csrf_of(page)})
        assert late.status_code == 409, late.text
        assert 'role="alert"' in late.text and "changed meanwhile" in late.text
    kpis = await client.call(rg.GET_KPIS, rg.GetKpis(period_from=today, period_to=today), region)
    assert kpis.total.company_introductions == 1


async def test_a_fact_withdrawn_from_a_published_month_is_left_out_of_its_figures_again(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    """The month's figures were published while they counted a presentation recorded by
    mistake: withdrawing it from its row publishes them again without it, and the page says
    so; a month with no figures yet is left to publish itself."""
    staff = Actor(id="anna@map.example.ee", role="map_staff", region=region)
    sme = await client.call(rg.REGISTER_SME, new_sme(), region, actor=staff)
    await add_person(servers, region, staff.id, "map_staff")
    today = datetime.now(UTC).date()
    month = today.strftime("%Y-%m")
    show = rg.RecordTradeShowPresentation(
        sme_id=sme.sme_id, show="MEDICA", country="DE", presented_on=today
    )
    wrong = await client.call(rg.RECORD_TRADE_SHOW_PRESENTATION, show, region, actor=staff)
    published = await client.call(
        rp.PUBLISH_FIGURES, rp.PublishFigures(month=month), region, actor=staff
    )
    assert (published.version, published.total.trade_show_presentations) == (1, 1)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, staff.id)
        page = await http.get("/facts")
        assert f'name="on" value="{today.isoformat()}"' in page.text
        form = {"fact_id": wrong.fact_id, "on": today.isoformat(), "reason": "wrong SME",
                "csrf": csrf_of(page)}  # fmt: skip
        done = await http.post("/facts/withdraw", data=form)
        assert done.status_code == 303
        assert done.headers["location"] == f"/facts?figures_again={month}"
        shown = await http.get(done.headers["location"])
        assert f"The figures of {month} were published already" in shown.text
    held = await client.call(
        rp.LIST_FIGURES, rp.ListFigures(region=region, month_from=month, month_to=month),
        region, actor=staff,
    )  # fmt: skip
    [again] = held.items
    assert (again.version, again.total.trade_show_presentations) == (2, 0)
