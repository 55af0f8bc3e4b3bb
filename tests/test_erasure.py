"""An erasure reaches every service that holds the person: after erase_sme, no collection of
any service of the region holds the contact's name or address (the registry's tombstone, the
registrations at events, notify's people, the cached answers, the audit trail)."""

from __future__ import annotations

import json

import pytest
from nats.js.errors import NotFoundError

from contracts import events as ev
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.subjects import dlq_stream, network_stream, shared_stream, stream_name
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from mapnet.runtime.declaration import service_names
from services.events.tests.test_events_bus import entry
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import add_person

pytestmark = pytest.mark.usefixtures("region_app")
NAME, EMAIL = "Mari Maasikas", "mari@photonforge.ee"


async def holding(servers: Servers, region: str, *needles: str) -> list[str]:
    """Every document of every service of the region that still holds one of the needles."""
    client = mongo.client(servers.mongo_url)
    found = []
    for service in ("registry", "events", "matching", "notify", "portal"):
        db = mongo.database(client, region, service)
        for name in await db.list_collection_names():
            async for doc in db[name].find({}):
                text = json.dumps(doc, default=str)
                if any(needle in text for needle in needles):
                    found.append(f"{service}.{name}: {doc['_id']}")
    return found


async def test_an_erased_smes_contact_is_in_no_collection_of_any_service(
    servers: Servers, client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, EMAIL, "sme", sme_id=sme.sme_id)  # a portal account
    event = await client.call(ev.PUBLISH_EVENT, entry(), region)
    person = ev.RegisterParticipant(event_id=event.event_id, person_name=NAME, email=EMAIL,
                                    sme=SmeRef(region=region, sme_id=sme.sme_id))  # fmt: skip
    # She registers herself, as the portal does for her: the answer kept for a repeat of her
    # command is keyed by who sent it, and must not keep her address either.
    herself = Actor(id=EMAIL, role="sme", region=region, sme_id=sme.sme_id)
    registration = await client.call(ev.REGISTER_PARTICIPANT, person, region, actor=herself)
    await eventually(
        lambda: holding(servers, region, EMAIL),
        until=lambda where: any(w.startswith("notify.registrations") for w in where),
    )

    await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=sme.sme_id, reason="asked"), region)

    async def left() -> list[str]:
        return await holding(servers, region, EMAIL, NAME)

    assert await eventually(left, until=lambda where: where == []) == []
    page = await client.call(ev.LIST_REGISTRATIONS, ev.ListRegistrations(event_id=event.event_id),
                             region)  # fmt: skip
    [kept] = page.items  # the seat is still counted
    assert kept.registration_id == registration.registration_id
    assert kept.person_name == "(erased)"


async def test_an_erased_contact_leaves_the_registrys_records_and_answers(
    servers: Servers, client: BusClient, region: str
) -> None:
    """The first answer to register_sme, kept for repeats, quoted the contact: it goes too."""
    register = make_envelope(rg.REGISTER_SME, new_sme(), region=region, source="test",
                             actor=client.acting(region))  # fmt: skip
    first = await client.nc.request(rg.REGISTER_SME.subject(region), encode(register), timeout=5)
    sme = json.loads(first.data)["data"]
    erase = rg.EraseContact(
        sme_id=sme["sme_id"], contact_id=sme["contacts"][0]["id"], reason="asked"
    )
    await client.call(rg.ERASE_CONTACT, erase, region)
    assert [w for w in await holding(servers, region, EMAIL) if w.startswith("registry.")] == []
    repeat = await client.nc.request(rg.REGISTER_SME.subject(region), encode(register), timeout=5)
    answer = json.loads(repeat.data)
    assert answer["data"]["sme_id"] == sme["sme_id"] and answer["data"]["contacts"] == []


async def test_an_erased_contact_leaves_the_registrations_and_notify_too(
    servers: Servers, client: BusClient, region: str
) -> None:
    """contact_erased names the person by the digest of their address: the events service and
    notify find them by it, and the other contact of the same SME stays."""
    kept = {"name": "Jaan Jääb", "email": "jaan@photonforge.ee"}
    sme = await client.call(rg.REGISTER_SME, new_sme(contacts=[
        {"name": NAME, "email": EMAIL}, kept]), region)  # fmt: skip
    event = await client.call(ev.PUBLISH_EVENT, entry(), region)
    ref = SmeRef(region=region, sme_id=sme.sme_id)
    for person in ({"person_name": NAME, "email": EMAIL}, {"person_name": kept["name"],
                                                            "email": kept["email"]}):  # fmt: skip
        # Each registers themself, as the portal does for them: the answers kept for repeats
        # of their commands are keyed by who sent them, and must not keep the address.
        herself = Actor(id=person["email"], role="sme", region=region, sme_id=sme.sme_id)
        await client.call(ev.REGISTER_PARTICIPANT,
                          ev.RegisterParticipant(event_id=event.event_id, sme=ref, **person),
                          region, actor=herself)  # fmt: skip
    await eventually(
        lambda: holding(servers, region, EMAIL),
        until=lambda where: any(w.startswith("notify.registrations") for w in where),
    )
    contact = next(c for c in sme.contacts if c.email == EMAIL)
    erase = rg.EraseContact(sme_id=sme.sme_id, contact_id=contact.id, reason="asked")
    await client.call(rg.ERASE_CONTACT, erase, region)

    async def left() -> list[str]:
        return await holding(servers, region, EMAIL, NAME)

    assert await eventually(left, until=lambda where: where == []) == []
    assert any(w.startswith("events.registrations") for w in await holding(
        servers, region, kept["email"]))  # fmt: skip


async def test_an_erased_smes_meeting_requests_keep_no_words_of_its_people(
    servers: Servers, client: BusClient, region: str
) -> None:
    from contracts import matching as mt
    from services.matching.tests.test_matching_bus import brokerage

    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    event = await client.call(ev.PUBLISH_EVENT, brokerage(), region)
    mine, other = SmeRef(region=region, sme_id=sme.sme_id), SmeRef(region=region, sme_id="o1")
    for ref, who in ((mine, NAME), (other, "Olev Teine")):
        person = ev.RegisterParticipant(event_id=event.event_id, person_name=who,
                                        email=f"{ref.sme_id}@x.ee", sme=ref)  # fmt: skip
        await client.call(ev.REGISTER_PARTICIPANT, person, region)
    words = f"Tere! {NAME} here, about lasers"
    ask = mt.RequestMeeting(event_id=event.event_id, requester=mine, receiver=other,
                            message=words)  # fmt: skip
    requested = await client.call(mt.REQUEST_MEETING, ask, region)
    # The words were kept before the erasure: read back, and in matching's meetings.
    asked = mt.GetMeeting(meeting_id=requested.meeting_id)
    assert (await client.call(mt.GET_MEETING, asked, region)).message == words
    assert f"matching.meetings: {requested.meeting_id}" in await holding(servers, region, words)
    await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=sme.sme_id, reason="asked"), region)

    async def left() -> list[str]:
        return await holding(servers, region, NAME, "about lasers")

    assert await eventually(left, until=lambda where: where == []) == []
    kept = await client.call(mt.GET_MEETING, asked, region)  # the request keeps its place
    assert kept.status == "requested" and kept.message == ""


async def in_streams(client: BusClient, region: str, *needles: str) -> list[str]:
    """Every message of every stream of the region that holds one of the needles."""
    jsm = client.nc.jsm()
    found = []
    # By name: the server lists streams a page at a time, and the test run makes hundreds.
    names = [stream_name(region, s) for s in service_names()]
    names += [dlq_stream(region), shared_stream(region), network_stream(region)]
    for name in names:
        stream = await jsm.stream_info(name)
        for seq in range(max(1, stream.state.first_seq), stream.state.last_seq + 1):
            try:
                msg = await jsm.get_msg(name, seq)
            except NotFoundError:  # a gap: a message deleted
                continue
            if any(needle.encode() in (msg.data or b"") for needle in needles):
                found.append(f"{name}#{seq} {msg.subject}")
    return found


async def test_the_streams_never_hold_a_persons_name_address_or_words(
    servers: Servers, client: BusClient, region: str
) -> None:
    """Streams keep what they are sent, and no erasure reaches into them: registrations, meeting
    requests and notifications go into them without the person. Mail still reaches the person:
    notify asks the services that keep them."""
    from contracts import matching as mt
    from services.matching.tests.test_matching_bus import brokerage

    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    event = await client.call(ev.PUBLISH_EVENT, brokerage(), region)
    mine, other = SmeRef(region=region, sme_id=sme.sme_id), SmeRef(region=region, sme_id="o1")
    for ref, who, email in ((mine, NAME, EMAIL), (other, "Olev Teine", "olev@teine.ee")):
        person = ev.RegisterParticipant(event_id=event.event_id, person_name=who, email=email,
                                        sme=ref)  # fmt: skip
        await client.call(ev.REGISTER_PARTICIPANT, person, region)
    words = "Tere! Could your lasers cut our glass?"
    ask = mt.RequestMeeting(event_id=event.event_id, requester=other, receiver=mine,
                            message=words)  # fmt: skip
    await client.call(mt.REQUEST_MEETING, ask, region)
    # notify wrote to both (so it found them without the streams), and told the network it did
    sent = await eventually(
        lambda: holding(servers, region, EMAIL),
        until=lambda where: sum(w.startswith("notify.deliveries") for w in where) >= 2,
    )
    assert sent
    assert await in_streams(client, region, "registration_confirmed")  # the facts are there
    assert await in_streams(client, region, EMAIL, NAME, "olev@teine.ee", words) == []


async def test_an_erased_contact_is_gone_from_every_services_audit_trail_and_no_one_else(
    servers: Servers, client: BusClient, region: str
) -> None:
    """Who acted is personal data: a contact who acted in every service (accepted and refused)
    is gone from each trail once erased; their colleague who acted too stays named."""
    from contracts import matching as mt
    from contracts import notify as nt
    from contracts.access import Actor

    kept = "jaan@photonforge.ee"
    sme = await client.call(rg.REGISTER_SME, new_sme(contacts=[
        {"name": NAME, "email": EMAIL}, {"name": "Jaan Jääb", "email": kept}]), region)  # fmt: skip
    event = await client.call(ev.PUBLISH_EVENT, entry(), region)
    ref = SmeRef(region=region, sme_id=sme.sme_id)
    for email in (EMAIL, kept):
        me = Actor(id=email, role="sme", region=region, sme_id=sme.sme_id)
        register = ev.RegisterParticipant(event_id=event.event_id, sme=ref, email=email,
                                          person_name=email.split("@")[0])  # fmt: skip
        await client.call(ev.REGISTER_PARTICIPANT, register, region, actor=me)
        await client.call(nt.SET_PREFERENCES, nt.SetPreferences(email=email), region, actor=me)
        refused = await client.raw(mt.LIST_MEETINGS, mt.ListMeetings(event_id=event.event_id),
                                   region, actor=me)  # fmt: skip
        assert refused["data"]["error"]["code"] == "forbidden"  # (a contact names its SME)
    trails = ("events.audit", "matching.audit", "notify.audit")
    for email in (EMAIL, kept):
        where = await holding(servers, region, email)
        assert {w.split(":")[0] for w in where} >= set(trails), (email, where)

    contact = next(c for c in sme.contacts if c.email == EMAIL)
    erase = rg.EraseContact(sme_id=sme.sme_id, contact_id=contact.id, reason="asked")
    await client.call(rg.ERASE_CONTACT, erase, region)

    async def left() -> list[str]:
        return await holding(servers, region, EMAIL)

    assert await eventually(left, until=lambda where: where == []) == []
    still = {w.split(":")[0] for w in await holding(servers, region, kept)}
    assert still >= set(trails)
