"""Webhooks reach partner systems, never the region's own servers: without an operator's allow
list, loopback, private, link-local and unspecified targets (however spelled) and URLs with
credentials are refused at subscription, and a target that is refused at delivery is not
called; a failure never passes on what a target answered."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_settings import BaseSettings

from contracts import events as ev
from contracts import notify as c
from contracts.errors import Refused
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from services.notify.adapters.webhooks import WebhookFailed, WebhookPoster
from services.notify.settings import NotifySettings
from tests.fixtures import Servers
from tests.helpers import eventually

from .test_webhooks import SECRET, entry

pytestmark = pytest.mark.usefixtures("region_app")


@pytest.fixture
def service_configs(notify_settings: NotifySettings) -> dict[str, BaseSettings]:
    """This region's notify has no allow list, as in production."""
    return {"notify": notify_settings.model_copy(update={"webhook_allow_hosts": []})}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4222/",
        "http://localhost:8222/varz",
        "http://2130706433/",
        "http://[::1]:25/",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:27017/",
        "https://user:pw@partner.example/hook",
    ],
)
async def test_a_webhook_at_the_regions_own_servers_is_refused(
    client: BusClient, region: str, url: str
) -> None:
    with pytest.raises(Refused) as refused:
        await client.call(
            c.SUBSCRIBE_WEBHOOK, c.SubscribeWebhook(partner_id="park", url=url, secret=SECRET),
            region,
        )  # fmt: skip
    assert refused.value.code == "validation_failed"
    assert refused.value.details["fields"][0]["field"] == "data.url"


async def test_a_target_refused_at_delivery_is_not_called(
    servers: Servers, client: BusClient, region: str, endpoint: Any
) -> None:
    """A subscription stored before these rules (or a name pointed elsewhere since): the
    delivery is refused for good and the endpoint never hears of it."""
    hook = await endpoint()
    db = mongo.database(mongo.client(servers.mongo_url), region, "notify")
    await db.webhook_subscriptions.insert_one(
        {"_id": "old", "partner_id": "park", "url": hook.url, "secret": SECRET,
         "event_types": [], "regions": [], "clusters": [], "active": True}
    )  # fmt: skip
    await client.call(ev.PUBLISH_EVENT, entry(), region)
    page = await eventually(
        lambda: client.call(c.LIST_DELIVERIES, c.ListDeliveries(channel="webhook"), region),
        until=lambda p: any(d.status == "failed" for d in p.items),
    )
    failed = next(d for d in page.items if d.status == "failed")
    assert failed.last_error.startswith("WebhookFailed: target refused")
    assert hook.received == []


async def test_a_failure_says_nothing_of_what_the_target_answered() -> None:
    """A port that answers with a banner instead of HTTP: the error names the kind of failure,
    not the banner."""
    import asyncio

    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b'INFO {"server_id":"SECRET-BANNER","version":"2.12.6"}\r\n')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(banner, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    poster = WebhookPoster(2.0, allowed_hosts=["127.0.0.1"])
    try:
        with pytest.raises(WebhookFailed) as failed:
            await poster.post(f"http://127.0.0.1:{port}/", b"{}", SECRET, "e1")
        assert "SECRET-BANNER" not in str(failed.value)
    finally:
        await poster.close()
        server.close()
