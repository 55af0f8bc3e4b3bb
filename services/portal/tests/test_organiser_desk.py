"""The organiser's desk without servers: who may open an event's desk, the home page's list of
events, check-in's filter, the statistics (no-shows, per organisation) and the exports (CSV and
XLSX, formula-safe)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from contracts import events as ev
from contracts import matching as mt
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from services.portal.adapters.exports import Table, csv_bytes, xlsx_bytes
from services.portal.service_layer.organiser import (
    Desk,
    checkin_rows,
    day_index,
    meetings_table,
    participants_table,
    statistics_of,
    statistics_table,
    unplaced_rows,
)

REGION = "tallinn"
START = datetime(2027, 3, 2, 7, 0, tzinfo=UTC)
PUBLIC = Actor(id="portal/tallinn", role="service", region=REGION)


def event(event_id: str = "e1", region: str = REGION, title: str = "Brokerage Day",
          days: int = 2) -> ev.EventDetails:  # fmt: skip
    setup = ev.BrokerageSetup(
        days=[START.date() + timedelta(days=d) for d in range(days)],
        day_start="09:00",
        slots_per_day=2,
        slot_minutes=30,
        tables=1,
        registration_deadline=START - timedelta(days=3),
        max_meetings_per_participant=1,
    )
    return ev.EventDetails.model_validate(
        {
            "event_id": event_id,
            "region": region,
            "partner_id": "map-tallinn",
            "external_id": event_id,
            "kind": "brokerage_event",
            "title": title,
            "timezone": "Europe/Tallinn",
            "country": "EE",
            "city": "Tallinn",
            "starts_at": "2027-03-02T09:00:00",
            "ends_at": "2027-03-03T10:00:00",
            "starts_at_utc": START,
            "ends_at_utc": START + timedelta(days=1, hours=1),
            "status": "published",
            "version": 1,
            "updated_at": START,
            "brokerage": setup,
            "slots": [s.model_dump() for s in setup.slots()],
        }
    )


def sme(n: int) -> SmeRef:
    return SmeRef(sme_id=f"sme-{n}", region=REGION)


def registration(n: int, status: str = "confirmed", attended: list[int] | None = None,
                 name: str | None = None) -> ev.Registration:  # fmt: skip
    return ev.Registration(
        registration_id=f"r{n}",
        event_id="e1",
        person_name=name or f"Person {n}",
        email=f"p{n}@example.ee",
        sme=sme(n),
        status=status,
        attended_sessions=attended or [],
        registered_at=START - timedelta(days=10),
    )


def meeting(mid: str, a: int, b: int, status: str = "accepted", outcome: str | None = None,
            slot: int | None = None) -> mt.Meeting:  # fmt: skip
    return mt.Meeting(
        meeting_id=mid,
        event_id="e1",
        requester=sme(a),
        receiver=sme(b),
        status=status,
        priority=2,
        remote=False,
        slot=slot,
        table=0 if slot is not None else None,
        outcome=outcome,
    )


NAMES = {f"{REGION}:sme-{n}": name for n, name in enumerate(["Photon OÜ", "Laser AB", "=Evil"])}


class Answers:
    """The services' answers by operation (a stand-in for the bus: the desk's own rules are
    tested here; the services' checks are tested over the real bus)."""

    def __init__(self, **answers: Any) -> None:
        self.answers, self.asked = answers, list[str]()

    async def __call__(self, op: Any, data: Any, actor: Actor, /) -> Any:
        self.asked.append(op.name)
        answer = self.answers[op.name]
        result = answer(data) if callable(answer) else answer
        if isinstance(result, Refused):
            raise result
        return result


async def test_an_organiser_opens_only_their_events_and_staff_only_their_regions() -> None:
    here, there = event("e1"), event("e2", region="riga")
    call = Answers(get_event=lambda q: {"e1": here, "e2": there}[q.event_id])
    desk = Desk(call, REGION)
    organiser = Actor(id="o@x.ee", role="organiser", region=REGION, event_ids=["e1"])
    assert (await desk.event("e1", organiser, PUBLIC)).title == "Brokerage Day"
    with pytest.raises(Refused) as other:
        await desk.event("e2", organiser, PUBLIC)  # not given to them: refused before reading it
    assert other.value.code == "forbidden" and call.asked == ["get_event"]
    staff = Actor(id="s@x.ee", role="map_staff", region=REGION)
    assert (await desk.event("e1", staff, PUBLIC)).event_id == "e1"
    with pytest.raises(Refused) as elsewhere:  # another region's event, on the network calendar
        await desk.event("e2", staff, PUBLIC)
    assert elsewhere.value.code == "forbidden"
    for role in ("sme", "steering"):
        with pytest.raises(Refused):
            await desk.event("e1", Actor(id="x@x.ee", role=role, region=REGION), PUBLIC)


async def test_the_home_page_lists_an_organisers_events_by_date_with_titles() -> None:
    later = event("e1", title="Autumn Brokerage").model_copy(
        update={"starts_at_utc": START + timedelta(days=200)}
    )
    sooner = event("e2", title="Spring Brokerage")

    def found(q: ev.GetEvent) -> Any:
        return {"e1": later, "e2": sooner}.get(q.event_id) or Refused("not_found", "gone")

    desk = Desk(Answers(get_event=found), REGION)
    organiser = Actor(id="o@x.ee", role="organiser", region=REGION, event_ids=["gone", "e1", "e2"])
    lines = await desk.events_of(organiser, PUBLIC)
    assert [(e.title, e.starts_at is not None) for e in lines] == [
        ("Spring Brokerage", True),
        ("Autumn Brokerage", True),
        ("gone", False),
    ]


def test_check_in_filters_by_every_word_of_name_or_organisation() -> None:
    regs = [registration(0, attended=[1]), registration(1), registration(2, status="waitlisted")]
    assert [r.person for r in checkin_rows(regs, NAMES, "", 0)] == ["Person 0", "Person 1"]
    assert [r.person for r in checkin_rows(regs, NAMES, "laser", 0)] == ["Person 1"]
    assert [r.person for r in checkin_rows(regs, NAMES, "person photon", 0)] == ["Person 0"]
    assert checkin_rows(regs, NAMES, "nobody", 0) == []
    # Present on the day chosen only.
    assert [r.present for r in checkin_rows(regs, NAMES, "", 1)] == [True, False]
    e = event()
    assert day_index(e, date(2027, 3, 3)) == 1
    assert day_index(e, date(2027, 1, 1)) == 0 and day_index(e, date(2028, 1, 1)) == 1


def test_statistics_count_no_shows_and_each_meeting_for_both_organisations() -> None:
    regs = [registration(0, attended=[0]), registration(1), registration(2),
            registration(3, status="waitlisted")]  # fmt: skip
    meetings = [
        meeting("m1", 0, 1, outcome="cooperation_possible", slot=0),
        meeting("m2", 0, 2, outcome="did_not_take_place", slot=1),
        meeting("m3", 1, 2),  # accepted, left out of the schedule
        meeting("m4", 2, 0, status="declined"),
    ]
    stats = statistics_of(regs, meetings, {"m1", "m2"}, NAMES)
    t = stats.total
    assert (t.registered, t.checked_in, t.no_shows, stats.waitlisted) == (3, 1, 2, 1)
    assert (t.requests, t.accepted, t.scheduled, t.held) == (4, 3, 2, 1)
    assert t.outcomes["cooperation_possible"] == 1 and t.outcomes["did_not_take_place"] == 1
    per = dict(stats.by_organisation)
    assert (per["Photon OÜ"].requests, per["Photon OÜ"].held, per["Photon OÜ"].no_shows) == (
        3,
        1,
        0,
    )
    assert (per["Laser AB"].accepted, per["Laser AB"].scheduled, per["Laser AB"].no_shows) == (
        2,
        1,
        1,
    )
    table = statistics_table(stats)
    assert table.rows[-1][:8] == ("(the event)", 3, 1, 2, 4, 3, 2, 1)


def test_exports_are_formula_safe_in_csv_and_xlsx_and_keep_numbers() -> None:
    words = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "fine"]
    table = Table("quotes", ("text", "count"), [(w, 5) for w in words])
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == [f"'{w}" for w in words[:-1]] + ["fine"]
    assert [r[1] for r in rows[1:]] == ["5"] * len(words)
    sheet = load_workbook(io.BytesIO(xlsx_bytes(table))).active
    assert sheet is not None
    cells = list(sheet.iter_rows(min_row=2, values_only=False))
    assert [c[0].value for c in cells] == [f"'{w}" for w in words[:-1]] + ["fine"]
    assert all(c[0].data_type == "s" for c in cells)  # text, never a formula
    assert [c[1].value for c in cells] == [5] * len(words)


def test_the_exports_carry_the_participants_meetings_and_outcomes() -> None:
    e = event()
    regs = [registration(0, attended=[0]), registration(2, name="=cmd|' /C calc'!A0")]
    people = participants_table(regs, NAMES, e.timezone)
    photon = next(row for row in people.rows if row[1] == "Person 0")
    assert photon[:5] == ("Photon OÜ", "Person 0", "p0@example.ee", "on_site", "confirmed")
    assert photon[6] == "1" and photon[7] == "2027-02-20 09:00"
    assert "'=cmd" in csv_bytes(people).decode("utf-8-sig")
    meetings = [meeting("m1", 0, 1, outcome="cooperation_possible", slot=1), meeting("m3", 1, 2)]
    both = meetings_table(meetings, NAMES, e)
    assert both.rows[0][:3] == ("Photon OÜ", "Laser AB", "accepted")
    assert both.rows[0][6:] == ("2027-03-02 09:30", 1, "cooperation_possible")
    assert len(meetings_table(meetings, NAMES, e, only_outcomes=True).rows) == 1


def test_the_unplaced_page_says_where_each_remedy_would_put_the_meeting() -> None:
    e = event()
    told = mt.UnplacedRequests(
        event_id="e1",
        version=2,
        placed=1,
        bound=1,
        items=[
            mt.UnplacedRequest(
                meeting_id="m3", requester=sme(1), receiver=sme(2), priority=2, remote=False,
                reasons=["no_table"], common_slots=4,
                remedies=[mt.UnplacedRemedy(changes=["one_more_table"], slot=1, table=1),
                          mt.UnplacedRemedy(changes=["one_more_slot"], slot=4, table=0)],
            )
        ],
    )  # fmt: skip
    view = unplaced_rows(told, e, NAMES)
    [row] = view.rows
    assert (row.requester, row.receiver) == ("Laser AB", "=Evil")
    table, slot = row.remedies
    assert table.at == e.slots[1].starts_at and table.table == 2 and table.added_table
    assert slot.at is None and slot.table == 1 and not slot.added_table
    assert view.could_place_more == 0 and view.cap == 1 and view.tables == 1
