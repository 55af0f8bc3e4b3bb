"""A brokerage event's marketplace over the real bus, fed by the real registry and events
services: its confirmed participants with their published profiles only (no draft, private or
withdrawn one, no personal data), filtered and paged; shown to the contacts of SMEs with a seat
at it, its organisers and this region's staff, refused to everyone else; and a meeting with a
company that is not at the event refused by matching itself."""

from __future__ import annotations

from typing import Any

import pytest
from stdnum.ee import registrikood

from contracts import events as ev
from contracts import matching as c
from contracts import registry as reg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.matching.tests.test_matching_bus import brokerage, profile, sme
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")


def code(n: int) -> str:
    """A valid Estonian registry code (the registry checks its check digit)."""
    base = f"1400{n:03d}"
    return next(base + d for d in "0123456789" if registrikood.is_valid(base + d))


async def registered(
    client: BusClient, region: str, n: int, name: str, *profiles: tuple[str, reg.ProfileInput],
    **extra: Any,
) -> SmeRef:  # fmt: skip
    view = await client.call(reg.REGISTER_SME, sme(name, code(n), **extra), region)
    for how, p in profiles:
        op = reg.PUBLISH_PROFILE if how == "publish" else reg.DRAFT_PROFILE
        await client.call(op, reg.PublishProfile(sme_id=view.sme_id, profile=p), region)
    return SmeRef(sme_id=view.sme_id, region=region)


def contact_of(ref: SmeRef, region: str | None = None) -> Actor:
    return Actor(id=f"c@{ref.sme_id}.ee", role="sme", region=region or ref.region,
                 sme_id=ref.sme_id)  # fmt: skip


async def market(client: BusClient, region: str) -> tuple[str, dict[str, SmeRef]]:
    seeker = await registered(
        client, region, 1, "Laser Seekers OÜ",
        ("publish", profile("technology_request", "Femtosecond laser for glass cutting",
                            "We need an ultrafast laser for thin glass")),
        clusters=["photonics"],
    )  # fmt: skip
    offer = await registered(
        client, region, 2, "Ultrafast Optics OÜ",
        ("publish", profile("technology_offer", "Ultrafast femtosecond laser source",
                            "Compact laser for cutting sapphire", keywords=["laser"])),
        ("draft", profile("business_offer", "Secret distribution plan", "Not yet")),
        ("publish", profile("business_request", "Private wish", "Only for us",
                            visibility="private")),
        clusters=["photonics", "ict"], country="EE",
    )  # fmt: skip
    coder = await registered(client, region, 3, "Baltic Code OÜ", clusters=["ict"])
    outsider = await registered(
        client, region, 4, "Outsider OÜ",
        ("publish", profile("technology_offer", "Laser too", "Not at the event")),
    )  # fmt: skip
    event = await client.call(ev.PUBLISH_EVENT, brokerage(), region)
    for i, ref in enumerate((seeker, offer, coder)):
        await client.call(ev.REGISTER_PARTICIPANT, ev.RegisterParticipant(
            event_id=event.event_id, person_name=f"Person {i}", email=f"c@{ref.sme_id}.ee",
            sme=ref), region)  # fmt: skip
    people = {"seeker": seeker, "offer": offer, "coder": coder, "outsider": outsider}

    async def ready() -> list[c.Participant]:
        try:
            page = await client.call(c.LIST_PARTICIPANTS, c.ListParticipants(
                event_id=event.event_id), region, actor=contact_of(seeker))  # fmt: skip
        except Refused:
            return []
        return page.items

    await eventually(
        ready, until=lambda items: len(items) == 3 and any(len(p.profiles) for p in items[2:])
    )
    return event.event_id, people


async def test_a_participant_sees_who_comes_with_published_profiles_only(
    client: BusClient, region: str
) -> None:
    event_id, p = await market(client, region)
    mine = contact_of(p["seeker"])

    async def listed(**filters: Any) -> c.ParticipantPage:
        query = c.ListParticipants(event_id=event_id, **filters)
        page: c.ParticipantPage = await client.call(c.LIST_PARTICIPANTS, query, region, actor=mine)
        return page

    page = await listed()
    assert [x.legal_name for x in page.items] == [
        "Baltic Code OÜ", "Laser Seekers OÜ", "Ultrafast Optics OÜ"
    ]  # fmt: skip
    assert (page.total, page.countries, page.clusters) == (3, ["EE"], ["ict", "photonics"])
    optics = page.items[2]
    assert [x.title for x in optics.profiles] == ["Ultrafast femtosecond laser source"]
    # No personal data anywhere in the answer: neither the people registered nor contacts.
    text = page.model_dump_json()
    assert "@" not in text and "Person" not in text
    assert [x.legal_name for x in (await listed(profile_type="technology_offer")).items] == [
        "Ultrafast Optics OÜ"
    ]
    assert [x.legal_name for x in (await listed(text="femtosecond sapphire")).items] == [
        "Ultrafast Optics OÜ"
    ]
    assert [x.legal_name for x in (await listed(cluster="photonics")).items] == [
        "Laser Seekers OÜ", "Ultrafast Optics OÜ"
    ]  # fmt: skip
    assert (await listed(country="FI")).items == []
    assert [x.sme for x in (await listed(sme=p["coder"])).items] == [p["coder"]]
    assert (await listed(sme=p["outsider"])).items == []
    # A page at a time, never cut.
    first = await listed(limit=2)
    assert len(first.items) == 2 and first.next_cursor and first.total == 3
    rest = await listed(limit=2, cursor=first.next_cursor)
    assert [x.legal_name for x in rest.items] == ["Ultrafast Optics OÜ"] and not rest.next_cursor
    # The event's organiser and this region's staff see it too.
    for actor in (
        Actor(id="org@x.ee", role="organiser", region=region, event_ids=[event_id]),
        Actor(id="staff@x.ee", role="map_staff", region=region),
    ):
        seen = await client.call(
            c.LIST_PARTICIPANTS, c.ListParticipants(event_id=event_id), region, actor=actor
        )
        assert seen.total == 3


async def test_the_marketplace_is_refused_to_everyone_not_at_the_event(
    client: BusClient, region: str
) -> None:
    event_id, p = await market(client, region)
    query = c.ListParticipants(event_id=event_id)
    others = [
        contact_of(p["outsider"]),  # another SME's contact, not at the event
        contact_of(p["seeker"], region="riga"),  # an SME of that id in another region
        Actor(id="org@x.ee", role="organiser", region=region, event_ids=["another"]),
        Actor(id="staff@riga.ee", role="map_staff", region="riga"),
        Actor(id="steering@x.ee", role="steering", region=region),
        Actor(id="ops@x.ee", role="operator", region=region),
    ]
    for actor in others:
        with pytest.raises(Refused) as refusal:
            await client.call(c.LIST_PARTICIPANTS, query, region, actor=actor)
        assert refusal.value.code == "forbidden", actor
    with pytest.raises(Refused) as refusal:
        await client.call(c.LIST_PARTICIPANTS, c.ListParticipants(event_id="no-such"), region)
    assert refusal.value.code == "not_found"


async def test_a_meeting_with_a_company_not_at_the_event_is_refused_by_matching(
    client: BusClient, region: str
) -> None:
    event_id, p = await market(client, region)
    for requester, receiver, field in (
        (p["seeker"], p["outsider"], "data.receiver"),
        (p["outsider"], p["seeker"], "data.requester"),
    ):
        asked = c.RequestMeeting(event_id=event_id, requester=requester, receiver=receiver)
        with pytest.raises(Refused) as refusal:
            await client.call(c.REQUEST_MEETING, asked, region, actor=contact_of(requester))
        assert refusal.value.code == "not_found"
        assert refusal.value.details["fields"][0]["field"] == field
