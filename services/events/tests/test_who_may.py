"""Who may do what in the events service, over the real bus: an organiser changes, lists,
checks in and reads only their own events; staff act only in their own region and never
republish another region's entry; a contact registers only themself for their own SME and
cancels only their SME's registrations; a person's registrations are listed by address only
to them, this region's staff and the services."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import events as c
from contracts.access import Actor, Role
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from services.events.adapters.repository import EntryRepository
from services.events.service_layer.handlers import entry_id
from services.events.tests.test_events_bus import SOON, course, entry
from tests.fixtures import Servers

pytestmark = pytest.mark.usefixtures("region_app")


def someone(region: str, role: Role, ident: str = "x@example.ee", **extra: Any) -> Actor:
    return Actor(id=ident, role=role, region=region, **extra)


def contact(region: str, sme_id: str, email: str) -> Actor:
    return Actor(id=email, role="sme", region=region, sme_id=sme_id)


def signing_up(event_id: str, email: str, sme: SmeRef | None) -> c.RegisterParticipant:
    return c.RegisterParticipant(event_id=event_id, person_name="Mari", email=email, sme=sme)


async def refused_with(
    client: BusClient, op: Operation[Any, Any], data: Any, region: str, actor: Actor
) -> Refused:
    with pytest.raises(Refused) as refused:
        await client.call(op, data, region, actor=actor)
    return refused.value


async def test_an_organiser_changes_only_the_events_given_to_them(
    client: BusClient, region: str
) -> None:
    ours = await client.call(c.PUBLISH_EVENT, entry("ours"), region)
    theirs = await client.call(c.PUBLISH_EVENT, entry("theirs"), region)
    organiser = someone(region, "organiser", event_ids=[ours.event_id])
    changed = await client.call(
        c.PUBLISH_EVENT, entry("ours", title="Our Days"), region, actor=organiser
    )
    assert changed.version == 2
    for attempt in (entry("theirs", title="Taken over"), entry("new-one")):
        refusal = await refused_with(client, c.PUBLISH_EVENT, attempt, region, organiser)
        assert refusal.code == "forbidden"
    still = await client.call(c.GET_EVENT, c.GetEvent(event_id=theirs.event_id), region)
    assert (still.title, still.version) == (theirs.title, 1)
    cancel = c.CancelEvent(event_id=theirs.event_id, reason="mine now")
    refusal = await refused_with(client, c.CANCEL_EVENT, cancel, region, organiser)
    assert refusal.code == "forbidden"


async def test_staff_publish_only_their_own_regions_entries(
    servers: Servers, client: BusClient, region: str
) -> None:
    # Riga's entry as this region keeps its read copy (what the network stream brings).
    riga = entry("riga-1", partner_id="riga-park").model_dump()
    copy = c.CalendarEntry.model_validate(
        riga
        | {
            "event_id": entry_id("riga", "riga-park", "riga-1"),
            "region": "riga",
            "version": 1,
            "starts_at_utc": SOON,
            "ends_at_utc": SOON,
            "updated_at": SOON,
        }
    )
    await EntryRepository(mongo.database(mongo.client(servers.mongo_url), region, "events"),
                          region).put_copy(copy)  # fmt: skip
    staff = someone(region, "map_staff", "staff@here.example")
    hijack = entry("riga-1", partner_id="riga-park", title="Republished as ours")
    refusal = await refused_with(client, c.PUBLISH_EVENT, hijack, region, staff)
    assert refusal.code == "not_home" and refusal.details["region"] == "riga"
    page = await client.call(c.LIST_CALENDAR, c.ListCalendar(), region)
    assert [(e.title, e.region) for e in page.items] == [(copy.title, "riga")]
    # Staff of another region publish nothing here, nor cancel.
    own = await client.call(c.PUBLISH_EVENT, entry("own"), region, actor=staff)
    elsewhere = someone("riga", "map_admin", "admin@riga.example")
    refusal = await refused_with(client, c.PUBLISH_EVENT, entry("x"), region, elsewhere)
    assert refusal.code == "forbidden"
    cancel = c.CancelEvent(event_id=own.event_id, reason="x")
    assert (await refused_with(client, c.CANCEL_EVENT, cancel, region, elsewhere)).code == (
        "forbidden"
    )


async def test_an_organiser_lists_and_checks_in_only_at_their_own_events(
    client: BusClient, region: str
) -> None:
    ours = await client.call(c.PUBLISH_EVENT, course("ours"), region)
    theirs = await client.call(c.PUBLISH_EVENT, course("theirs"), region)
    there = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(theirs.event_id, "jaan@other.ee", None), region
    )
    here = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(ours.event_id, "mari@ours.ee", None), region
    )
    organiser = someone(region, "organiser", event_ids=[ours.event_id])
    listed = await client.call(
        c.LIST_REGISTRATIONS, c.ListRegistrations(event_id=ours.event_id), region, actor=organiser
    )
    assert [r.email for r in listed.items] == ["mari@ours.ee"]
    attempts: list[tuple[Operation[Any, Any], Any]] = [
        (c.LIST_REGISTRATIONS, c.ListRegistrations(event_id=theirs.event_id)),
        (c.RECORD_ATTENDANCE, c.RecordAttendance(registration_id=there.registration_id)),
        (c.CANCEL_REGISTRATION, c.CancelRegistration(registration_id=there.registration_id)),
        (c.REGISTER_PARTICIPANT, signing_up(theirs.event_id, "new@other.ee", None)),
    ]
    for op, data in attempts:
        assert (await refused_with(client, op, data, region, organiser)).code == "forbidden", op
    checked = await client.call(
        c.RECORD_ATTENDANCE,
        c.RecordAttendance(registration_id=here.registration_id),
        region,
        actor=organiser,
    )
    assert checked.attended_sessions == [0]
    untouched = await client.call(
        c.LIST_REGISTRATIONS, c.ListRegistrations(event_id=theirs.event_id), region
    )
    assert [(r.status, r.attended_sessions) for r in untouched.items] == [("confirmed", [])]
    # Staff of another region see no one's registrations here.
    elsewhere = someone("riga", "map_staff", "staff@riga.example")
    by_id = (c.GET_REGISTRATIONS, c.GetRegistrations(registration_ids=[here.registration_id]))
    for op, data in [*attempts[:2], by_id]:
        assert (await refused_with(client, op, data, region, elsewhere)).code == "forbidden", op


async def test_a_contact_registers_only_themself_for_their_own_sme(
    client: BusClient, region: str
) -> None:
    event = await client.call(c.PUBLISH_EVENT, course("c", capacity=10), region)
    ours, theirs = SmeRef(sme_id="ours", region=region), SmeRef(sme_id="theirs", region=region)
    mari = contact(region, "ours", "mari@ours.ee")
    attempts = [
        (signing_up(event.event_id, "mari@ours.ee", theirs), "data.sme"),
        (signing_up(event.event_id, "mari@ours.ee", None), "data.sme"),
        (signing_up(event.event_id, "mari@ours.ee", SmeRef(sme_id="ours", region="riga")),
         "data.sme"),
        (signing_up(event.event_id, "jaan@theirs.ee", ours), "data.email"),
    ]  # fmt: skip
    for data, field in attempts:
        refusal = await refused_with(client, c.REGISTER_PARTICIPANT, data, region, mari)
        assert refusal.code == "forbidden" and refusal.details["fields"][0]["field"] == field
    mine = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(event.event_id, "Mari@ours.ee", ours), region,
        actor=mari,
    )  # fmt: skip
    assert mine.status == "confirmed"
    listed = await client.call(
        c.LIST_REGISTRATIONS, c.ListRegistrations(event_id=event.event_id), region
    )
    assert [r.email.lower() for r in listed.items] == ["mari@ours.ee"]


async def test_a_contact_cancels_only_their_own_smes_registrations(
    client: BusClient, region: str
) -> None:
    event = await client.call(c.PUBLISH_EVENT, course("c", capacity=10), region)
    ours, theirs = SmeRef(sme_id="ours", region=region), SmeRef(sme_id="theirs", region=region)
    their_seat = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(event.event_id, "jaan@theirs.ee", theirs), region
    )
    anyone = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(event.event_id, "anna@nowhere.ee", None), region
    )
    colleague = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(event.event_id, "peeter@ours.ee", ours), region
    )
    mari = contact(region, "ours", "mari@ours.ee")
    for registration in (their_seat, anyone):
        cancel = c.CancelRegistration(registration_id=registration.registration_id)
        refusal = await refused_with(client, c.CANCEL_REGISTRATION, cancel, region, mari)
        assert refusal.code == "forbidden"
    listed = await client.call(
        c.LIST_REGISTRATIONS, c.ListRegistrations(event_id=event.event_id), region
    )
    assert {r.email: r.status for r in listed.items} == {
        "jaan@theirs.ee": "confirmed", "anna@nowhere.ee": "confirmed",
        "peeter@ours.ee": "confirmed",
    }  # fmt: skip
    done = await client.call(
        c.CANCEL_REGISTRATION,
        c.CancelRegistration(registration_id=colleague.registration_id),
        region,
        actor=mari,
    )
    assert done.status == "cancelled"


@pytest.mark.parametrize(
    "asker",
    [
        someone("tallinn", "partner", "acme"),
        someone("tallinn", "steering", "official@tallinn.example"),
        someone("tallinn", "organiser", "org@tallinn.example"),
        someone("tallinn", "operator", "mapnet/cli"),
        contact("tallinn", "theirs", "jaan@theirs.ee"),
        someone("riga", "map_admin", "admin@riga.example"),
    ],
    ids=lambda a: f"{a.role}-of-{a.region}",
)
async def test_a_persons_registrations_are_listed_only_to_them_and_the_regions_staff(
    client: BusClient, region: str, asker: Actor
) -> None:
    event = await client.call(c.PUBLISH_EVENT, entry("a", title="Mari's event"), region)
    await client.call(
        c.REGISTER_PARTICIPANT, signing_up(event.event_id, "mari@ours.ee", None), region
    )
    asked = c.GetIcal(email="mari@ours.ee")
    if asker.region == "tallinn":
        asker = asker.model_copy(update={"region": region})
    refusal = await refused_with(client, c.GET_ICAL, asked, region, asker)
    assert refusal.code == "forbidden"
    for allowed in (
        contact(region, "ours", "MARI@ours.ee"),
        someone(region, "map_staff", "staff@here.example"),
        someone(region, "service", f"portal/{region}"),
    ):
        feed = await client.call(c.GET_ICAL, asked, region, actor=allowed)
        assert "Mari's event" in feed.ical
