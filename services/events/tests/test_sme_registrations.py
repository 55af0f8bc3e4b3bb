"""An SME's registrations ("my events"), over the real bus: its seats and waitlist places with
the place as it now is, newest first, a page at a time; cancelled ones only when asked for;
listed to its own contacts and this region's staff only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts import events as c
from contracts.common import SmeRef
from mapnet.runtime.bus import BusClient
from services.events.tests.test_events_bus import course, entry
from services.events.tests.test_who_may import contact, refused_with, someone

pytestmark = pytest.mark.usefixtures("region_app")


def signing_up(event_id: str, email: str, sme: SmeRef) -> c.RegisterParticipant:
    return c.RegisterParticipant(event_id=event_id, person_name="Mari", email=email, sme=sme)


async def test_a_contact_lists_their_smes_seats_and_waitlist_places(
    client: BusClient, region: str
) -> None:
    ours, theirs = SmeRef(sme_id="ours", region=region), SmeRef(sme_id="theirs", region=region)
    full = await client.call(c.PUBLISH_EVENT, course("full", capacity=1), region)
    fair = await client.call(c.PUBLISH_EVENT, entry("fair"), region)
    left = await client.call(c.PUBLISH_EVENT, entry("left"), region)
    await client.call(c.REGISTER_PARTICIPANT, signing_up(full.event_id, "o@t.ee", theirs), region)
    waiting = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(full.event_id, "mari@o.ee", ours), region
    )
    seat = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(fair.event_id, "mari@o.ee", ours), region
    )
    gone = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(left.event_id, "jaan@o.ee", ours), region
    )
    await client.call(
        c.CANCEL_REGISTRATION, c.CancelRegistration(registration_id=gone.registration_id), region
    )
    mari = contact(region, "ours", "mari@o.ee")

    page = await client.call(
        c.LIST_SME_REGISTRATIONS, c.ListSmeRegistrations(sme=ours), region, actor=mari
    )
    assert [(r.event_id, r.status, r.position) for r in page.items] == [
        (fair.event_id, "confirmed", None),
        (full.event_id, "waitlisted", 1),
    ]
    assert waiting.status == "waitlisted" and seat.status == "confirmed"
    assert page.next_cursor is None
    # A page at a time, never cut: the cursor leads to the rest.
    first = await client.call(
        c.LIST_SME_REGISTRATIONS, c.ListSmeRegistrations(sme=ours, limit=1), region, actor=mari
    )
    assert len(first.items) == 1 and first.next_cursor
    rest = await client.call(
        c.LIST_SME_REGISTRATIONS,
        c.ListSmeRegistrations(sme=ours, limit=1, cursor=first.next_cursor),
        region,
        actor=mari,
    )
    assert [r.event_id for r in first.items + rest.items] == [i.event_id for i in page.items]
    every = await client.call(
        c.LIST_SME_REGISTRATIONS,
        c.ListSmeRegistrations(sme=ours, include_cancelled=True),
        region,
        actor=mari,
    )
    assert {r.event_id: r.status for r in every.items}[left.event_id] == "cancelled"
    # This region's staff list them too.
    staff = someone(region, "map_staff")
    listed = await client.call(
        c.LIST_SME_REGISTRATIONS, c.ListSmeRegistrations(sme=ours), region, actor=staff
    )
    assert len(listed.items) == 2


async def test_nobody_else_lists_an_smes_registrations(client: BusClient, region: str) -> None:
    ours = SmeRef(sme_id="ours", region=region)
    fair = await client.call(c.PUBLISH_EVENT, entry("fair"), region)
    await client.call(c.REGISTER_PARTICIPANT, signing_up(fair.event_id, "mari@o.ee", ours), region)
    query = c.ListSmeRegistrations(sme=ours)
    others = [
        contact(region, "theirs", "o@t.ee"),  # another SME's contact
        contact("riga", "ours", "mari@o.ee"),  # a contact of an SME of that id elsewhere
        someone("riga", "map_staff"),  # another region's staff
        someone(region, "organiser", event_ids=[fair.event_id]),
        someone(region, "steering"),
        someone(region, "operator"),
    ]
    for actor in others:
        refusal = await refused_with(client, c.LIST_SME_REGISTRATIONS, query, region, actor)
        assert refusal.code == "forbidden", actor


async def test_upcoming_leaves_out_the_events_that_are_over(client: BusClient, region: str) -> None:
    """The home page asks only for the events not over yet: an event that ended (its end in
    UTC before now) is left out with the flag, and kept without it ("My events" lists every
    one); a page of the flag is still a page, its cursor leading to the rest."""
    ours = SmeRef(sme_id="ours", region=region)
    ahead = [await client.call(c.PUBLISH_EVENT, entry(f"ahead-{n}"), region) for n in range(3)]
    ended = await client.call(c.PUBLISH_EVENT, entry("ended"), region)
    for n, event in enumerate([ended, *ahead]):
        await client.call(
            c.REGISTER_PARTICIPANT, signing_up(event.event_id, f"p{n}@o.ee", ours), region
        )
    # Its publisher moves the event into the past (it ended yesterday) once the SME is
    # registered: an event that is over cannot be registered for.
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    await client.call(
        c.PUBLISH_EVENT,
        entry("ended", starts_at=f"{yesterday}T10:00:00", ends_at=f"{yesterday}T17:00:00"),
        region,
    )
    mari = contact(region, "ours", "mari@o.ee")

    every = await client.call(
        c.LIST_SME_REGISTRATIONS, c.ListSmeRegistrations(sme=ours), region, actor=mari
    )
    assert ended.event_id in {r.event_id for r in every.items} and len(every.items) == 4
    coming = await client.call(
        c.LIST_SME_REGISTRATIONS, c.ListSmeRegistrations(sme=ours, upcoming=True), region,
        actor=mari,
    )  # fmt: skip
    assert {r.event_id for r in coming.items} == {e.event_id for e in ahead}
    # Paged: two, then the third, never the one that is over.
    first = await client.call(
        c.LIST_SME_REGISTRATIONS, c.ListSmeRegistrations(sme=ours, upcoming=True, limit=2),
        region, actor=mari,
    )  # fmt: skip
    assert len(first.items) == 2 and first.next_cursor
    rest = await client.call(
        c.LIST_SME_REGISTRATIONS,
        c.ListSmeRegistrations(sme=ours, upcoming=True, limit=2, cursor=first.next_cursor),
        region, actor=mari,
    )  # fmt: skip
    assert [r.event_id for r in first.items + rest.items] == [r.event_id for r in coming.items]
    assert rest.next_cursor is None
