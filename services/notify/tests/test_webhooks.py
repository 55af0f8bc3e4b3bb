"""Partner webhooks against a real local HTTP endpoint: signed, retried, given up, isolated."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from contracts import events as ev
from contracts import notify as c
from contracts import registry as rg
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from services.notify.domain.rules import signature
from tests.fixtures import Servers
from tests.helpers import eventually, published

pytestmark = pytest.mark.usefixtures("region_app")
SECRET = "a-partner-secret-of-some-length"


def entry(**extra: Any) -> ev.PublishEvent:
    day = (datetime.now(UTC) + timedelta(days=20)).date()
    base: dict[str, Any] = {
        "partner_id": "park",
        "external_id": str(uuid.uuid4()),
        "kind": "conference",
        "title": "Cleantech Forum",
        "starts_at": f"{day}T09:00:00",
        "ends_at": f"{day}T17:00:00",
        "timezone": "Europe/Oslo",
        "country": "NO",
        "clusters": ["cleantech"],
    }
    return ev.PublishEvent.model_validate(base | extra)


async def subscribe(client: BusClient, region: str, url: str, **extra: Any) -> str:
    sub = await client.call(
        c.SUBSCRIBE_WEBHOOK,
        c.SubscribeWebhook(partner_id="park", url=url, secret=SECRET, **extra),
        region,
    )
    return sub.subscription_id


async def test_deliveries_are_signed_and_filtered(
    client: BusClient, region: str, endpoint: Any
) -> None:
    hook, control = await endpoint(), await endpoint("/control")
    filtered = await subscribe(
        client, region, hook.url, event_types=["event_published"], clusters=["cleantech"]
    )
    types_only = await subscribe(client, region, control.url, event_types=["event_published"])
    await subscribe(client, region, control.url)  # everything: the control
    published_entry = await client.call(ev.PUBLISH_EVENT, entry(), region)
    ict = await client.call(ev.PUBLISH_EVENT, entry(clusters=["ict"], title="ICT Day"), region)
    await client.call(
        ev.CANCEL_EVENT, ev.CancelEvent(event_id=published_entry.event_id, reason="x"), region
    )
    # Until the unfiltered subscription heard all three: each event was matched against both
    # subscriptions at once, and a delivery to the filtered one would be in the log by now.
    told = {(published_entry.event_id, "event_published"), (ict.event_id, "event_published"),
            (published_entry.event_id, "event_cancelled")}  # fmt: skip
    await eventually(
        lambda: _value(
            {(e["data"].get("event_id"), e["type"].split(".")[3]) for e in control.events()}
        ),
        until=lambda heard: told <= heard,
    )
    queued = await client.call(c.LIST_DELIVERIES, c.ListDeliveries(recipient=filtered), region)
    assert len(queued.items) == 1  # not the ICT entry, not the cancellation
    queued = await client.call(c.LIST_DELIVERIES, c.ListDeliveries(recipient=types_only), region)
    assert sorted(d.kind for d in queued.items) == ["event_published"] * 2  # not the cancellation
    await eventually(lambda: _value(len(hook.received)), until=lambda n: n >= 1)
    assert len(hook.received) == 1
    headers, body = hook.received[0]
    timestamp = int(headers["Mapnet-Timestamp"])
    assert headers["Mapnet-Signature"] == signature(SECRET, timestamp, body)
    assert abs(time.time() - timestamp) < 60
    event = hook.events()[0]
    assert headers["Idempotency-Key"] == event["id"]
    assert event["data"]["event_id"] == published_entry.event_id
    assert headers["Content-Type"] == "application/cloudevents+json"
    # The Standard Webhooks headers, checked by that specification's own library.
    assert Webhook(SECRET.encode()).verify(body, headers)["id"] == event["id"]
    assert headers["webhook-id"] == event["id"]


async def test_a_standard_webhooks_secret_verifies_with_the_library(
    client: BusClient, region: str, endpoint: Any
) -> None:
    import base64
    import os

    standard_secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    hook = await endpoint()
    await client.call(
        c.SUBSCRIBE_WEBHOOK,
        c.SubscribeWebhook(partner_id="park", url=hook.url, secret=standard_secret),
        region,
    )
    await client.call(ev.PUBLISH_EVENT, entry(), region)
    await eventually(lambda: _value(len(hook.received)), until=lambda n: n >= 1)
    headers, body = hook.received[0]
    assert Webhook(standard_secret).verify(body, headers)["type"].startswith("eu.mapnet.")
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + base64.b64encode(b"another secret, not the one").decode()).verify(
            body, headers
        )


async def _value(value: Any) -> Any:
    return value


async def test_retries_then_success_and_giving_up_is_recorded(
    servers: Servers, client: BusClient, region: str, endpoint: Any
) -> None:
    flaky, dead = await endpoint("/flaky"), await endpoint("/dead")
    flaky.plan = [500, 503]  # then 200
    dead.plan = [500] * 100
    await subscribe(client, region, flaky.url)
    dead_id = await subscribe(client, region, dead.url)
    await client.call(ev.PUBLISH_EVENT, entry(), region)

    await eventually(lambda: _value(len(flaky.received)), until=lambda n: n >= 3)
    failed = await published(servers.nats_url, c.NOTIFICATION_FAILED, region)
    assert failed[0]["delivery"]["recipient"] == dead_id
    assert failed[0]["delivery"]["attempts"] >= 2 and "500" in failed[0]["delivery"]["last_error"]
    assert len(dead.received) >= 2
    page = await client.call(c.LIST_DELIVERIES, c.ListDeliveries(status="failed"), region)
    assert [d.recipient for d in page.items] == [dead_id]
    page = await client.call(
        c.LIST_DELIVERIES, c.ListDeliveries(status="sent", channel="webhook"), region
    )
    assert len(page.items) == 1 and page.items[0].attempts == 3


async def test_a_redirect_is_never_followed(client: BusClient, region: str, endpoint: Any) -> None:
    """A partner's endpoint that answers 307 towards another address (here an internal one)
    does not make notify call it: the redirect is the answer, and a failure for good."""
    inside, hook = await endpoint("/admin"), await endpoint()
    hook.plan, hook.location = [307] * 10, inside.url
    hook_id = await subscribe(client, region, hook.url)
    await client.call(ev.PUBLISH_EVENT, entry(), region)

    async def settled() -> list[Any]:
        page = await client.call(c.LIST_DELIVERIES, c.ListDeliveries(recipient=hook_id), region)
        return [d for d in page.items if d.status == "failed"]

    [failed] = await eventually(settled, until=lambda found: len(found) == 1)
    assert "307" in (failed.last_error or "") and failed.attempts == 1
    assert len(hook.received) == 1 and inside.received == []


async def test_a_hanging_endpoint_holds_up_nobody_else(
    client: BusClient, region: str, endpoint: Any
) -> None:
    slow, fast = await endpoint("/slow"), await endpoint("/fast")
    slow.hang = True
    await subscribe(client, region, slow.url)
    await subscribe(client, region, fast.url)
    started = time.monotonic()
    for n in range(10):
        await client.call(ev.PUBLISH_EVENT, entry(title=f"Forum {n}"), region)
    await eventually(lambda: _value(len(fast.received)), until=lambda n: n >= 10)
    assert time.monotonic() - started < 10


async def test_bad_subscriptions_are_refused_with_the_field(client: BusClient, region: str) -> None:
    valid = c.SubscribeWebhook(partner_id="p", url="https://partner.example/hook", secret=SECRET)
    doc = json.loads(encode(make_envelope(c.SUBSCRIBE_WEBHOOK, valid, region=region, source="p")))
    doc["data"] |= {"url": "not a url", "secret": "short"}
    msg = await client.nc.request(c.SUBSCRIBE_WEBHOOK.subject(region), json.dumps(doc).encode())
    reply = json.loads(msg.data)
    fields = {f["field"] for f in reply["data"]["error"]["details"]["fields"]}
    assert {"data.url", "data.secret"} <= fields


async def test_a_filter_by_cloudevents_type_delivers_and_an_unknown_type_is_refused(
    client: BusClient, region: str, endpoint: Any
) -> None:
    hook = await endpoint()
    await subscribe(client, region, hook.url, event_types=[ev.EVENT_PUBLISHED.type])
    await client.call(ev.PUBLISH_EVENT, entry(), region)
    await eventually(lambda: _count(hook), until=lambda n: n >= 1)
    assert hook.events()[0]["type"] == ev.EVENT_PUBLISHED.type
    with pytest.raises(Refused) as refused:
        await subscribe(
            client, region, hook.url, event_types=["eu.mapnet.events.event_publised.v1"]
        )
    assert refused.value.code == "validation_failed"
    assert refused.value.details["fields"][0]["field"] == "data.event_types.0"


async def _count(hook: Any) -> int:
    return len(hook.received)


async def test_partners_hear_only_the_profiles_the_network_may_see(
    client: BusClient, region: str, endpoint: Any
) -> None:
    """A private profile, or any profile of an SME that does not share with the network, is
    the region's own: no partner's webhook hears of it. A shared SME's network profile, sent
    after them, is the control that the fan-out ran."""
    hook = await endpoint()
    hook_id = await subscribe(client, region, hook.url, event_types=["profile_published"])

    def profile(title: str, visibility: str) -> rg.ProfileInput:
        return rg.ProfileInput(type="technology_offer", title=title, summary="A summary",
                               partnership_types=["licence"], expires_on=date(2030, 1, 1),
                               visibility=visibility)  # fmt: skip

    def sme(name: str, number: str, shares: bool) -> rg.RegisterSme:
        return rg.RegisterSme(legal_name=name, registration_number=number, country="EE",
                              share_with_network=shares)  # fmt: skip

    own = await client.call(rg.REGISTER_SME, sme("Own OÜ", "14000009", False), region)
    shared = await client.call(rg.REGISTER_SME, sme("Shared OÜ", "14000015", True), region)
    for sme_id, title, visibility in ((own.sme_id, "Unshared SME's offer", "network"),
                                      (shared.sme_id, "Private offer", "private"),
                                      (shared.sme_id, "Network offer", "network")):  # fmt: skip
        await client.call(rg.PUBLISH_PROFILE, rg.PublishProfile(
            sme_id=sme_id, profile=profile(title, visibility)), region)  # fmt: skip
    await eventually(lambda: _value(len(hook.received)), until=lambda n: n >= 1)
    page = await client.call(c.LIST_DELIVERIES, c.ListDeliveries(recipient=hook_id), region)
    assert len(page.items) == 1
    assert [e["data"]["profile"]["title"] for e in hook.events()] == ["Network offer"]
