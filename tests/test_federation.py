"""Three real regions and a real hub on this machine: each region its own NATS server (a leaf node
of the hub, its own JetStream domain), its own nx-27017 and its services; the leaf links run
through relays the tests cut and heal."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout

from contracts import events as ev
from contracts import matching as m
from contracts import registry as reg
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.subjects import network_stream, stream_name
from mapnet import logs, mongo
from mapnet.bus import BusClient
from mapnet.localnet import LocalNetwork

from .helpers import eventually

T, H, B = "tallinn", "helsinki", "berlin"
COUNTRY = {T: "EE", H: "FI", B: "DE"}
NUMBERS = iter(range(14000000, 14999999, 7))

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    async with LocalNetwork(Path(tmp_path_factory.mktemp("network")), [T, H, B]) as network:
        yield network


def _registration_number() -> str:
    # Estonian registry codes have a check digit; search for the next valid one.
    from stdnum.ee import registrikood

    while True:
        number = str(next(NUMBERS))
        if registrikood.is_valid(number):
            return number


def an_sme(name: str, *, shared: bool = True, **extra: Any) -> reg.RegisterSme:
    return reg.RegisterSme.model_validate(
        {"legal_name": name, "registration_number": _registration_number(), "country": "EE",
         "share_with_network": shared} | extra
    )  # fmt: skip


def a_profile(title: str, summary: str, **extra: Any) -> reg.ProfileInput:
    return reg.ProfileInput.model_validate(
        {"type": "technology_offer", "title": title, "summary": summary,
         "partnership_types": ["licence"],
         "expires_on": (date.today() + timedelta(days=200)).isoformat()} | extra
    )  # fmt: skip


async def registered(
    client: BusClient, region: str, name: str, profile: reg.ProfileInput | None, **extra: Any
) -> str:
    view = await client.call(reg.REGISTER_SME, an_sme(name, **extra), region)
    if profile is not None:
        await client.call(
            reg.PUBLISH_PROFILE, reg.PublishProfile(sme_id=view.sme_id, profile=profile), region
        )
    return view.sme_id


async def partner_names(client: BusClient, region: str, seeker: str, **query: Any) -> set[str]:
    try:
        page = await client.call(
            m.FIND_PARTNERS,
            m.FindPartners(seeker=SmeRef(sme_id=seeker, region=region), limit=50, **query),
            region,
        )
    except Refused:  # the seeker has not reached matching's read model yet
        return set()
    return {p.legal_name for p in page.items}


async def read_model_smes(net: LocalNetwork, region: str, of_region: str) -> list[dict[str, Any]]:
    """What matching in ``region`` holds of ``of_region``'s SMEs, straight from its database."""
    db = mongo.database(mongo.client(net.regions[region].mongo_url), region, "matching")
    return await db["smes"].find({"region": of_region}).to_list(None)


async def shared_names(net: LocalNetwork, region: str, of_region: str) -> list[str]:
    """Names of ``of_region``'s SMEs that share with the network, as ``region`` holds them."""
    docs = await read_model_smes(net, region, of_region)
    return sorted(d["legal_name"] for d in docs if d["share_with_network"])


def an_entry(title: str, **extra: Any) -> ev.PublishEvent:
    starts = datetime.now().replace(microsecond=0) + timedelta(days=30)
    return ev.PublishEvent.model_validate(
        {"partner_id": "tests", "external_id": title, "kind": "conference",
         "title": title, "starts_at": starts.isoformat(),
         "ends_at": (starts + timedelta(hours=3)).isoformat(), "timezone": "Europe/Helsinki",
         "country": "FI", "city": "Helsinki"} | extra
    )  # fmt: skip


async def calendar_titles(client: BusClient, region: str, of_region: str) -> set[str]:
    page = await client.call(ev.LIST_CALENDAR, ev.ListCalendar(region=of_region, limit=200), region)
    return {e.title for e in page.items}


# --- commands go home ---------------------------------------------------------------------------


async def test_a_command_crosses_the_hub_to_the_owning_region_and_back(net: LocalNetwork) -> None:
    tallinn, helsinki = await net.client(T), await net.client(H)
    entry = await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki brokerage"), H)
    # A Tallinn MAP's tool, connected only to Tallinn's server, registers a person there.
    registration = await tallinn.call(
        ev.REGISTER_PARTICIPANT,
        ev.RegisterParticipant(
            event_id=entry.event_id, person_name="Mari Maasikas", email="mari@example.ee"
        ),
        H,
    )
    assert registration.status == "confirmed"
    assert registration.event_id == entry.event_id


async def test_a_region_nobody_answers_for_is_a_typed_error_not_a_hang(net: LocalNetwork) -> None:
    tallinn = await net.client(T, timeout_s=3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(Refused) as refused:
        await tallinn.call(
            m.FIND_PARTNERS, m.FindPartners(seeker=SmeRef(sme_id="x", region="riga")), "riga"
        )
    assert refused.value.code == "region_unavailable"
    assert asyncio.get_running_loop().time() - started < 3.5


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
    seeker = await registered(
        tallinn, T, "Tallinn Glass OÜ",
        a_profile("Laser glass cutting wanted", "We need laser cutting", type="technology_request"),
    )  # fmt: skip
    found = await eventually(
        lambda: partner_names(tallinn, T, seeker),
        until=lambda names: "Berlin Photonics GmbH" in names,
    )
    # Nothing unconsented or private crossed: neither in the search nor in Tallinn's copy.
    assert "Berlin Quiet GmbH" not in found and "Berlin Private GmbH" not in found
    copied = {d["legal_name"] for d in await read_model_smes(net, T, B)}
    assert "Berlin Quiet GmbH" not in copied
    subjects = await network_subjects(net, T)
    assert subjects <= {
        f"mapnet.{r}.{name}" for r in (H, B) for name in (
            "registry.event.sme_shared", "registry.event.sme_unshared",
            "registry.event.sme_erased", "events.event.entry_shared",
            "events.event.entry_unshared", "matching.event.schedule_published")
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
    seeker = await registered(
        tallinn, T, "Tallinn Biobank OÜ",
        a_profile("LIMS wanted", "biobank LIMS software", type="technology_request"),
    )  # fmt: skip
    await eventually(
        lambda: partner_names(tallinn, T, seeker),
        until=lambda names: "Berlin Erased GmbH" in names,
    )
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


# --- trust ------------------------------------------------------------------------------------


async def test_a_regions_credentials_cannot_publish_as_another_region(net: LocalNetwork) -> None:
    errors: list[Exception] = []

    async def collect(exc: Exception) -> None:
        errors.append(exc)

    forged = "mapnet.berlin.registry.event.sme_shared"
    as_tallinn = await nats.connect(
        f"nats://tallinn:{net.passwords[T]}@127.0.0.1:{net.hub_port}", error_cb=collect
    )
    try:
        await as_tallinn.publish(forged, b'{"forged": true}')
        # Nor may Tallinn read Berlin's unshared events through Berlin's JetStream API.
        await as_tallinn.publish(f"$JS.{B}.API.CONSUMER.CREATE.{stream_name(B, 'registry')}", b"{}")
        await as_tallinn.flush()
        await asyncio.sleep(0.5)
    finally:
        await as_tallinn.close()
    refused = " ".join(str(e) for e in errors).lower()  # nats-py lower-cases the subject
    assert f'permissions violation for publish to "{forged}"' in refused
    assert f'publish to "$js.{B}.api.consumer.create.{B}_registry"' in refused
    # Through Tallinn's own server and leaf link it does not reach Berlin either.
    local = await nats.connect(net.regions[T].nats_url)
    berlin_js = (nc_b := await nats.connect(net.regions[B].nats_url)).jetstream()
    try:
        before = (await berlin_js.stream_info(stream_name(B, "registry"))).state.messages
        await local.publish(forged, b'{"forged": true}')
        await local.flush()
        await asyncio.sleep(0.5)
        after = (await berlin_js.stream_info(stream_name(B, "registry"))).state.messages
    finally:
        await local.close()
        await nc_b.close()
    assert after == before


# --- partitions and restarts ------------------------------------------------------------------


async def test_a_cut_link_heals_with_both_read_models_equal_to_the_origin(
    net: LocalNetwork,
) -> None:
    tallinn, berlin = await net.client(T, timeout_s=2), await net.client(B, timeout_s=2)
    helsinki = await net.client(H)
    await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki before the cut"), H)
    await eventually(
        lambda: calendar_titles(tallinn, T, H),
        until=lambda found: "Helsinki before the cut" in found,
    )
    await net.cut(T)
    try:
        # Both sides keep writing their own records while cut.
        for i in range(5):
            await registered(tallinn, T, f"Cut Tallinn {i} OÜ", a_profile(f"Offer T{i}", "x"))
            await registered(berlin, B, f"Cut Berlin {i} GmbH", a_profile(f"Offer B{i}", "x"))
        # Really apart: nothing Berlin wrote since reached Tallinn, and the other way round.
        await asyncio.sleep(1)
        assert not [n for n in await shared_names(net, T, B) if n.startswith("Cut Berlin")]
        assert not [n for n in await shared_names(net, B, T) if n.startswith("Cut Tallinn")]
        # Tallinn still answers from what it holds; Berlin's services are out of reach.
        assert "Helsinki before the cut" in await calendar_titles(tallinn, T, H)
        with pytest.raises(Refused) as refused:
            await tallinn.call(ev.LIST_CALENDAR, ev.ListCalendar(), B)
        assert refused.value.code == "region_unavailable"
    finally:
        await net.heal(T)

    for region, of in ((T, B), (B, T)):
        written = "Cut Tallinn" if of == T else "Cut Berlin"
        origin = await eventually(
            partial(shared_names, net, of, of),
            until=partial(lambda w, held: sum(n.startswith(w) for n in held) == 5, written),
        )
        await eventually(partial(shared_names, net, region, of), until=origin.__eq__, timeout_s=60)
        copy = await shared_names(net, region, of)
        assert len(copy) == len(set(copy))  # no duplicates


async def test_a_region_restarting_while_others_publish_catches_up(net: LocalNetwork) -> None:
    """Helsinki's server is killed (SIGKILL) and its services stopped while Berlin publishes;
    both come back on the same data, and Helsinki's copy takes up where it stopped."""
    berlin = await net.client(B)
    await net.stop_services(H)
    net.kill_nats(H)
    try:
        for i in range(5):
            await registered(
                berlin, B, f"While Helsinki down {i} GmbH", a_profile(f"Offer D{i}", "x")
            )
        with pytest.raises(Refused) as refused:
            await berlin.call(ev.LIST_CALENDAR, ev.ListCalendar(), H)
        assert refused.value.code == "region_unavailable"
    finally:
        net.restart_nats(H)
        await net.start_services(H)
    expected = await eventually(
        lambda: shared_names(net, B, B),
        until=lambda held: sum(n.startswith("While Helsinki down") for n in held) == 5,
    )
    await eventually(
        lambda: shared_names(net, H, B), until=lambda copy: copy == expected, timeout_s=90
    )
    # And the other way: what the restarted region shares reaches the others again (NATS alone
    # resumed a source from a restarted origin only after ~38 s; the link keeper restarts it).
    helsinki = await net.client(H)
    await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki after its restart"), H)
    await eventually(
        lambda: calendar_titles(berlin, B, H),
        until=lambda found: "Helsinki after its restart" in found,
        timeout_s=20,
    )


async def test_status_shows_links_and_replication(net: LocalNetwork) -> None:
    from mapnet.status import region_health

    report = await region_health(T, net.regions[T].nats_url, net.ids)
    assert report["links"] == {H: "up", B: "up"}
    assert set(report["replication"]) == {H, B}
    # Berlin writes: Tallinn's copy is behind until it has caught up, then says so.
    berlin = await net.client(B)
    for i in range(20):
        await registered(berlin, B, f"Status Berlin {i} GmbH", None)
    report = await eventually(
        lambda: region_health(T, net.regions[T].nats_url, net.ids),
        until=lambda r: {s["state"] for s in r["replication"].values()} == {"copying"},
    )
    assert {r["behind"] for r in report["replication"].values()} == {0}
    await net.cut(T)
    try:
        report = await eventually(
            lambda: region_health(T, net.regions[T].nats_url, net.ids),
            until=lambda r: r["links"] == {H: "down", B: "down"},
        )
    finally:
        await net.heal(T)
    assert {r["state"] for r in report["replication"].values()} == {"unreachable"}
    print(json.dumps(report, indent=2))


async def test_tallinn_meets_berlin_at_a_brokerage_event_in_helsinki(net: LocalNetwork) -> None:
    """The product's point, end to end: search across regions, register and request across the
    hub, and the schedule Helsinki publishes is answered from Berlin's own copy."""
    from services.matching.tests.test_matching_bus import brokerage

    tallinn, helsinki, berlin = await net.client(T), await net.client(H), await net.client(B)
    laser = await registered(
        berlin, B, "Berlin Ultrafast GmbH", a_profile("Ultrafast lasers", "Femtosecond sources")
    )
    glass = await registered(
        tallinn, T, "Tallinn Smart Glass OÜ",
        a_profile("Ultrafast laser wanted", "femtosecond laser", type="technology_request"),
    )  # fmt: skip
    await eventually(
        lambda: partner_names(tallinn, T, glass),
        until=lambda names: "Berlin Ultrafast GmbH" in names,
    )
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


async def test_a_region_does_not_receive_the_answers_meant_for_anothers_clients(
    net: LocalNetwork,
) -> None:
    snooper = await nats.connect(net.regions[T].nats_url)
    overheard: list[bytes] = []

    async def overhear(msg: Any) -> None:
        overheard.append(msg.data)

    marker = f"snoop-{uuid.uuid4()}"
    try:
        await snooper.subscribe("_INBOX.>", cb=overhear)
        await snooper.flush()
        await asyncio.sleep(0.3)  # its interest would have reached the hub by now
        helsinki = await net.client(H)
        # Berlin's answer to Helsinki carries the marker as its correlation id.
        await helsinki.call(ev.LIST_CALENDAR, ev.ListCalendar(), B, correlationid=marker)
        await asyncio.sleep(0.3)
    finally:
        await snooper.close()
    # (Tallinn does see the answers it gives itself, e.g. to Helsinki's JetStream questions.)
    assert not [data for data in overheard if marker.encode() in data]


async def test_an_origin_starting_over_is_copied_anew(net: LocalNetwork) -> None:
    """Berlin's JetStream is wiped (its shared stream and the events stream behind it recreated,
    numbering from 1 again) while Tallinn sources it: what Berlin publishes afterwards still
    reaches Tallinn, although its sequence numbers are ones Tallinn has already copied."""
    from mapnet.bus import ensure_streams

    tallinn, berlin = await net.client(T), await net.client(B)
    for i in range(3):
        await berlin.call(ev.PUBLISH_EVENT, an_entry(f"Berlin before the wipe {i}"), B)
    await eventually(
        lambda: calendar_titles(tallinn, T, B),
        until=lambda found: {f"Berlin before the wipe {i}" for i in range(3)} <= found,
    )
    nc = await nats.connect(net.regions[B].nats_url)
    try:
        js = nc.jetstream()
        for stream in ("BERLIN_SHARED", stream_name(B, "events")):
            await js.delete_stream(stream)
        await ensure_streams(js, B)
    finally:
        await nc.close()
    await berlin.call(ev.PUBLISH_EVENT, an_entry("Berlin after the wipe"), B)
    await eventually(
        lambda: calendar_titles(tallinn, T, B),
        until=lambda found: "Berlin after the wipe" in found,
        timeout_s=12,  # NATS alone got there after ~25 s
    )
