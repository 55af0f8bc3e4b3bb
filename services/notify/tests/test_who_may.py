"""Who may do what in notify, over the real bus: a webhook subscription is its partner's (the
stamped one), capped per partner; a partner lists only its own deliveries; a person reads and
sets only their own mail preferences; staff act only on their own region's people."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import events as ev
from contracts import notify as c
from contracts.access import Actor, Role
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.runtime.bus import BusClient
from services.notify.settings import NotifySettings
from services.notify.tests.test_webhooks import SECRET, entry
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")
MOST = 2


@pytest.fixture
def notify_settings(notify_settings: NotifySettings) -> NotifySettings:
    return notify_settings.model_copy(update={"webhooks_per_partner": MOST})


def partner(region: str, name: str) -> Actor:
    return Actor(id=name, role="partner", region=region)


def person(region: str, role: Role, ident: str = "mari@photonforge.ee", **extra: str) -> Actor:
    return Actor(id=ident, role=role, region=region, **extra)


def hook(partner_id: str, url: str = "http://127.0.0.1:9/hook") -> c.SubscribeWebhook:
    return c.SubscribeWebhook(partner_id=partner_id, url=url, secret=SECRET)


async def test_a_partner_subscribes_only_as_itself(client: BusClient, region: str) -> None:
    with pytest.raises(Refused) as refused:
        await client.call(c.SUBSCRIBE_WEBHOOK, hook("other"), region, actor=partner(region, "park"))
    assert refused.value.code == "forbidden"
    assert refused.value.details["fields"][0]["field"] == "data.partner_id"
    mine = await client.call(
        c.SUBSCRIBE_WEBHOOK, hook("park"), region, actor=partner(region, "park")
    )
    assert mine.partner_id == "park"
    # An admin of the region sets one up for any partner.
    made = await client.call(c.SUBSCRIBE_WEBHOOK, hook("other"), region)
    assert made.partner_id == "other"


async def test_a_partner_stops_only_its_own_subscriptions(client: BusClient, region: str) -> None:
    theirs = await client.call(
        c.SUBSCRIBE_WEBHOOK, hook("other"), region, actor=partner(region, "other")
    )
    stop = c.UnsubscribeWebhook(subscription_id=theirs.subscription_id)
    with pytest.raises(Refused) as refused:
        await client.call(c.UNSUBSCRIBE_WEBHOOK, stop, region, actor=partner(region, "park"))
    assert refused.value.code == "forbidden"
    # Still theirs and active: a third one for "other" is over the cap of two only if it is.
    await client.call(c.SUBSCRIBE_WEBHOOK, hook("other"), region, actor=partner(region, "other"))
    with pytest.raises(Refused) as full:
        await client.call(
            c.SUBSCRIBE_WEBHOOK, hook("other"), region, actor=partner(region, "other")
        )
    assert full.value.code == "conflict"
    await client.call(c.UNSUBSCRIBE_WEBHOOK, stop, region, actor=partner(region, "other"))


async def test_subscriptions_per_partner_are_capped_and_a_repeat_is_not_one_more(
    client: BusClient, region: str
) -> None:
    park = partner(region, "park")
    first = await client.call(c.SUBSCRIBE_WEBHOOK, hook("park"), region, actor=park, id="s-1")
    await client.call(c.SUBSCRIBE_WEBHOOK, hook("park"), region, actor=park, id="s-2")
    again = await client.call(c.SUBSCRIBE_WEBHOOK, hook("park"), region, actor=park, id="s-1")
    assert again.subscription_id == first.subscription_id
    with pytest.raises(Refused) as refused:
        await client.call(c.SUBSCRIBE_WEBHOOK, hook("park"), region, actor=park, id="s-3")
    assert refused.value.code == "conflict"
    assert refused.value.details["limit"] == MOST
    # Another partner has room of its own; stopping one makes room again.
    await client.call(c.SUBSCRIBE_WEBHOOK, hook("acme"), region, actor=partner(region, "acme"))
    stop = c.UnsubscribeWebhook(subscription_id=first.subscription_id)
    await client.call(c.UNSUBSCRIBE_WEBHOOK, stop, region, actor=park)
    await client.call(c.SUBSCRIBE_WEBHOOK, hook("park"), region, actor=park, id="s-4")


async def test_a_partner_lists_only_the_calls_to_its_own_webhooks(
    client: BusClient, region: str, endpoint: object
) -> None:
    ours, theirs = await endpoint("/park"), await endpoint("/acme")  # type: ignore[operator]
    park, acme = partner(region, "park"), partner(region, "acme")
    mine = await client.call(c.SUBSCRIBE_WEBHOOK, hook("park", ours.url), region, actor=park)
    await client.call(c.SUBSCRIBE_WEBHOOK, hook("acme", theirs.url), region, actor=acme)
    await client.call(ev.PUBLISH_EVENT, entry(), region)

    async def sent_to_either() -> int:
        page = await client.call(c.LIST_DELIVERIES, c.ListDeliveries(status="sent"), region)
        return len(page.items)

    await eventually(sent_to_either, until=lambda n: n >= 2)
    page = await client.call(c.LIST_DELIVERIES, c.ListDeliveries(), region, actor=park)
    assert [d.recipient for d in page.items] == [mine.subscription_id]
    # Naming another's subscription, or mail, finds nothing either.
    for asked in (c.ListDeliveries(channel="email"), c.ListDeliveries(recipient="x@y.ee")):
        page = await client.call(c.LIST_DELIVERIES, asked, region, actor=park)
        assert page.items == []


@pytest.mark.parametrize("role", ["sme", "organiser", "steering"])
async def test_a_person_reads_and_sets_only_their_own_preferences(
    client: BusClient, region: str, role: Role
) -> None:
    me = person(region, role, "mari@photonforge.ee", **({"sme_id": "s1"} if role == "sme" else {}))
    mine = await client.call(
        c.SET_PREFERENCES, c.SetPreferences(email="Mari@photonforge.ee"), region, actor=me
    )
    assert mine.version == 1
    for op, data in (
        (c.SET_PREFERENCES, c.SetPreferences(email="jaan@other.ee", consent=False)),
        (c.GET_PREFERENCES, c.GetPreferences(email="jaan@other.ee")),
    ):
        with pytest.raises(Refused) as refused:
            await client.call(op, data, region, actor=me)
        assert refused.value.code == "forbidden", op.name
    theirs = await client.call(c.GET_PREFERENCES, c.GetPreferences(email="jaan@other.ee"), region)
    assert theirs.version == 0  # nothing was set for them


async def test_staff_of_another_region_reach_nobody_here(client: BusClient, region: str) -> None:
    elsewhere = person(region, "map_admin", "admin@riga.example").model_copy(
        update={"region": "riga"}
    )
    attempts: list[tuple[Operation[Any, Any], Any]] = [
        (c.SET_PREFERENCES, c.SetPreferences(email="jaan@other.ee", consent=False)),
        (c.GET_PREFERENCES, c.GetPreferences(email="jaan@other.ee")),
        (c.FORGET_PERSON, c.ForgetPerson(email="jaan@other.ee", reason="asked")),
    ]
    for op, data in attempts:
        with pytest.raises(Refused) as refused:
            await client.call(op, data, region, actor=elsewhere)
        assert refused.value.code == "forbidden", op.name
    here = person(region, "map_staff", "staff@here.example")
    done = await client.call(
        c.SET_PREFERENCES, c.SetPreferences(email="jaan@other.ee"), region, actor=here
    )
    assert done.version == 1
