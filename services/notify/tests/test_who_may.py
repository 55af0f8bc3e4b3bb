"""Who may do what in notify, over the real bus: a webhook subscription is its partner's (the
stamped one), capped per partner; a partner lists only its own deliveries; a person reads and
sets only their own mail preferences; staff act only on their own region's people."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from contracts import events as ev
from contracts import notify as c
from contracts.access import Actor, Role
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.ops.partners import PartnerBook
from mapnet.runtime.bus import BusClient
from mapnet.runtime.credentials import with_login, without_login
from services.notify.settings import NotifySettings
from services.notify.tests.test_webhooks import SECRET, entry
from tests.fixtures import Servers
from tests.helpers import connect_when_let_in, eventually

pytestmark = pytest.mark.usefixtures("region_app")
MOST = 2


@pytest.fixture
def notify_settings(notify_settings: NotifySettings) -> NotifySettings:
    return notify_settings.model_copy(update={"webhooks_per_partner": MOST})


Partner = Callable[[], Awaitable[tuple[str, BusClient]]]


@pytest.fixture
async def partner(servers: Servers) -> AsyncIterator[Partner]:
    """A partner system added to the running server, connected with its own credentials: what
    it acts as is the server's stamp of its user name, never what its requests say."""
    assert servers.nats_home is not None
    book = PartnerBook(servers.nats_home)
    made: list[tuple[str, BusClient]] = []

    async def connect() -> tuple[str, BusClient]:
        added = book.add("park" + secrets.token_hex(3))
        assert book.reload_server()
        url = with_login(without_login(servers.nats_url), added.user, added.password)
        nc = await connect_when_let_in(url, inbox_prefix=added.inbox_prefix)
        made.append((added.user, BusClient(nc, source=f"https://{added.user}.example")))
        return made[-1]

    yield connect
    for name, bus in made:
        await bus.nc.close()
        book.remove(name)
    book.reload_server()


def person(region: str, role: Role, ident: str = "mari@photonforge.ee", **extra: str) -> Actor:
    return Actor(id=ident, role=role, region=region, **extra)


def hook(partner_id: str, url: str = "http://127.0.0.1:9/hook") -> c.SubscribeWebhook:
    return c.SubscribeWebhook(partner_id=partner_id, url=url, secret=SECRET)


async def test_a_partner_subscribes_only_as_itself(
    client: BusClient, region: str, partner: Partner
) -> None:
    park, bus = await partner()
    with pytest.raises(Refused) as refused:
        await bus.call(c.SUBSCRIBE_WEBHOOK, hook("other"), region)
    assert refused.value.code == "forbidden"
    assert refused.value.details["fields"][0]["field"] == "data.partner_id"
    mine = await bus.call(c.SUBSCRIBE_WEBHOOK, hook(park), region)
    assert mine.partner_id == park
    # An admin of the region sets one up for any partner.
    made = await client.call(c.SUBSCRIBE_WEBHOOK, hook("other"), region)
    assert made.partner_id == "other"


async def test_a_partner_stops_only_its_own_subscriptions(region: str, partner: Partner) -> None:
    (_, ours), (other, theirs) = await partner(), await partner()
    their_hook = await theirs.call(c.SUBSCRIBE_WEBHOOK, hook(other), region)
    stop = c.UnsubscribeWebhook(subscription_id=their_hook.subscription_id)
    with pytest.raises(Refused) as refused:
        await ours.call(c.UNSUBSCRIBE_WEBHOOK, stop, region)
    assert refused.value.code == "forbidden"
    # Still theirs and active: their second one fills the cap of two.
    await theirs.call(c.SUBSCRIBE_WEBHOOK, hook(other), region)
    with pytest.raises(Refused) as full:
        await theirs.call(c.SUBSCRIBE_WEBHOOK, hook(other), region)
    assert full.value.code == "conflict"
    stopped = await theirs.call(c.UNSUBSCRIBE_WEBHOOK, stop, region)
    assert stopped.partner_id == other


async def test_subscriptions_per_partner_are_capped_and_a_repeat_is_not_one_more(
    client: BusClient, region: str, partner: Partner
) -> None:
    park, bus = await partner()
    first = await bus.call(c.SUBSCRIBE_WEBHOOK, hook(park), region, id="s-1")
    await bus.call(c.SUBSCRIBE_WEBHOOK, hook(park), region, id="s-2")
    again = await bus.call(c.SUBSCRIBE_WEBHOOK, hook(park), region, id="s-1")
    assert again.subscription_id == first.subscription_id
    with pytest.raises(Refused) as refused:
        await bus.call(c.SUBSCRIBE_WEBHOOK, hook(park), region, id="s-3")
    assert refused.value.code == "conflict"
    assert refused.value.details["limit"] == MOST
    # An admin subscribing for it is held to the same cap; another partner has its own room.
    with pytest.raises(Refused):
        await client.call(c.SUBSCRIBE_WEBHOOK, hook(park), region)
    await client.call(c.SUBSCRIBE_WEBHOOK, hook("acme"), region)
    stop = c.UnsubscribeWebhook(subscription_id=first.subscription_id)
    await bus.call(c.UNSUBSCRIBE_WEBHOOK, stop, region)
    await bus.call(c.SUBSCRIBE_WEBHOOK, hook(park), region, id="s-4")


async def test_the_cap_holds_however_many_subscribe_at_once(region: str, partner: Partner) -> None:
    """Subscriptions sent at once (a count taken before any was saved let 21 of 40 through a
    cap of 20): exactly the cap is accepted, the others are conflicts, and a stopped one's
    place is free again."""
    park, bus = await partner()

    async def subscribed(n: int) -> str:
        try:
            await bus.call(c.SUBSCRIBE_WEBHOOK, hook(park), region, id=f"at-once-{n}")
        except Refused as refused:
            return refused.code
        return "ok"

    answers = await asyncio.gather(*(subscribed(n) for n in range(12)))
    assert sorted(answers) == ["conflict"] * (12 - MOST) + ["ok"] * MOST


async def test_a_partner_lists_only_the_calls_to_its_own_webhooks(
    client: BusClient, region: str, endpoint: Any, partner: Partner
) -> None:
    ours, theirs = await endpoint("/park"), await endpoint("/acme")
    (park, park_bus), (acme, acme_bus) = await partner(), await partner()
    mine = await park_bus.call(c.SUBSCRIBE_WEBHOOK, hook(park, ours.url), region)
    await acme_bus.call(c.SUBSCRIBE_WEBHOOK, hook(acme, theirs.url), region)
    await client.call(ev.PUBLISH_EVENT, entry(), region)

    async def sent_to_either() -> int:
        page = await client.call(c.LIST_DELIVERIES, c.ListDeliveries(status="sent"), region)
        return len(page.items)

    await eventually(sent_to_either, until=lambda n: n >= 2)
    page = await park_bus.call(c.LIST_DELIVERIES, c.ListDeliveries(), region)
    assert [d.recipient for d in page.items] == [mine.subscription_id]
    # Naming another's subscription, or mail, finds nothing either.
    for asked in (c.ListDeliveries(channel="email"), c.ListDeliveries(recipient="x@y.ee")):
        page = await park_bus.call(c.LIST_DELIVERIES, asked, region)
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
