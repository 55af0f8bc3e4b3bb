"""A contact of Tallinn at Helsinki's brokerage event, two real regions linked by a real hub
(issue 31; one network for both tests, to keep the suite's time):

- Tallinn's events service lists the SME's registration at Helsinki's event beside those at
  Tallinn's own (Helsinki tells it, guest_registration_changed; Tallinn keeps a copy), with
  ``upcoming`` too; cancelled at Helsinki, it leaves the list (shown with ``include_cancelled``).
  Nobody else lists it: a contact of another SME, Helsinki's staff.
- In Tallinn's portal the contact registers, sees My events and the marketplace, asks for a
  meeting, reads the agenda (with the link of the remote meeting's room, which only the host
  names) and cancels, each request sent to Helsinki, which keeps the event's records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import icalendar
import nats
import pytest

from contracts import events as ev
from contracts import matching as m
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.dev.localnet import LocalNetwork
from mapnet.ops.servers import service_login_url
from mapnet.runtime import logs, mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.routing import service_inbox
from services.matching.tests.test_matching_bus import brokerage
from services.portal.adapters.store import PortalStore
from services.portal.entrypoints.wiring import accounts_on
from tests.helpers import eventually
from tests.test_portal import PASSWORD, csrf_of, sign_in
from tests.test_portal_guide_network import portal_of
from tests.three_regions import an_entry, calendar_titles, registered

pytestmark = pytest.mark.timeout(240)

T, H = "tallinn", "helsinki"
ROOMS = "https://meet.example.org/mapnet-{meeting_id}"


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    home = Path(tmp_path_factory.mktemp("portal-agenda-net"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MAPNET_MEETING_ROOM_URL", ROOMS)  # each region's matching reads it at start
        services = ("registry", "events", "matching", "portal")
        async with LocalNetwork(home, [T, H], services) as network:
            yield network


async def listed(
    tallinn: BusClient, sme: SmeRef, actor: Actor, **query: Any
) -> list[tuple[str, str, str]]:
    """Tallinn's answer, page after page (two at a time: the cursor runs across both)."""
    rows: list[tuple[str, str, str]] = []
    cursor: str | None = None
    while True:
        asked = ev.ListSmeRegistrations(sme=sme, limit=2, cursor=cursor, **query)
        page = await tallinn.call(ev.LIST_SME_REGISTRATIONS, asked, T, actor=actor)
        rows += [(r.registration_id, r.region, r.status) for r in page.items]
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


async def test_tallinn_lists_its_smes_registration_at_helsinkis_event(net: LocalNetwork) -> None:
    tallinn, helsinki = await net.client(T), await net.client(H)
    sme = SmeRef(sme_id=await registered(tallinn, T, "Tallinn Lasers OÜ", None), region=T)
    kati = Actor(id="kati@lasers.ee", role="sme", region=T, sme_id=sme.sme_id)
    away = await helsinki.call(ev.PUBLISH_EVENT, an_entry("Helsinki Brokerage Day"), H)
    own = await tallinn.call(
        ev.PUBLISH_EVENT, an_entry("Tallinn Photonics Day", country="EE", city="Tallinn"), T
    )
    await eventually(  # Tallinn's calendar has its copy of Helsinki's event (upcoming reads it)
        lambda: calendar_titles(tallinn, T, H), until=lambda titles: away.title in titles
    )

    def signing_up(event: ev.CalendarEntry) -> ev.RegisterParticipant:
        return ev.RegisterParticipant(
            event_id=event.event_id, person_name="Kati Kask", email="kati@lasers.ee", sme=sme
        )

    at_home = await tallinn.call(ev.REGISTER_PARTICIPANT, signing_up(own), T, actor=kati)
    # Kati, in Tallinn's portal, registers at Helsinki's event: the command goes there.
    there = await tallinn.call(ev.REGISTER_PARTICIPANT, signing_up(away), H, actor=kati)
    assert there.status == "confirmed"

    both = [(there.registration_id, H, "confirmed"), (at_home.registration_id, T, "confirmed")]
    assert await eventually(lambda: listed(tallinn, sme, kati), until=both.__eq__) == both
    assert await listed(tallinn, sme, kati, upcoming=True) == both
    page = await tallinn.call(ev.LIST_SME_REGISTRATIONS, ev.ListSmeRegistrations(sme=sme), T,
                              actor=kati)  # fmt: skip
    assert "kati" not in page.model_dump_json().lower()  # no person in the answer

    await tallinn.call(
        ev.CANCEL_REGISTRATION, ev.CancelRegistration(registration_id=there.registration_id), H,
        actor=kati,
    )  # fmt: skip
    only_home = [(at_home.registration_id, T, "confirmed")]
    assert await eventually(lambda: listed(tallinn, sme, kati), until=only_home.__eq__)
    assert await listed(tallinn, sme, kati, upcoming=True) == only_home
    assert await listed(tallinn, sme, kati, include_cancelled=True) == [
        (there.registration_id, H, "cancelled"), (at_home.registration_id, T, "confirmed")
    ]  # fmt: skip

    # Nobody else lists them: another Tallinn SME's contact, Helsinki's staff.
    others = [
        Actor(id="o@other.ee", role="sme", region=T, sme_id="another"),
        Actor(id="staff@helsinki.example", role="map_staff", region=H),
    ]
    for actor in others:
        with pytest.raises(Refused) as refused:
            await tallinn.call(
                ev.LIST_SME_REGISTRATIONS, ev.ListSmeRegistrations(sme=sme), T, actor=actor
            )
        assert refused.value.code == "forbidden", actor


async def test_a_contact_meets_at_another_regions_event_from_their_own_regions_portal(
    net: LocalNetwork,
) -> None:
    """Kati (Tallinn) registers, asks for a meeting, reads her agenda with the room's link,
    and cancels, all in Tallinn's portal, at Helsinki's event: each page sends its request to
    Helsinki, which keeps the event's registrations and meetings."""
    tallinn, helsinki = await net.client(T), await net.client(H)
    guest = SmeRef(sme_id=await registered(tallinn, T, "Tallinn Remote OÜ", None), region=T)
    host = SmeRef(sme_id=await registered(helsinki, H, "Helsinki Optics Oy", None), region=H)
    event = await helsinki.call(ev.PUBLISH_EVENT, brokerage(), H)
    olli = ev.RegisterParticipant(
        event_id=event.event_id, person_name="Olli", email="olli@optics.fi", sme=host
    )
    await helsinki.call(ev.REGISTER_PARTICIPANT, olli, H)
    db = mongo.database(mongo.client(net.regions[T].mongo_url), T, "portal")
    await accounts_on(PortalStore(db)).add_user("kati@remote.ee", "sme", T, PASSWORD,
                                                 sme_id=guest.sme_id)  # fmt: skip
    page = f"/events/{event.event_id}"
    async with httpx.AsyncClient(base_url=portal_of(net, T)) as kati:
        await sign_in(kati, "kati@remote.ee")

        async def read(path: str) -> httpx.Response:
            return await kati.get(path)

        # Tallinn's calendar has Helsinki's event once its copy arrived.
        shown = await eventually(partial(read, page), until=lambda r: r.status_code == 200)
        registered_there = await kati.post(f"{page}/register", data={
            "csrf": csrf_of(shown), "participation": "remote"})  # fmt: skip
        assert registered_there.status_code == 200, registered_there.text
        assert "Your seat is confirmed." in registered_there.text

        # My events lists it (Helsinki tells Tallinn of its SME's seat), hosted by Helsinki.
        mine = await eventually(partial(read, "/my/events"),
                                until=lambda r: event.title in r.text)  # fmt: skip
        assert "Helsinki" in mine.text

        # The marketplace is Helsinki's: it names Helsinki's company (it shares itself).
        market = await eventually(partial(read, f"{page}/participants"),
                                  until=lambda r: "Helsinki Optics Oy" in r.text)  # fmt: skip
        # The request form offers the event both attend, and the request goes to Helsinki.
        ask = f"/requests/new?sme_id={host.sme_id}&region={H}"
        form = await kati.get(ask)
        assert form.status_code == 200 and event.event_id in form.text, form.text
        asked = await kati.post("/requests/new", data={
            "csrf": csrf_of(market), "event_id": event.event_id, "sme_id": host.sme_id,
            "region": H, "message": "Remote demo?", "priority": "2"})  # fmt: skip
        assert asked.status_code in (200, 303), asked.text
        inbox = await kati.get("/requests")
        assert "Helsinki Optics Oy" in inbox.text and "Remote demo?" in inbox.text
        [meeting] = (await helsinki.call(m.LIST_MEETINGS, m.ListMeetings(
            event_id=event.event_id), H)).items  # fmt: skip
        assert meeting.requester == guest and meeting.remote
        mine = await kati.get(f"{page}/meetings")
        assert "Helsinki Optics Oy" in mine.text and "Remote demo?" in mine.text

        await helsinki.call(m.RESPOND_MEETING, m.RespondMeeting(
            meeting_id=meeting.meeting_id, accept=True, responder=host), H)  # fmt: skip
        await helsinki.call(m.SCHEDULE_EVENT, m.ScheduleEvent(event_id=event.event_id,
                                                              time_limit_s=2), H)  # fmt: skip
        room = f'class="room" href="https://meet.example.org/mapnet-{meeting.meeting_id}-'
        agenda = await kati.get(f"{page}/agenda")
        assert agenda.status_code == 200 and room in agenda.text
        assert "Helsinki Optics Oy" in agenda.text
        ics = await kati.get(f"{page}/agenda.ics")
        (vevent,) = icalendar.Calendar.from_ical(ics.text).walk("VEVENT")
        assert str(vevent["URL"]).startswith(
            f"https://meet.example.org/mapnet-{meeting.meeting_id}"
        )

        # Cancelled from the meetings page (its form names the event, so it goes to Helsinki).
        mine = await kati.get(f"{page}/meetings")
        cancelled = await kati.post(f"/meetings/{meeting.meeting_id}", data={
            "csrf": csrf_of(mine), "event_id": event.event_id, "action": "cancel"})  # fmt: skip
        assert cancelled.status_code in (200, 303), cancelled.text
        after = await kati.get(f"{page}/agenda")
        assert after.status_code == 200 and room not in after.text
        ics = await kati.get(f"{page}/agenda.ics")
        assert icalendar.Calendar.from_ical(ics.text).walk("VEVENT") == []


async def test_the_portal_logged_in_as_itself_reaches_the_region_hosting_an_event(
    net: LocalNetwork,
) -> None:
    """As `mapnet serve portal` runs it (its own NATS user, as in Kubernetes): a network
    operation about Helsinki's event reaches Helsinki, which answers it (here: a refusal, the
    contact's company has no seat), and the server saw no request the portal may not send."""
    helsinki = await net.client(H)
    event = await helsinki.call(ev.PUBLISH_EVENT, brokerage(), H)
    r = net.regions[T]
    nc = await nats.connect(service_login_url(T, r.nats_port, r.home, "portal"),
                            inbox_prefix=service_inbox(T, "portal"))  # fmt: skip
    portal = BusClient(nc, home=T)
    try:
        contact = Actor(id="kati@remote.ee", role="sme", region=T, sme_id="no-seat")
        with pytest.raises(Refused) as answered:
            await portal.call(m.LIST_PARTICIPANTS, m.ListParticipants(event_id=event.event_id),
                              H, actor=contact)  # fmt: skip
        assert answered.value.code == "forbidden", answered.value
    finally:
        await portal.close()
    log = r.nats.log_path.read_text(errors="replace")
    assert not [line for line in log.splitlines() if "Violation" in line and "portal" in line]
