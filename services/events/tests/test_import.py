"""`mapnet events import` (CSV, JSON, .ics) and the demo calendar against real servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import events as c
from mapnet.runtime.bus import BusClient
from services.events.entrypoints.demo import demo_calendar
from services.events.entrypoints.loader import Defaults, loader, read_rows

pytestmark = pytest.mark.usefixtures("region_app")

CSV = """partner_id,external_id,kind,title,starts_at,ends_at,timezone,city,country,clusters,topics
tehnopol,t-1,conference,Photonics Days,2031-05-05T09:00,2031-05-05T17:00,Europe/Tallinn,\
Tallinn,EE,photonics,lasers;optics
tehnopol,t-2,conference,Ends Before Start,2031-05-05T09:00,2031-05-05T08:00,Europe/Tallinn,\
Tallinn,EE,,
tehnopol,t-3,party,Unknown Kind,2031-05-05T09:00,2031-05-05T17:00,Europe/Tallinn,Tallinn,EE,,
tehnopol,t-4,webinar,Export Webinar,2031-05-06T10:00,2031-05-06T11:00,Europe/Tallinn,,EE,,export
"""

ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Science Park//Events//EN
BEGIN:VEVENT
UID:sp-100@sciencepark.example
SUMMARY:Cleantech Breakfast
DTSTART;TZID=Europe/Helsinki:20310310T080000
DTEND;TZID=Europe/Helsinki:20310310T100000
LOCATION:Otaniemi
CATEGORIES:cluster_workshop,cleantech
END:VEVENT
BEGIN:VEVENT
UID:sp-101@sciencepark.example
SUMMARY:Investor Day
DTSTART:20310311T070000Z
DTEND:20310311T150000Z
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:sp-102@sciencepark.example
SUMMARY:No start
END:VEVENT
END:VCALENDAR
"""


async def test_csv_and_json_import_report_bad_rows_and_reimport_adds_nothing(
    tmp_path: Path, client: BusClient, region: str
) -> None:
    path = tmp_path / "calendar.csv"
    path.write_text(CSV)
    load = loader(Defaults())
    first = await load(client, region, read_rows(path))
    assert [line for line, _ in first.loaded] == [2, 5], first.rejected
    rejected = dict(first.rejected)
    assert "data.ends_at" in rejected[3] and "kind" in rejected[4]

    again = await load(client, region, read_rows(path))
    assert again.loaded == first.loaded
    page = await client.call(c.LIST_CALENDAR, c.ListCalendar(), region)
    assert [(e.title, e.version) for e in page.items] == [
        ("Photonics Days", 1),
        ("Export Webinar", 1),
    ]
    assert page.items[0].topics == ["lasers", "optics"]

    as_json = tmp_path / "calendar.json"
    as_json.write_text(json.dumps([{**page.items[0].model_dump(mode="json"), "title": "PD 31"}]))
    fields = set(c.PublishEvent.model_fields)
    record = {k: v for k, v in json.loads(as_json.read_text())[0].items() if k in fields}
    as_json.write_text(json.dumps([record, "not an object"]))
    report = await load(client, region, read_rows(as_json))
    assert [line for line, _ in report.loaded] == [1] and report.rejected[0][0] == 2
    got = await client.call(c.GET_EVENT, c.GetEvent(event_id=first.loaded[0][1]), region)
    assert (got.title, got.version) == ("PD 31", 2)


async def test_ics_import_takes_zones_categories_and_status(
    tmp_path: Path, client: BusClient, region: str
) -> None:
    path = tmp_path / "park.ics"
    path.write_bytes(ICS)
    report = await loader(Defaults(partner_id="otaniemi", kind="conference", country="FI"))(
        client, region, read_rows(path)
    )
    assert [n for n, _ in report.loaded] == [1, 2]
    assert [n for n, _ in report.rejected] == [3]
    page = await client.call(c.LIST_CALENDAR, c.ListCalendar(), region)
    breakfast, investors = page.items
    assert breakfast.kind == "cluster_workshop" and breakfast.topics == ["cleantech"]
    assert breakfast.timezone == "Europe/Helsinki" and breakfast.starts_at.hour == 8
    assert breakfast.starts_at_utc.hour == 6
    assert investors.kind == "conference" and investors.status == "cancelled"
    assert investors.timezone == "UTC" and investors.starts_at.hour == 7


async def test_demo_calendar_loads_completely(client: BusClient, region: str) -> None:
    rows = list(enumerate(demo_calendar(region), start=1))
    report = await loader(Defaults())(client, region, rows)
    assert not report.rejected
    page = await client.call(c.LIST_CALENDAR, c.ListCalendar(limit=100), region)
    kinds = {e.kind for e in page.items}
    assert {"brokerage_event", "training_course", "conference"} <= kinds
    assert len({e.country for e in page.items}) >= 5
