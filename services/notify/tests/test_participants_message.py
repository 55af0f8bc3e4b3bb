"""An organiser's one mail to an event's people (issue 31 item 12): to everyone with a seat, to
the waitlist, or to those without meetings; each person's preferences and unsubscribe link
respected; only the event's organiser and the region's staff may send it."""

from __future__ import annotations

import asyncio

import pytest

from contracts import notify as c
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.dev.mailbox import MailStore
from mapnet.runtime.bus import BusClient
from services.notify.domain.messages import audience, check_may_message
from services.notify.tests.test_mail import (
    brokerage_with,
    mails,
    parts,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("region_app")

ROWS = [
    {"email": "A@x.ee", "name": "A", "language": "en", "status": "confirmed", "sme_key": "t:1"},
    {"email": "a@x.ee", "name": "A", "language": "en", "status": "confirmed", "sme_key": "t:1"},
    {"email": "b@x.ee", "name": "B", "language": "en", "status": "confirmed", "sme_key": "t:2"},
    {"email": "c@x.ee", "name": "C", "language": "et", "status": "waitlisted", "sme_key": "t:3"},
    {"email": "d@x.ee", "name": "D", "language": "en", "status": "cancelled", "sme_key": "t:4"},
]


def test_the_audience_is_each_person_once_of_the_group_chosen() -> None:
    def emails(chosen: str, busy: set[str] = set()) -> list[str]:  # noqa: B006
        return [p.email.lower() for p in audience(ROWS, chosen, busy)]

    assert emails("confirmed") == ["a@x.ee", "b@x.ee"]
    assert emails("waitlisted") == ["c@x.ee"]
    assert emails("without_meetings", {"t:1"}) == ["b@x.ee"]


def test_only_the_events_organiser_and_the_regions_staff_may_write() -> None:
    here = "tallinn"
    check_may_message(Actor(id="o", role="organiser", region=here, event_ids=["e1"]), "e1", here)
    check_may_message(Actor(id="s", role="map_staff", region=here), "e1", here)
    for actor in (
        Actor(id="o", role="organiser", region=here, event_ids=["e2"]),
        Actor(id="s", role="map_staff", region="riga"),
    ):
        with pytest.raises(Refused) as refused:
            check_may_message(actor, "e1", here)
        assert refused.value.code == "forbidden"


async def test_an_organiser_writes_to_those_without_meetings_as_their_preferences_say(
    client: BusClient, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    names = [(f"Writer {n}", f"w{n}@example.lv") for n in range(3)]
    event, smes = await brokerage_with(client, region, "Writing Day", names, tables=2)
    await wait_for(store, "registration_confirmed", 3)
    # Writer 2 wants no such mail.
    await client.call(
        c.SET_PREFERENCES,
        c.SetPreferences(email="w2@example.lv", kinds={"participants_message": "never"}),
        region,
    )
    organiser = Actor(id="org@example.lv", role="organiser", region=region,
                      event_ids=[event.event_id])  # fmt: skip
    message = c.MessageParticipants(
        event_id=event.event_id, audience="without_meetings", subject="Lunch at 12",
        body="Lunch is served at 12:00 <b>in the hall</b>.", with_meetings=[smes[0]],
    )  # fmt: skip
    done = await client.call(c.MESSAGE_PARTICIPANTS, message, region, actor=organiser)
    assert done.addressed == 2  # writers 1 and 2; writer 0 has a meeting
    [sent] = await wait_for(store, "participants_message")
    assert sent["To"] == "w1@example.lv" and sent["Subject"] == "Writing Day: Lunch at 12"
    text, html = parts(sent)
    assert "Lunch is served at 12:00" in text and "&lt;b&gt;in the hall" in html
    assert "unsubscribe?" in text
    await asyncio.sleep(1.5)
    assert len(mails(store, "participants_message")) == 1  # writer 2 chose never

    for actor in (
        Actor(id="o@x.lv", role="organiser", region=region, event_ids=["another"]),
        Actor(id="staff@riga.example", role="map_staff", region="riga"),
        Actor(id="w0@example.lv", role="sme", region=region, sme_id="writer-0"),
    ):
        with pytest.raises(Refused) as refused:
            await client.call(c.MESSAGE_PARTICIPANTS, message, region, actor=actor)
        assert refused.value.code == "forbidden", actor.role
    assert len(mails(store, "participants_message")) == 1
