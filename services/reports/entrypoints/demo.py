"""The reports' part of the demo, after every other service's: a few of the demo SMEs' contacts
answer a survey the demo's facts opened for them (their words say they are invented), and the
region's demo staff member publishes the year's monthly figures, so that the reports count the
demo as it stands.

Loading it again changes nothing: a contact whose SME answered before answers no more, and a
month is published only where its figures were made before the demo's SMEs were registered (a
month that ended was published by the service at its start, before the demo was loaded) or are
missing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

from contracts import registry as rg
from contracts import reports as c
from contracts.access import Actor
from mapnet.runtime.bus import BusClient

_NAMESPACE = uuid.UUID("2c8e5b17-94a3-4d0f-b6e2-13f7a9c5d840")
OBSTACLES: tuple[tuple[str, c.Obstacle], ...] = (
    ("FI", "regulation_and_certification"), ("SE", "finding_partners"), ("DE", "tax"),
    ("LV", "language_and_culture"), ("PL", "public_procurement"),
)  # fmt: skip


def load_demo(nats_url: str, region: str) -> None:
    asyncio.run(load(nats_url, region))


def _id(region: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join([region, *parts])))


async def load(nats_url: str, region: str) -> None:
    client = await BusClient.connect(
        nats_url, region=region, source=f"mapnet/{region}/demo", role="map_admin"
    )
    staff = Actor(id=f"staff@{region}.example", role="map_staff", region=region)
    try:
        smes = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=100), region, actor=staff)
        if not smes.items:
            return
        views = [
            await client.call(rg.GET_SME, rg.GetSme(sme_id=s.sme_id), region, actor=staff)
            for s in smes.items
        ]
        await _answers(client, region, staff, views)
        since = min(v.created_at for v in views)
        await _figures(client, region, staff, since)
    finally:
        await client.close()


async def _answered(client: BusClient, region: str, staff: Actor) -> set[str]:
    smes: set[str] = set()
    cursor = None
    while True:
        query = c.ListSurveyAnswers(limit=100, cursor=cursor)
        page = await client.call(c.LIST_SURVEY_ANSWERS, query, region, actor=staff)
        smes |= {a.sme.sme_id for a in page.items if a.sme is not None}
        if not (cursor := page.next_cursor):
            return smes


async def _answers(client: BusClient, region: str, staff: Actor, smes: list[rg.SmeView]) -> None:
    answered = await _answered(client, region, staff)
    for n, sme in enumerate(smes[::3]):
        if sme.sme_id in answered or not sme.contacts:
            continue
        contact = Actor(id=str(sme.contacts[0].email), role="sme", region=region,
                        sme_id=sme.sme_id)  # fmt: skip
        found = await client.call(c.LIST_OPEN_SURVEYS, c.ListOpenSurveys(), region, actor=contact)
        if not found.items:
            continue
        survey = found.items[0]
        market, obstacle = OBSTACLES[n % len(OBSTACLES)]
        market_words = c.MarketObstacles(
            market=market, obstacles=[obstacle], text="Invented for the demo."
        )
        answer = c.AnswerSurvey(
            survey_id=survey.survey_id,
            rating=3 + n % 3,
            helped="Invented for the demo: the MAP's introductions and the meeting schedule.",
            markets=[market_words],
            may_quote=n % 2 == 0,
        )
        await client.call(c.ANSWER_SURVEY, answer, region, actor=contact,
                          id=_id(region, "answer", sme.sme_id))  # fmt: skip


async def _figures(client: BusClient, region: str, staff: Actor, since: datetime) -> None:
    today = datetime.now(UTC).date()
    for month in range(1, today.month + 1):
        name = date(today.year, month, 1).strftime("%Y-%m")
        query = c.ListFigures(region=region, month_from=name, month_to=name)
        page = await client.call(c.LIST_FIGURES, query, region, actor=staff)
        if any(s.made_at >= since for s in page.items if s.region == region):
            continue
        await client.call(c.PUBLISH_FIGURES, c.PublishFigures(month=name), region, actor=staff,
                          timeout_s=30)  # fmt: skip
