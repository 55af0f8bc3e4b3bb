"""The network of regions at work: commands go home across the hub, shared data reaches the
other regions and nothing else does, and the hub holds each region to its own subjects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from functools import partial
from typing import Any

import nats
import nats.errors
import nats.js.errors
import pytest
from nats.errors import TimeoutError as NatsTimeout

from contracts import events as ev
from contracts import matching as m
from contracts import registry as reg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.subjects import inbox_prefix, network_stream, stream_name
from mapnet.dev.localnet import LocalNetwork
from mapnet.ops.partners import PartnerBook
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.bus import SHARED_STREAM_MAX_CONSUMERS, BusClient
from mapnet.runtime.codec import encode, make_envelope
from mapnet.runtime.credentials import with_login, without_login
from services.notify.settings import NotifySettings

from .helpers import connect_when_let_in, eventually
from .three_regions import (
    B,
    H,
    T,
    a_profile,
    an_entry,
    calendar_titles,
    partner_names,
    read_model_smes,
    registered,
    seeker_finding,
)

pytestmark = pytest.mark.timeout(240)


# --- commands go home ---------------------------------------------------------------------------


async def test_a_command_crosses_the_hub_to_the_owning_region_and_back(net: LocalNetwork) -> None:
    tallinn, helsinki = await net.client(T), await net.client(H)
    entry = await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki brokerage"), H)
    # A Tallinn MAP's tool, connected only to Tallinn's server, registers a person of one of
    # its SMEs there.
    registration = await tallinn.call(
        ev.REGISTER_PARTICIPANT,
        ev.RegisterParticipant(
            event_id=entry.event_id, person_name="Mari Maasikas", email="mari@example.ee",
            sme=SmeRef(sme_id="photonforge", region=T),
        ),
        H,
    )  # fmt: skip
    assert registration.status == "confirmed"
    assert registration.event_id == entry.event_id


async def test_a_region_acts_in_another_only_for_its_own_people(net: LocalNetwork) -> None:
    """Helsinki knows a request from Tallinn as Tallinn's by the hub's stamp, not by what the
    request says: Tallinn's credentials cannot act in Helsinki as Helsinki's staff (not even
    with a forged stamp), reach only the network operations, and act for Tallinn's people."""
    tallinn, helsinki = await net.client(T), await net.client(H)
    entry = await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki own day"), H)
    theirs = await helsinki.call(
        ev.REGISTER_PARTICIPANT,
        ev.RegisterParticipant(event_id=entry.event_id, person_name="Aino", email="aino@x.fi"),
        H,
    )
    as_helsinki_admin = Actor(id="admin@helsinki.example", role="map_admin", region=H)
    cancel = ev.CancelRegistration(registration_id=theirs.registration_id)
    with pytest.raises(Refused) as refused:
        await tallinn.call(ev.CANCEL_REGISTRATION, cancel, H, actor=as_helsinki_admin)
    assert refused.value.code == "forbidden"
    assert refused.value.details["from_region"] == T
    forged = make_envelope(ev.CANCEL_REGISTRATION, cancel, region=H, source="x",
                           actor=as_helsinki_admin)  # fmt: skip
    answer = await tallinn.nc.request(
        ev.CANCEL_REGISTRATION.subject(H), encode(forged), timeout=5,
        headers={"Nats-Request-Info": json.dumps({"acc": "REGION_HELSINKI", "user": H})},
    )  # fmt: skip
    assert json.loads(answer.data)["data"]["error"]["details"]["from_region"] == T
    # Nor as the organiser of Helsinki's event (its event_ids would be Tallinn's word), nor as
    # a service, to read Aino's registrations.
    as_organiser = Actor(id="org@tallinn.example", role="organiser", region=T,
                         event_ids=[entry.event_id])  # fmt: skip
    attempts: list[tuple[Actor, Any, Any]] = [
        (as_organiser, ev.CANCEL_REGISTRATION, cancel),
        (Actor(id="svc", role="service", region=T), ev.GET_ICAL, ev.GetIcal(email="aino@x.fi")),
    ]
    for actor, op, data in attempts:
        with pytest.raises(Refused) as refused:
            await tallinn.call(op, data, H, actor=actor)
        assert refused.value.code == "forbidden" and refused.value.details["from_region"] == T
    # Saying it is Aino, Tallinn learns only what Aino registered for Tallinn's SMEs: nothing.
    claimed = Actor(id="aino@x.fi", role="sme", region=T, sme_id="photonforge")
    ical = await tallinn.call(ev.GET_ICAL, ev.GetIcal(email="aino@x.fi"), H, actor=claimed)
    assert "Helsinki own day" not in ical.ical and "BEGIN:VEVENT" not in ical.ical
    page = await helsinki.call(
        ev.LIST_REGISTRATIONS, ev.ListRegistrations(event_id=entry.event_id), H
    )
    assert [r.status for r in page.items] == ["confirmed"]  # nothing was cancelled
    # What is not a network operation is nobody's to answer from another region.
    with pytest.raises(Refused) as unrouted:
        await tallinn.call(reg.ERASE_SME, reg.EraseSme(sme_id="any", reason="x"), H, timeout_s=2)
    assert unrouted.value.code == "region_unavailable"
    # Tallinn's own person, acting as Tallinn's: registered (the control that the path works).
    ours = await tallinn.call(
        ev.REGISTER_PARTICIPANT,
        ev.RegisterParticipant(event_id=entry.event_id, person_name="Mari", email="mari@x.ee",
                               sme=SmeRef(sme_id="photonforge", region=T)),
        H,
    )  # fmt: skip
    assert ours.status == "confirmed"


async def test_a_region_cannot_touch_anothers_jetstream(net: LocalNetwork) -> None:
    """Tallinn's server reaches no part of Helsinki's JetStream but the consumers of Helsinki's
    shared stream: not its services' streams, not their consumers, not a stream to delete."""
    tallinn, helsinki = await net.client(T), await net.client(H)
    registry = stream_name(H, "registry")
    durables = [c.name async for c in _consumers(helsinki, registry)]
    assert durables  # the services' durable consumers, which another region must not touch
    api = f"$JS.{H}.API"
    for subject in (
        f"{api}.STREAM.DELETE.{registry}",
        f"{api}.STREAM.PURGE.{registry}",
        f"{api}.CONSUMER.DELETE.{registry}.{durables[0]}",
        f"{api}.CONSUMER.CREATE.{registry}",
        f"{api}.STREAM.INFO.{registry}",
        f"{api}.STREAM.LIST",
    ):
        with pytest.raises((nats.errors.NoRespondersError, NatsTimeout)):
            await tallinn.nc.request(subject, b"{}", timeout=2)
    # The control: the one thing it may ask, the shared stream's state, is answered.
    shared = await tallinn.nc.request(f"{api}.STREAM.INFO.{H.upper()}_SHARED", b"", timeout=5)
    shared_config = json.loads(shared.data)["config"]
    assert shared_config["name"] == f"{H.upper()}_SHARED"
    # The consumers other regions may create on it are bounded.
    assert shared_config["max_consumers"] == SHARED_STREAM_MAX_CONSUMERS
    info = await helsinki.nc.jetstream().stream_info(registry)
    assert info.state.messages >= 0
    assert [c.name async for c in _consumers(helsinki, registry)] == durables
    # Nor may it acknowledge (skip) the messages of Helsinki's services' consumers, or deliver
    # into Helsinki's copy of Berlin's shared stream as if it were Berlin; what it may send
    # (its own deliveries, acks of what it copies) is the control that the path is open.
    token = uuid.uuid4().hex
    forged = {
        f"$JS.ACK.{registry}.{durables[0]}.1.1.1.1.{token}": False,
        f"$MAPNET.deliver.{B}.{H}.{token}": False,
        f"$JS.ACK.{H.upper()}_SHARED.probe.1.1.1.1.{token}": True,
        f"$MAPNET.deliver.{T}.{H}.{token}": True,
    }
    arrived: list[str] = []

    async def arrive(msg: Any) -> None:
        arrived.append(msg.subject)

    for subject in forged:
        await helsinki.nc.subscribe(subject, cb=arrive)
    await helsinki.nc.flush()

    async def sent() -> list[str]:
        for subject in forged:
            await tallinn.nc.publish(subject, b"+ACK")
        await tallinn.nc.flush()
        await asyncio.sleep(0.2)
        return arrived

    # Until the controls arrive (interest takes a moment to cross the hub), then no forgery did.
    await eventually(
        sent, until=lambda got: {s for s, allowed in forged.items() if allowed} <= set(got)
    )
    assert not [s for s in arrived if not forged[s]]


async def _consumers(client: BusClient, stream: str) -> Any:
    for consumer in await client.nc.jetstream().consumers_info(stream):
        yield consumer


async def test_a_region_nobody_answers_for_is_a_typed_error_not_a_hang(net: LocalNetwork) -> None:
    # A long client timeout: "nobody answers" must come from NATS at once, not from waiting.
    tallinn = await net.client(T, timeout_s=30)
    seeker = m.FindPartners(seeker=SmeRef(sme_id="x", region="riga"))
    started = asyncio.get_running_loop().time()
    with pytest.raises(Refused) as refused:
        await tallinn.call(m.FIND_PARTNERS, seeker, "riga")
    assert asyncio.get_running_loop().time() - started < 1
    assert refused.value.code == "region_unavailable"
    assert refused.value.details["reason"] == "no_responders"
    assert refused.value.details["region"] == "riga"
    # Somebody who listens but does not answer is the other case: a timeout, told apart.
    silent = await tallinn.nc.subscribe(m.FIND_PARTNERS.subject("riga"))
    await tallinn.nc.flush()
    with pytest.raises(Refused) as late:
        await tallinn.call(m.FIND_PARTNERS, seeker, "riga", timeout_s=0.5)
    await silent.unsubscribe()
    assert late.value.code == "region_unavailable"
    assert late.value.details["reason"] == "timeout"
    assert late.value.details["timeout_s"] == 0.5


async def test_a_command_about_another_regions_copy_is_sent_home(net: LocalNetwork) -> None:
    helsinki, berlin = await net.client(H), await net.client(B)
    entry = await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki photonics day"), H)
    copy = await eventually(
        lambda: berlin.raw(ev.GET_EVENT, ev.GetEvent(event_id=entry.event_id), B),
        until=lambda reply: "error" not in reply["data"],
    )
    assert copy["data"]["title"] == "Helsinki photonics day"
    with pytest.raises(Refused) as refused:
        await berlin.call(
            ev.CANCEL_EVENT, ev.CancelEvent(event_id=entry.event_id, reason="not mine"), B
        )
    assert refused.value.code == "not_home"
    assert refused.value.details["region"] == H


# --- shared data ------------------------------------------------------------------------------


async def test_a_profile_published_in_berlin_is_found_from_tallinn(net: LocalNetwork) -> None:
    tallinn, berlin = await net.client(T), await net.client(B)
    offer = a_profile("Femtosecond laser micromachining", "Glass cutting with ultrashort pulses")
    await registered(berlin, B, "Berlin Photonics GmbH", offer)
    await registered(berlin, B, "Berlin Quiet GmbH", offer, shared=False)
    await registered(
        berlin, B, "Berlin Private GmbH", a_profile("Private laser", "laser", visibility="private")
    )
    _, found = await seeker_finding(
        tallinn, T, "Tallinn Glass OÜ", "Laser glass cutting wanted", "We need laser cutting",
        partner="Berlin Photonics GmbH",
    )  # fmt: skip
    # Nothing unconsented or private crossed: neither in the search nor in Tallinn's copy.
    assert "Berlin Quiet GmbH" not in found and "Berlin Private GmbH" not in found
    copied = {d["legal_name"] for d in await read_model_smes(net, T, B)}
    assert "Berlin Quiet GmbH" not in copied
    subjects = await network_subjects(net, T)
    assert subjects <= {
        f"mapnet.{r}.{name}" for r in (H, B) for name in (
            "registry.event.sme_shared", "registry.event.sme_unshared",
            "registry.event.sme_erased", "events.event.entry_shared",
            "events.event.entry_unshared", "events.event.guest_registration_changed",
            "matching.event.schedule_published", "matching.event.schedule_changed",
            "matching.event.meeting_held")
    }  # fmt: skip


async def network_subjects(net: LocalNetwork, region: str) -> set[str]:
    nc = await nats.connect(net.regions[region].nats_url)
    try:
        sub = await nc.jetstream().subscribe(
            ">", stream=network_stream(region), ordered_consumer=True
        )
        seen = set()
        try:
            while True:
                seen.add((await sub.next_msg(timeout=0.5)).subject)
        except NatsTimeout:
            return seen
    finally:
        await nc.close()


async def test_a_calendar_entry_from_helsinki_is_listed_in_berlin(net: LocalNetwork) -> None:
    helsinki, berlin = await net.client(H), await net.client(B)
    await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki Slush side event"), H)
    await helsinki.call(
        ev.PUBLISH_EVENT, an_entry("Helsinki staff meeting", visibility="region"), H
    )
    titles = await eventually(
        lambda: calendar_titles(berlin, B, H),
        until=lambda found: "Helsinki Slush side event" in found,
    )
    assert "Helsinki staff meeting" not in titles
    # Made region-only later: withdrawn from the other regions' calendars.
    await helsinki.call(
        ev.PUBLISH_EVENT, an_entry("Helsinki Slush side event", visibility="region"), H
    )
    await eventually(
        lambda: calendar_titles(berlin, B, H),
        until=lambda found: "Helsinki Slush side event" not in found,
    )


async def test_an_erasure_in_berlin_removes_every_copy(net: LocalNetwork) -> None:
    tallinn, berlin = await net.client(T), await net.client(B)
    offer = a_profile("Biobank software", "LIMS for biobanks")
    gone = await registered(berlin, B, "Berlin Erased GmbH", offer)
    seeker, _ = await seeker_finding(
        tallinn, T, "Tallinn Biobank OÜ", "LIMS wanted", "biobank LIMS software",
        partner="Berlin Erased GmbH",
    )  # fmt: skip
    await berlin.call(reg.ERASE_SME, reg.EraseSme(sme_id=gone, reason="asked"), B)
    await eventually(
        lambda: partner_names(tallinn, T, seeker),
        until=lambda names: "Berlin Erased GmbH" not in names,
    )
    for region in (T, H):
        await eventually(
            partial(read_model_smes, net, region, B),
            until=lambda docs: all(d["sme_id"] != gone for d in docs),
        )


async def held_in(net: LocalNetwork, region: str, *needles: str) -> list[str]:
    """Every document of the region's events and notify services that holds one of the
    needles (a person's name or address), as ``service.collection``."""
    client = mongo.client(net.regions[region].mongo_url)
    found = []
    for service in ("events", "notify"):
        db = mongo.database(client, region, service)
        for name in await db.list_collection_names():
            async for doc in db[name].find({}):
                if any(needle in json.dumps(doc, default=str) for needle in needles):
                    found.append(f"{service}.{name}")
    return found


async def test_an_erasure_in_berlin_reaches_its_people_at_tallinns_events_and_mail(
    net: LocalNetwork,
) -> None:
    """A Berlin SME's person registered at a Tallinn event is kept by Tallinn's events service
    and by its notify (who to mail, the confirmation's delivery); Berlin erases the SME: both
    forget the person, from the network's copy of the erasure."""
    name, email = "Greta Gelöscht", "greta@erased.example"
    tallinn, berlin = await net.client(T), await net.client(B)
    env = net.environment(T)
    notify = Assembly(net.settings(T), ["notify"], [T],
                      configs={"notify": NotifySettings.model_validate(env)})  # fmt: skip
    async with notify:
        gone = await registered(berlin, B, "Berlin Forgotten GmbH", None)
        entry = await tallinn.call(ev.PUBLISH_EVENT, an_entry("Tallinn Erasure Day"), T)
        person = ev.RegisterParticipant(event_id=entry.event_id, person_name=name, email=email,
                                        sme=SmeRef(sme_id=gone, region=B))  # fmt: skip
        registration = await berlin.call(ev.REGISTER_PARTICIPANT, person, T)
        # Held there first: the registration, and notify's person and confirmation mail.
        await eventually(
            lambda: held_in(net, T, email),
            until=lambda where: {"events.registrations", "notify.registrations",
                                 "notify.deliveries"} <= set(where),
            timeout_s=30,
        )  # fmt: skip
        await berlin.call(reg.ERASE_SME, reg.EraseSme(sme_id=gone, reason="asked"), B)
        assert (
            await eventually(
                lambda: held_in(net, T, email, name), until=lambda where: where == [], timeout_s=30
            )
            == []
        )
    page = await tallinn.call(
        ev.LIST_REGISTRATIONS, ev.ListRegistrations(event_id=entry.event_id), T
    )
    [kept] = page.items  # the seat is still counted, without the person
    assert kept.registration_id == registration.registration_id
    assert kept.person_name == "(erased)"


# --- trust ------------------------------------------------------------------------------------


async def test_a_regions_credentials_cannot_publish_as_another_region(net: LocalNetwork) -> None:
    errors: list[Exception] = []

    async def collect(exc: Exception) -> None:
        errors.append(exc)

    forged = "mapnet.berlin.registry.event.sme_shared"
    # A region's leaf password logs in as a leaf node, never as a client of the hub.
    for user in (T, f"{T}_sourcing"):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(
                f"nats://{user}:{net.passwords[T]}@127.0.0.1:{net.hub_port}",
                error_cb=collect, allow_reconnect=False, max_reconnect_attempts=0,
            )  # fmt: skip
    # Through Tallinn's own server and leaf link it does not reach Berlin either.
    local = await nats.connect(net.regions[T].nats_url, inbox_prefix=inbox_prefix(T))
    nc_b = await nats.connect(net.regions[B].nats_url)
    token = uuid.uuid4().hex.encode()
    arrived: list[bytes] = []

    async def arrive(msg: Any) -> None:
        arrived.append(msg.data)

    try:
        await nc_b.subscribe(forged, cb=arrive)
        await nc_b.flush()
        await local.publish(forged, b'{"forged": "%s"}' % token)
        # The control: a request on the same connection after it crosses the hub to Berlin and
        # is answered there, so the forgery, sent first the same way, would be there by now.
        tallinn = BusClient(local, source=f"mapnet/{T}/tests", role="map_admin", home=T)
        await tallinn.call(ev.LIST_CALENDAR, ev.ListCalendar(), B)
        await nc_b.flush()
        with contextlib.suppress(nats.js.errors.NotFoundError):  # nothing on that subject
            stored = await nc_b.jetstream().get_last_msg(stream_name(B, "registry"), forged)
            assert token not in (stored.data or b"")
    finally:
        await local.close()
        await nc_b.close()
    assert not [data for data in arrived if token in data]


# --- partitions and restarts ------------------------------------------------------------------


async def test_tallinn_meets_berlin_at_a_brokerage_event_in_helsinki(net: LocalNetwork) -> None:
    """The product's point, end to end: search across regions, register and request across the
    hub, and the schedule Helsinki publishes is answered from Berlin's own copy."""
    from services.matching.tests.test_matching_bus import brokerage

    tallinn, helsinki, berlin = await net.client(T), await net.client(H), await net.client(B)
    laser = await registered(
        berlin, B, "Berlin Ultrafast GmbH", a_profile("Ultrafast lasers", "Femtosecond sources")
    )
    glass, _ = await seeker_finding(
        tallinn, T, "Tallinn Smart Glass OÜ", "Ultrafast laser wanted", "femtosecond laser",
        partner="Berlin Ultrafast GmbH",
    )  # fmt: skip
    event = await helsinki.call(ev.PUBLISH_EVENT, brokerage(), H)
    seeker, partner = SmeRef(sme_id=glass, region=T), SmeRef(sme_id=laser, region=B)
    for client, sme, email in ((tallinn, seeker, "kati@glass.ee"), (berlin, partner, "jan@uf.de")):
        await client.call(
            ev.REGISTER_PARTICIPANT,
            ev.RegisterParticipant(
                event_id=event.event_id, person_name=email, email=email, sme=sme
            ),
            H,
        )

    async def joined() -> bool:
        """Both registrations have reached Helsinki's matching service."""
        try:
            for client, sme in ((tallinn, seeker), (berlin, partner)):
                await client.call(
                    m.SET_AVAILABILITY,
                    m.SetAvailability(event_id=event.event_id, participant=sme, slots=[0, 1, 2]),
                    H,
                )
        except Refused:
            return False
        return True

    await eventually(joined, until=bool)
    meeting = await tallinn.call(
        m.REQUEST_MEETING,
        m.RequestMeeting(event_id=event.event_id, requester=seeker, receiver=partner),
        H,
    )
    accepted = await berlin.call(
        m.RESPOND_MEETING,
        m.RespondMeeting(meeting_id=meeting.meeting_id, accept=True, responder=partner),
        H,
    )
    assert accepted.status == "accepted"
    published = await helsinki.call(
        m.SCHEDULE_EVENT, m.ScheduleEvent(event_id=event.event_id, time_limit_s=2), H
    )
    assert len(published.meetings) == 1

    async def berlins_copy() -> m.Schedule | None:
        try:
            return await berlin.call(
                m.GET_SCHEDULE, m.GetSchedule(event_id=event.event_id, participant=partner), B
            )
        except Refused:
            return None

    copy = await eventually(berlins_copy, until=lambda found: found is not None)
    assert copy is not None and copy.region == H
    assert [{p.region for p in s.participants} for s in copy.meetings] == [{T, B}]

    # Moved by hand in Helsinki, then cancelled from Tallinn: Berlin's copy follows each change
    # (schedule_changed), so Berlin's SME's agenda never shows a place or a meeting gone.
    [placed] = copy.meetings
    slot = next(s for s in (0, 1, 2) if s != placed.slot)
    staff = Actor(id="staff@helsinki.example", role="map_staff", region=H)
    to = m.PlaceMeeting(meeting_id=placed.meeting_id, slot=slot, table=placed.table)
    await helsinki.call(m.PLACE_MEETING, to, H, actor=staff)
    moved = await eventually(berlins_copy, until=lambda found: bool(found and found.version == 2))
    assert moved is not None and [s.slot for s in moved.meetings] == [slot]
    await tallinn.call(
        m.CANCEL_MEETING, m.CancelMeeting(meeting_id=placed.meeting_id, by=seeker), H
    )
    gone = await eventually(berlins_copy, until=lambda found: bool(found and found.version == 3))
    assert gone is not None and gone.meetings == []


async def test_a_region_does_not_receive_the_answers_meant_for_anothers_clients(
    net: LocalNetwork,
) -> None:
    snooper = await nats.connect(net.regions[T].nats_url)
    overheard: list[bytes] = []

    async def overhear(msg: Any) -> None:
        overheard.append(msg.data)

    marker = f"snoop-{uuid.uuid4()}"
    tallinn, helsinki = await net.client(T), await net.client(H)

    async def overheard_tallinns_answer(control: str) -> None:
        """Berlin answers Tallinn's own client across the hub and the snooper hears it: its
        interest went to the hub on Tallinn's leaf link before the request did, and the
        answer comes the way a copy of another region's answer would."""
        await tallinn.call(ev.LIST_CALENDAR, ev.ListCalendar(), B, correlationid=control)
        await eventually(
            lambda: asyncio.sleep(0, overheard),
            until=lambda got: any(control.encode() in data for data in got),
        )

    try:
        await snooper.subscribe("_INBOX.>", cb=overhear)
        await snooper.flush()
        await overheard_tallinns_answer(f"before-{uuid.uuid4()}")
        # Berlin's answer to Helsinki carries the marker as its correlation id.
        await helsinki.call(ev.LIST_CALENDAR, ev.ListCalendar(), B, correlationid=marker)
        # Berlin's next answer to Tallinn, sent after it: a copy would have arrived by now.
        await overheard_tallinns_answer(f"after-{uuid.uuid4()}")
    finally:
        await snooper.close()
    # (Tallinn does see the answers it gives itself, e.g. to Helsinki's JetStream questions.)
    assert not [data for data in overheard if marker.encode() in data]


async def test_a_partner_reads_the_network_from_its_region_and_reaches_no_other(
    net: LocalNetwork,
) -> None:
    """A partner system of Tallinn reads Helsinki's calendar from Tallinn's copy, publishes
    into Tallinn's, and cannot send anything to Helsinki across the hub: not a shared query,
    not a command, not one a partner was never given."""
    helsinki = await net.client(H)
    await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki Partner Fair"), H)
    book = PartnerBook(net.home / T)
    added = book.add("crosser")
    assert book.reload_server()
    url = with_login(without_login(net.regions[T].nats_url), added.user, added.password)
    nc = await connect_when_let_in(url, inbox_prefix=added.inbox_prefix)
    bus = BusClient(nc, source="https://crosser.example", timeout_s=3)
    try:
        await eventually(
            partial(calendar_titles, bus, T, H),
            until=lambda titles: "Helsinki Partner Fair" in titles,
        )
        own = await bus.call(ev.PUBLISH_EVENT, an_entry("Crosser Days", partner_id="crosser"), T)
        assert own.region == T
        token = uuid.uuid4().hex
        # Operations open to partners find nobody behind Tallinn's server for Helsinki; one
        # that is not is a permissions violation there, never sent on: no answer in time.
        attempts: list[tuple[Any, Any, str]] = [
            (ev.LIST_CALENDAR, ev.ListCalendar(region=H), "no_responders"),
            (ev.PUBLISH_EVENT, an_entry(f"Into Helsinki {token}", partner_id="crosser"),
             "no_responders"),
            (reg.ERASE_SME, reg.EraseSme(sme_id="any", reason="x"), "timeout"),
        ]  # fmt: skip
        for op, data, reason in attempts:
            with pytest.raises(Refused) as refused:
                await bus.raw(op, data, H, timeout_s=1 if reason == "timeout" else 30)
            assert refused.value.code == "region_unavailable", op.name
            assert refused.value.details["reason"] == reason, op.name
    finally:
        await nc.close()
    # The publish did not land in Helsinki. The controls: a request from Tallinn's server has
    # crossed the hub to Helsinki's events service since and was carried out, and Helsinki's
    # own entry with the same word is found by the very query that does not find the partner's.
    tallinn = await net.client(T)
    fair = await eventually(
        lambda: helsinki.call(ev.LIST_CALENDAR, ev.ListCalendar(text="Partner Fair"), H),
        until=lambda page: bool(page.items),
    )
    crossed = await tallinn.call(
        ev.REGISTER_PARTICIPANT,
        ev.RegisterParticipant(event_id=fair.items[0].event_id, person_name="Mari",
                               email=f"{token}@x.ee", sme=SmeRef(sme_id="photonforge", region=T)),
        H,
    )  # fmt: skip
    assert crossed.status == "confirmed"
    await helsinki.call(ev.PUBLISH_EVENT, an_entry(f"Helsinki control {token}"), H)
    found = await helsinki.call(ev.LIST_CALENDAR, ev.ListCalendar(region=H, text=token), H)
    assert [e.title for e in found.items] == [f"Helsinki control {token}"]
