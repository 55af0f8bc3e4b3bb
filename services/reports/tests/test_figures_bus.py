"""A region's monthly figures over real servers (registry, events, matching, reports of one
region): staff publish a month, the snapshot holds the registry's counts and matching's and no
personal data (not in the answer, nor in the event that leaves for the network); publishing
the month again replaces it with its next version; who may publish and read; the schedule
publishes the month that ended, once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import nats
import pytest

from contracts import registry as rg
from contracts import reports as c
from contracts.access import Actor, Role
from contracts.errors import Refused
from contracts.subjects import stream_name
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.reports.domain.figures import month_of, previous_month
from services.reports.settings import ReportsSettings
from tests.fixtures import Servers
from tests.helpers import eventually

TODAY = datetime.now(UTC).date()
MONTH = month_of(TODAY)


def staff(region: str, role: Role = "map_staff") -> Actor:
    return Actor(id=f"anna@{region}.example", role=role, region=region)


def an_sme(number: str, name: str, clusters: list[str], email: str) -> rg.RegisterSme:
    return rg.RegisterSme.model_validate(
        {"legal_name": name, "registration_number": number, "country": "EE",
         "clusters": clusters,
         "contacts": [{"name": f"Contact of {name}", "email": email}]}
    )  # fmt: skip


@pytest.fixture
async def figures_region(settings: Settings, region: str) -> AsyncIterator[Assembly]:
    services = ["registry", "events", "matching", "reports"]
    async with Assembly(settings, services, [region]) as app:
        yield app


async def registered(client: BusClient, region: str) -> dict[str, Any]:
    """Two SMEs, one moved on and presenting at a trade show: what must not leave the region."""
    anna = staff(region)
    photon = await client.call(
        rg.REGISTER_SME,
        an_sme("14000009", "Photon Forge OÜ", ["photonics"], "mari@photonforge.ee"),
        region,
        actor=anna,
    )
    code = await client.call(
        rg.REGISTER_SME,
        an_sme("14000015", "Baltic Code OÜ", ["ict"], "jaan@balticcode.ee"),
        region,
        actor=anna,
    )
    await client.call(
        rg.CHANGE_STAGE,
        rg.ChangeStage(sme_id=photon.sme_id, to_stage="selected", reason="fits"),
        region,
        actor=anna,
    )
    await client.call(
        rg.RECORD_TRADE_SHOW_PRESENTATION,
        rg.RecordTradeShowPresentation(
            sme_id=photon.sme_id, show="LASER World of Photonics", country="DE",
            presented_on=TODAY,
        ),
        region,
        actor=anna,
    )  # fmt: skip
    personal = [
        photon.sme_id, code.sme_id, "Photon Forge", "Baltic Code", "14000009", "14000015",
        "mari@photonforge.ee", "jaan@balticcode.ee", "Contact of", anna.id,
        *(contact.id for contact in (*photon.contacts, *code.contacts)),
    ]  # fmt: skip
    return {"photon": photon, "code": code, "personal": personal}


@pytest.mark.usefixtures("figures_region")
async def test_a_published_month_holds_counts_only_and_a_republication_replaces_it(
    servers: Servers, client: BusClient, region: str
) -> None:
    known = await registered(client, region)
    anna = staff(region)
    first = await client.call(c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), region, actor=anna)
    assert (first.region, first.month, first.version, first.missing) == (region, MONTH, 1, [])
    assert (first.total.identified, first.total.selected) == (2, 1)
    assert first.total.trade_show_presentations == 1
    assert first.by_cluster["photonics"].identified == 1
    assert first.by_cluster["photonics"].trade_show_presentations == 1
    assert first.by_cluster["ict"].identified == 1
    assert first.by_market["DE"].trade_show_presentations == 1
    assert first.meetings_to_date == c.MeetingFigures()
    # The feedback was asked (not missing): no answer yet (a survey may have been opened for
    # the stage reached, as the consumer goes).
    assert (first.feedback.answers, first.feedback.ratings, first.feedback.obstacles) == (0, {}, {})

    # The event that leaves for the network: the snapshot, and nothing personal anywhere in it.
    nc = await nats.connect(servers.nats_url)
    js = nc.jetstream()
    subject = c.FIGURES_PUBLISHED.subject(region)

    async def last_event() -> dict[str, Any]:
        try:
            msg = await js.get_last_msg(stream_name(region, "reports"), subject)
        except nats.js.errors.NotFoundError:
            return {}
        return dict(json.loads(msg.data or b"{}"))

    shared = await eventually(last_event, until=lambda e: e.get("data", {}).get("version") == 1)
    assert c.FiguresSnapshot.model_validate(shared["data"]) == first
    listed = await client.call(c.LIST_FIGURES, c.ListFigures(region=region), region, actor=anna)
    for text in (json.dumps(shared), listed.model_dump_json()):
        for word in known["personal"]:
            assert word not in text, word
        assert "@" not in text  # no address of anyone, nor who published it

    # Published again after a change: the month's next version replaces the first.
    await client.call(
        rg.CHANGE_STAGE,
        rg.ChangeStage(sme_id=known["code"].sme_id, to_stage="selected", reason="fits"),
        region,
        actor=anna,
    )
    second = await client.call(c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), region, actor=anna)
    assert (second.version, second.total.selected) == (2, 2)
    listed = await client.call(
        c.LIST_FIGURES, c.ListFigures(month_from=MONTH, month_to=MONTH), region, actor=anna
    )
    assert [(s.region, s.month, s.version) for s in listed.items] == [(region, MONTH, 2)]
    shared = await eventually(last_event, until=lambda e: e.get("data", {}).get("version") == 2)
    await nc.close()


@pytest.mark.usefixtures("figures_region")
async def test_who_may_publish_and_read_the_figures(client: BusClient, region: str) -> None:
    month = c.PublishFigures(month=MONTH)
    await client.call(c.PUBLISH_FIGURES, month, region, actor=staff(region, "map_admin"))
    # An SME's contact, an organiser, a partner system, steering: not theirs to publish.
    for role in ("sme", "organiser", "partner", "steering"):
        actor = Actor(id=f"{role}@x.example", role=role, region=region, sme_id="s-1")
        with pytest.raises(Refused) as refused:
            await client.call(c.PUBLISH_FIGURES, month, region, actor=actor)
        assert refused.value.code == "forbidden", role
    # Staff of another region publish only their own.
    with pytest.raises(Refused) as refused:
        await client.call(c.PUBLISH_FIGURES, month, region, actor=staff("berlin"))
    assert refused.value.code == "forbidden"
    # A month to come has no figures.
    with pytest.raises(Refused) as refused:
        await client.call(
            c.PUBLISH_FIGURES, c.PublishFigures(month=f"{TODAY.year + 1}-01"), region,
            actor=staff(region),
        )  # fmt: skip
    assert refused.value.code == "validation_failed"
    # Steering reads them (any region's steering: the figures are counts); the SME, the
    # organiser and partners do not.
    steering = Actor(id="official@x.example", role="steering", region="berlin")
    page = await client.call(c.LIST_FIGURES, c.ListFigures(), region, actor=steering)
    assert [(s.month, s.version) for s in page.items] == [(MONTH, 1)]
    for role in ("sme", "organiser", "partner"):
        actor = Actor(id=f"{role}@x.example", role=role, region=region, sme_id="s-1")
        with pytest.raises(Refused) as refused:
            await client.call(c.LIST_FIGURES, c.ListFigures(), region, actor=actor)
        assert refused.value.code == "forbidden", role
    with pytest.raises(Refused) as refused:
        await client.call(
            c.LIST_FIGURES, c.ListFigures(month_from="2026-05", month_to="2026-04"), region,
            actor=steering,
        )  # fmt: skip
    assert refused.value.code == "validation_failed"


@pytest.mark.usefixtures("figures_region")
async def test_every_month_is_listed_page_by_page(client: BusClient, region: str) -> None:
    months = ["2025-11", "2025-12", "2026-01", MONTH]
    for month in months:
        await client.call(
            c.PUBLISH_FIGURES, c.PublishFigures(month=month), region, actor=staff(region)
        )
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.call(
            c.LIST_FIGURES, c.ListFigures(limit=1, cursor=cursor), region, actor=staff(region)
        )
        seen += [s.month for s in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == sorted(set(months))
    since = await client.call(
        c.LIST_FIGURES, c.ListFigures(month_from="2025-12", month_to="2026-01"), region,
        actor=staff(region),
    )  # fmt: skip
    assert [s.month for s in since.items] == ["2025-12", "2026-01"]


async def test_without_matching_the_snapshot_says_so_and_without_the_registry_none_is_made(
    settings: Settings, client: BusClient, region: str
) -> None:
    async with Assembly(settings, ["registry", "reports"], [region]):
        made = await client.call(
            c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), region, actor=staff(region)
        )
        assert made.missing == ["matching"]
    async with Assembly(settings, ["reports"], [region]):
        with pytest.raises(Refused) as refused:
            await client.call(
                c.PUBLISH_FIGURES, c.PublishFigures(month=MONTH), region, actor=staff(region)
            )
        assert (refused.value.code, refused.value.details["service"]) == (
            "region_unavailable", "registry"
        )  # fmt: skip
        page = await client.call(c.LIST_FIGURES, c.ListFigures(), region, actor=staff(region))
        assert [s.version for s in page.items] == [1]


async def test_the_month_that_ended_is_published_by_itself_once(
    settings: Settings, client: BusClient, region: str
) -> None:
    configs = {"reports": ReportsSettings.model_validate({"MAPNET_FIGURES_CHECK_S": 0.3})}
    async with Assembly(settings, ["registry", "reports"], [region], configs=configs):
        ended = previous_month(TODAY)

        async def listed() -> list[tuple[str, int]]:
            page = await client.call(c.LIST_FIGURES, c.ListFigures(), region, actor=staff(region))
            return [(s.month, s.version) for s in page.items]

        assert await eventually(listed, until=bool) == [(ended, 1)]
        await asyncio.sleep(1.0)  # three more looks
        assert await listed() == [(ended, 1)]
