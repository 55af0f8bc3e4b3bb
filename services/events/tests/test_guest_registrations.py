"""An SME's registrations at other regions' events, in one region on the real bus and nx-27017:
as host, the region tells a guest SME's home every change of its registration (shared
guest_registration_changed, no person), never about its own SMEs; as home, it keeps its own
SMEs' copies newest-wins, drops an erased SME's for good, and lists them with the SME's own
registrations, newest first, with one cursor, ``upcoming`` and ``include_cancelled`` applying
to both. (Two regions on a real hub: tests/test_guests_across_regions.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import events as c
from contracts import registry as rg
from contracts.common import SmeRef
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.events.adapters.away import AwayRegistrations
from services.events.adapters.repository import EntryRepository
from services.events.domain.calendar import entry_id
from services.events.tests.test_events_bus import course, entry
from services.events.tests.test_who_may import contact, refused_with, signing_up, someone
from tests.fixtures import Servers
from tests.helpers import eventually, published
from tests.three_regions import an_sme

pytestmark = pytest.mark.usefixtures("region_app")
PERSON = {"person_name", "email", "language"}


def cancelling(registration: c.Registration) -> c.CancelRegistration:
    return c.CancelRegistration(registration_id=registration.registration_id)


async def test_the_host_tells_a_guest_smes_home_every_change_and_nothing_of_its_own(
    servers: Servers, client: BusClient, region: str
) -> None:
    """One seat: this region's SME takes it, two SMEs of Riga wait. The seat given back, the
    first guest is promoted and the second moves up to first; the second cancels. Each change
    of a guest's registration is told, with its version; the host's own SME's never is."""
    own = SmeRef(sme_id="own", region=region)
    first, second = SmeRef(sme_id="g1", region="riga"), SmeRef(sme_id="g2", region="riga")
    full = await client.call(c.PUBLISH_EVENT, course("one-seat", capacity=1), region)
    seat = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(full.event_id, "own@o.ee", own), region
    )
    a = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(full.event_id, "a@g.lv", first), region
    )
    b = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(full.event_id, "b@g.lv", second), region
    )
    assert (a.status, a.position, b.status, b.position) == ("waitlisted", 1, "waitlisted", 2)
    await client.call(c.CANCEL_REGISTRATION, cancelling(seat), region)
    await client.call(c.CANCEL_REGISTRATION, cancelling(b), region)

    async def told() -> list[dict[str, Any]]:
        every = await published(servers.nats_url, c.GUEST_REGISTRATION_CHANGED, region)
        return [t for t in every if t["registration"]["event_id"] == full.event_id]

    facts = await eventually(told, until=lambda found: len(found) >= 5)
    said = [(t["registration"]["registration_id"], t["registration"]["status"],
             t["registration"]["position"], t["version"]) for t in facts]  # fmt: skip
    a_id, b_id = a.registration_id, b.registration_id
    assert sorted(said, key=lambda s: (s[0] != a_id, s[3])) == [
        (a_id, "waitlisted", 1, 2),  # version 1: pending, before its place was known
        (a_id, "confirmed", None, 3),
        (b_id, "waitlisted", 2, 2),
        (b_id, "waitlisted", 1, 3),  # moved up when the first was promoted
        (b_id, "cancelled", None, 4),
    ]
    assert all(t["region"] == region for t in facts)
    assert {t["registration"]["sme"]["region"] for t in facts} == {"riga"}  # never its own
    assert not any(PERSON & set(t["registration"]) for t in facts)  # never a person
    assert "mari" not in str(facts).lower() and "@" not in str(facts)
    assert c.GUEST_REGISTRATION_CHANGED.network


def told(fact: dict[str, Any], version: int, host: str = "helsinki") -> c.GuestRegistration:
    return c.GuestRegistration.model_validate(
        {"registration": fact, "region": host, "version": version}
    )


def fact(rid: str, event_id: str, sme: SmeRef, at: datetime, **extra: Any) -> dict[str, Any]:
    return {"registration_id": rid, "event_id": event_id, "sme": sme.model_dump(),
            "status": "confirmed", "registered_at": at.isoformat()} | extra  # fmt: skip


async def copy_of(
    settings: Settings, region: str, host: str, external_id: str, **extra: Any
) -> c.CalendarEntry:
    """Another region's network entry, as this region's calendar keeps a copy of it."""
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "events")
    now = datetime.now(UTC)
    starts, ends = now + timedelta(days=30), now + timedelta(days=30, hours=8)
    view = c.CalendarEntry.model_validate(
        entry(external_id).model_dump(mode="json") | {
            "event_id": entry_id(host, "tehnopol", external_id), "region": host, "version": 1,
            "starts_at_utc": starts, "ends_at_utc": ends, "updated_at": now} | extra
    )  # fmt: skip
    await EntryRepository(db, region).put_copy(view)
    return view


async def test_home_lists_its_smes_registrations_here_and_away_newest_first_with_one_cursor(
    client: BusClient, region: str, settings: Settings
) -> None:
    ours = SmeRef(sme_id="ours", region=region)
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "events")
    away = AwayRegistrations(db, region)
    here = await client.call(c.PUBLISH_EVENT, entry("here"), region)
    ahead = await copy_of(settings, region, "helsinki", "ahead")
    past = datetime.now(UTC) - timedelta(days=2)
    over = await copy_of(settings, region, "berlin", "over", starts_at_utc=past,
                         ends_at_utc=past + timedelta(hours=8))  # fmt: skip
    at = datetime.now(UTC) - timedelta(hours=1)
    # Three facts from hosts, each told twice and one late: the newest version stays.
    await away.keep(told(fact("h1", ahead.event_id, ours, at, status="waitlisted", position=3), 2))
    await away.keep(told(fact("h1", ahead.event_id, ours, at, status="waitlisted", position=2), 3))
    await away.keep(told(fact("h1", ahead.event_id, ours, at, status="waitlisted", position=3), 2))
    berlin = fact("b1", over.event_id, ours, at - timedelta(hours=1))
    await away.keep(told(berlin, 2, host="berlin"))
    await away.keep(told(berlin, 2, host="berlin"))
    left = fact("h2", ahead.event_id, ours, at - timedelta(hours=2), status="cancelled")
    await away.keep(told(left, 4))
    # Not ours: another region's SME, and a fact this region told about itself.
    await away.keep(told(fact("x1", ahead.event_id, SmeRef(sme_id="ours", region="riga"), at), 2))
    await away.keep(told(fact("x2", here.event_id, ours, at), 2, host=region))
    seat = await client.call(
        c.REGISTER_PARTICIPANT, signing_up(here.event_id, "mari@o.ee", ours), region
    )  # the newest
    mari = contact(region, "ours", "mari@o.ee")

    async def listed(**query: Any) -> list[tuple[str, str, str, int | None]]:
        rows: list[tuple[str, str, str, int | None]] = []
        cursor: str | None = None
        while True:
            page = await client.call(
                c.LIST_SME_REGISTRATIONS,
                c.ListSmeRegistrations(sme=ours, limit=1, cursor=cursor, **query),
                region, actor=mari,
            )  # fmt: skip
            assert len(page.items) <= 1
            rows += [(r.registration_id, r.region, r.status, r.position) for r in page.items]
            if page.next_cursor is None:
                return rows
            cursor = page.next_cursor

    assert await listed() == [
        (seat.registration_id, region, "confirmed", None),
        ("h1", "helsinki", "waitlisted", 2),
        ("b1", "berlin", "confirmed", None),
    ]
    whole = await client.call(
        c.LIST_SME_REGISTRATIONS, c.ListSmeRegistrations(sme=ours), region, actor=mari
    )
    assert [r.registration_id for r in whole.items] == [r[0] for r in await listed()]
    assert whole.next_cursor is None
    assert not any(PERSON & set(r.model_dump()) for r in whole.items)
    assert [r[0] for r in await listed(upcoming=True)] == [seat.registration_id, "h1"]
    assert [r[0] for r in await listed(include_cancelled=True)] == [
        seat.registration_id, "h1", "b1", "h2"
    ]  # fmt: skip
    assert [r[0] for r in await listed(include_cancelled=True, upcoming=True)] == [
        seat.registration_id, "h1", "h2"
    ]  # fmt: skip
    # The same refusals as before: another SME's contact, staff of another region.
    query = c.ListSmeRegistrations(sme=ours)
    for actor in (contact(region, "theirs", "o@t.ee"), contact("helsinki", "ours", "m@o.ee"),
                  someone("helsinki", "map_staff")):  # fmt: skip
        refusal = await refused_with(client, c.LIST_SME_REGISTRATIONS, query, region, actor)
        assert refusal.code == "forbidden", actor


async def test_an_sme_erased_at_home_loses_its_copies_for_good(
    client: BusClient, region: str, settings: Settings
) -> None:
    sme = await client.call(rg.REGISTER_SME, an_sme("Erased Optics OÜ"), region)
    ours = SmeRef(sme_id=sme.sme_id, region=region)
    other = SmeRef(sme_id="kept", region=region)
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "events")
    away = AwayRegistrations(db, region)
    at = datetime.now(UTC)
    await away.keep(told(fact("e1", "helsinki-e", ours, at), 2))
    await away.keep(told(fact("k1", "helsinki-e", other, at), 2))
    staff = someone(region, "map_staff")

    async def listed(of: SmeRef) -> list[str]:
        page = await client.call(
            c.LIST_SME_REGISTRATIONS, c.ListSmeRegistrations(sme=of), region, actor=staff
        )
        return [r.registration_id for r in page.items]

    assert await listed(ours) == ["e1"]
    await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=sme.sme_id, reason="asked"), region)
    await eventually(lambda: listed(ours), until=lambda ids: ids == [])
    # A host's later fact does not bring it back; another SME's copies stay.
    await away.keep(told(fact("e1", "helsinki-e", ours, at, status="cancelled"), 3))
    await away.keep(told(fact("e2", "helsinki-e", ours, at), 2))
    assert (
        await db["away_registrations"].count_documents({"sme_key": f"{region}:{sme.sme_id}"}) == 0
    )
    assert await listed(other) == ["k1"]
