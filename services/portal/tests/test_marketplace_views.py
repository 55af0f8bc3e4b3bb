"""A contact's brokerage pages' view models without servers, the services played by a table of
answers: "My events" reads every page of registrations; the request form offers only the events
not over where both companies have a seat, and a request for any other event is refused before
anything is sent; the inbox tells received from sent and names the other company as the
marketplace may."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import events as ev
from contracts import matching as mt
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from services.portal.entrypoints import i18n
from services.portal.service_layer.marketplace import Marketplace, row

REGION = "tallinn"
ME = SmeRef(sme_id="me", region=REGION)
THEM = SmeRef(sme_id="them", region=REGION)
ELSE = SmeRef(sme_id="else", region=REGION)
ACTOR = Actor(id="mari@me.ee", role="sme", region=REGION, sme_id="me")
NOW = datetime.now(UTC)


def event(event_id: str, *, brokerage: bool = True, days: int = 10, **extra: Any) -> Any:
    starts = NOW + timedelta(days=days)
    setup = {"days": [starts.date().isoformat()], "day_start": "09:00", "slots_per_day": 4,
             "slot_minutes": 30, "tables": 2,
             "registration_deadline": (NOW + timedelta(days=1)).isoformat()}  # fmt: skip
    return ev.EventDetails.model_validate(
        {"partner_id": "map", "external_id": event_id, "kind": "brokerage_event", "title": event_id,
         "starts_at": starts.replace(tzinfo=None).isoformat(),
         "ends_at": (starts + timedelta(hours=2)).replace(tzinfo=None).isoformat(),
         "timezone": "UTC", "country": "EE", "event_id": event_id, "region": REGION,
         "version": 1, "starts_at_utc": starts.isoformat(),
         "ends_at_utc": (starts + timedelta(hours=2)).isoformat(), "updated_at": NOW.isoformat(),
         "brokerage": setup if brokerage else None}
        | ({"kind": "conference"} if not brokerage else {}) | extra
    )  # fmt: skip


def registration(event_id: str, status: str = "confirmed") -> ev.SmeRegistration:
    return ev.SmeRegistration(
        registration_id=f"r-{event_id}", event_id=event_id, sme=ME, status=status,
        position=1 if status == "waitlisted" else None, registered_at=NOW, region=ME.region,
    )  # fmt: skip


def participant(ref: SmeRef, name: str) -> mt.Participant:
    return mt.Participant(sme=ref, legal_name=name)


class Services:
    """The events and matching services as a table: each event, my registrations (two pages),
    who comes to which event, and the meetings; every request sent is kept."""

    def __init__(self) -> None:
        self.events = {
            "both": event("both"),
            "later": event("later", days=20),
            "only-me": event("only-me"),
            "waiting": event("waiting"),
            "over": event("over", days=-10),
            "cancelled": event("cancelled", status="cancelled"),
            "fair": event("fair", brokerage=False),
        }
        mine = ["both", "later", "only-me", "over", "cancelled", "fair"]
        self.registrations = [registration(e) for e in mine] + [
            registration("waiting", "waitlisted")
        ]
        self.at = {e: {ME.key, THEM.key} for e in ("both", "later", "over", "cancelled", "waiting")}
        self.at["only-me"] = {ME.key, ELSE.key}
        self.meetings = {
            "both": [
                mt.Meeting(meeting_id="m1", event_id="both", requester=THEM, receiver=ME,
                           status="requested", priority=2, remote=False, message="Hello"),
                mt.Meeting(meeting_id="m2", event_id="both", requester=ME, receiver=ELSE,
                           status="declined", priority=2, remote=False),
            ]
        }  # fmt: skip
        self.sent: list[tuple[str, Any]] = []

    async def __call__(self, op: Any, data: Any, actor: Actor, *, at: str | None = None) -> Any:
        self.sent.append((op.name, data))
        if op is ev.GET_EVENT:
            if data.event_id not in self.events:
                raise Refused("not_found", "no such event")
            return self.events[data.event_id]
        if op is ev.LIST_SME_REGISTRATIONS:  # two pages, to be read to the end
            half = len(self.registrations) // 2
            first = data.cursor is None
            items = self.registrations[:half] if first else self.registrations[half:]
            return ev.SmeRegistrationPage(items=items, next_cursor="next" if first else None)
        if op is mt.LIST_PARTICIPANTS:
            keys = self.at.get(data.event_id, set())
            if ME.key not in keys:
                raise Refused("forbidden", "no seat")
            names = {ME.key: "Me OÜ", THEM.key: "Them OÜ", ELSE.key: ""}
            refs = [r for r in (ME, THEM, ELSE) if r.key in keys]
            found = [participant(r, names[r.key]) for r in refs if data.sme in (None, r)]
            return mt.ParticipantPage(items=found, total=len(found), countries=[], clusters=[])
        if op is mt.LIST_MEETINGS:
            return mt.MeetingPage(items=self.meetings.get(data.event_id, []))
        if op is mt.REQUEST_MEETING:
            return mt.Meeting(meeting_id="new", event_id=data.event_id, requester=ME,
                              receiver=data.receiver, status="requested", priority=2,
                              remote=False)  # fmt: skip
        raise AssertionError(op.name)


LISTED = ev.LIST_SME_REGISTRATIONS.name


def test_my_events_are_every_page_of_registrations_soonest_first() -> None:
    services = Services()
    mine = asyncio.run(Marketplace(services).my_events(ME, ACTOR))
    assert len(mine) == len(services.registrations)
    # "My events" lists the past ones too: it asks for every event, not only those to come.
    assert all(not data.upcoming for name, data in services.sent if name == LISTED)
    assert [m.registration.event_id for m in mine][:2] == ["over", "both"]
    waiting = next(m for m in mine if m.registration.event_id == "waiting")
    assert not waiting.seated and waiting.brokerage


def test_the_form_offers_only_events_not_over_where_both_have_a_seat() -> None:
    services = Services()
    common, shown = asyncio.run(Marketplace(services).in_common(ME, THEM, ACTOR))
    assert [e.event_id for e in common] == ["both", "later"]
    # The events service leaves out the events over (the portal checks again, to the second).
    assert all(data.upcoming for name, data in services.sent if name == LISTED)
    assert shown is not None and shown.legal_name == "Them OÜ"
    stranger = SmeRef(sme_id="x", region=REGION)
    none, nobody = asyncio.run(Marketplace(Services()).in_common(ME, stranger, ACTOR))
    assert (none, nobody) == ([], None)


@pytest.mark.parametrize("event_id", ["only-me", "waiting", "over", "cancelled", "fair", "nope"])
def test_a_request_for_an_event_not_both_attend_is_refused_before_it_is_sent(event_id: str) -> None:
    services = Services()
    with pytest.raises(Refused) as refusal:
        asyncio.run(Marketplace(services).request(ME, THEM, event_id, "hi", 2, ACTOR))
    assert refusal.value.code == "validation_failed"
    assert refusal.value.details["fields"][0]["field"] == "data.event_id"
    assert "request_meeting" not in [name for name, _ in services.sent]


def test_a_company_does_not_ask_itself_and_a_common_event_is_sent() -> None:
    services = Services()
    with pytest.raises(Refused) as refusal:
        asyncio.run(Marketplace(services).request(ME, ME, "both", "", 2, ACTOR))
    assert refusal.value.code == "forbidden"
    done = asyncio.run(Marketplace(services).request(ME, THEM, "later", "hi", 3, ACTOR))
    assert done.event_id == "later"
    [asked] = [data for name, data in services.sent if name == "request_meeting"]
    assert (asked.requester, asked.receiver, asked.priority) == (ME, THEM, 3)


def test_the_inbox_tells_received_from_sent_and_names_whom_it_may() -> None:
    inbox = asyncio.run(Marketplace(Services()).inbox(ME, ACTOR))
    [received] = inbox.received
    assert (received.meeting.meeting_id, received.other_name, received.answerable) == (
        "m1", "Them OÜ", True
    )  # fmt: skip
    [sent] = inbox.sent
    # A company that shares nothing beyond its region has no name: the page says its region.
    assert (sent.meeting.meeting_id, sent.other_name, sent.answerable) == ("m2", "", False)


def test_the_report_form_is_offered_for_an_accepted_meeting_from_the_event_until_report_days() -> (
    None
):
    begun = event("begun", days=0)
    meeting = mt.Meeting(meeting_id="m", event_id="begun", requester=ME, receiver=THEM,
                         status="accepted", priority=2, remote=False)  # fmt: skip
    r = row(meeting, begun, ME, {})
    assert r.may_report(begun.starts_at_utc) and not r.may_report(
        begun.starts_at_utc - timedelta(1)
    )
    closes = begun.ends_at_utc + timedelta(days=mt.REPORT_DAYS)
    assert r.may_report(closes) and not r.may_report(closes + timedelta(seconds=1))
    reported = mt.OutcomeReport(by=ME, outcome="cooperation_possible", reported_at=NOW)
    done = row(meeting.model_copy(update={"reports": [reported]}), begun, ME, {})
    assert done.my_report == reported and not done.may_report(begun.starts_at_utc)
    asked = row(meeting.model_copy(update={"status": "requested"}), begun, ME, {})
    assert not asked.may_report(begun.starts_at_utc)


class HelsinkiAway(Services):
    """As Services, with one more event of the SME's hosted at Helsinki, which does not
    answer (Portal.call sends what is about that event to its host)."""

    def __init__(self) -> None:
        super().__init__()
        self.events["abroad"] = event("abroad", region="helsinki")
        self.registrations.append(registration("abroad"))
        self.at["abroad"] = {ME.key, THEM.key}

    async def __call__(self, op: Any, data: Any, actor: Actor, *, at: str | None = None) -> Any:
        if op in (mt.LIST_MEETINGS, mt.LIST_PARTICIPANTS) and data.event_id == "abroad":
            raise Refused("region_unavailable", "helsinki did not answer", region="helsinki")
        return await super().__call__(op, data, actor, at=at)


def test_a_host_region_out_of_reach_leaves_out_only_its_events_requests() -> None:
    inbox = asyncio.run(Marketplace(HelsinkiAway()).inbox(ME, ACTOR))
    # This region's events' requests are all there; Helsinki's are said to be missing.
    assert [r.meeting.meeting_id for r in inbox.received] == ["m1"]
    assert [r.meeting.meeting_id for r in inbox.sent] == ["m2"]
    assert inbox.out_of_reach == ["helsinki"]
    assert asyncio.run(Marketplace(Services()).inbox(ME, ACTOR)).out_of_reach == []


def test_the_inbox_page_names_the_region_out_of_reach() -> None:
    inbox = asyncio.run(Marketplace(HelsinkiAway()).inbox(ME, ACTOR))
    templates = i18n.environment(i18n.LOCALE.parent / "templates")
    page = templates.get_template("requests.html").render(
        inbox=inbox, region=REGION, **i18n.english().page_values()
    )
    assert "Helsinki is out of reach now: its requests are not shown." in page
    assert "Hello" in page  # this region's request is shown beside it
