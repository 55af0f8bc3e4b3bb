"""The guide's review reminder, end to end on real servers: a published article whose review_by
is 14 days away or nearer is stated due once by the guide's periodic check, and notify mails
its author and the version's writers (a real SMTP server receives it)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from pydantic_settings import BaseSettings

from contracts import guide as c
from contracts.access import Actor
from mapnet.dev.mailbox import MailStore
from mapnet.runtime.bus import BusClient
from services.guide.settings import GuideSettings
from services.notify.settings import NotifySettings

from .fixtures import Servers
from .helpers import eventually, published

pytestmark = pytest.mark.usefixtures("region_app")


@pytest.fixture
def service_configs(notify_settings: NotifySettings, region: str) -> dict[str, BaseSettings]:
    guide = GuideSettings.model_validate(
        {"MAPNET_GUIDE_HOME_MARKETS": f"{region}=EE", "MAPNET_GUIDE_REVIEW_CHECK_S": 0.3}
    )
    return {"notify": notify_settings, "guide": guide}


def received(store: MailStore) -> list[EmailMessage]:
    found = [message_from_bytes(raw, policy=policy.default) for raw in list(store.received)]
    return [m for m in found if m["X-Mapnet-Kind"] == "article_review_due"]


async def test_the_author_is_mailed_once_when_an_article_is_due_for_review(
    servers: Servers, client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    anna = Actor(id="anna@map.example.ee", role="map_staff", region=region)
    bert = Actor(id="bert@map.example.ee", role="map_staff", region=region)
    article = c.WriteArticle.model_validate(
        {"market": "EE", "topic": "contacts", "title": "Who helps in Estonia",
         "summary": "The MAP, the chamber and the EEN point",
         "sources": [{"url": "https://www.eas.ee", "title": "EAS",
                      "checked_on": date.today().isoformat()}],
         "review_by": (date.today() + timedelta(days=7)).isoformat()}
    )  # fmt: skip
    draft = await client.call(c.WRITE_ARTICLE, article, region, actor=anna)
    step = c.ArticleStep(article_id=draft.article_id)
    await client.call(c.SUBMIT_ARTICLE, step, region, actor=anna)
    await client.call(c.APPROVE_ARTICLE, step, region, actor=bert)

    mails = await eventually(lambda: _now(received(store)), until=lambda found: len(found) >= 1)
    assert mails[0]["To"] == "anna@map.example.ee"
    assert "Who helps in Estonia" in mails[0]["Subject"] and "(EE)" in mails[0]["Subject"]
    # The check runs every 0.3 s: a while later, still one event and one mail.
    await asyncio.sleep(1.5)
    assert len(received(store)) == 1
    assert len(await published(servers.nats_url, c.ARTICLE_REVIEW_DUE, region)) == 1


async def _now(value: list[EmailMessage]) -> list[EmailMessage]:
    return value
