"""The MAP office's exports without servers (issue 31 item 14): the registry with the table's
filters holds every row they match (the cursors followed to the end, never cut), formula-like
text kept as text in CSV and XLSX; the indicators as a table; refused to every role but the
region's staff (the indicators: staff and steering) and to another region's, before asking."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook

from contracts import matching as mt
from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused
from services.portal.adapters.exports import csv_bytes, xlsx_bytes
from services.portal.service_layer.office import Office

REGION = "tallinn"
STAFF = Actor(id="s@x.ee", role="map_staff", region=REGION)


def summary(n: int, name: str | None = None) -> rg.SmeSummary:
    return rg.SmeSummary(
        sme_id=f"sme-{n:03}", region=REGION, legal_name=name or f"Firm {n} OÜ", country="EE",
        nace_codes=["62.01"], clusters=["ict"], size_class="micro", growth_class="neither",
        stage="identified",
    )  # fmt: skip


class Registry:
    """search_smes over 250 SMEs, a page of at most query.limit, with a cursor to the next."""

    def __init__(self) -> None:
        self.smes = [summary(n, "=HYPERLINK(\"http://evil\")" if n == 7 else None)
                     for n in range(250)]  # fmt: skip
        self.asked: list[rg.SearchSmes] = []

    async def __call__(self, op: Any, data: Any, actor: Actor, /) -> Any:
        assert op is rg.SEARCH_SMES
        self.asked.append(data)
        start = int(data.cursor or 0)
        page = self.smes[start : start + data.limit]
        after = start + data.limit
        return rg.SmePage(items=page, next_cursor=str(after) if after < len(self.smes) else None)


async def test_the_registry_export_holds_every_row_the_filters_match() -> None:
    registry = Registry()
    filters = rg.SearchSmes(country="EE", stage="identified", cluster="ict", limit=50)
    table = await Office(registry, REGION).registry(filters, STAFF)
    assert len(table.rows) == 250  # three pages of 100, not the table's 50
    assert len(registry.asked) == 3
    asked = {(q.country, q.stage, q.cluster) for q in registry.asked}
    assert asked == {("EE", "identified", "ict")}
    assert [q.cursor for q in registry.asked] == [None, "100", "200"]
    written = list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8-sig"))))
    assert written[0][:2] == ["sme_id", "legal_name"] and len(written) == 251
    assert written[8][1] == '\'=HYPERLINK("http://evil")'  # kept as text
    sheet = load_workbook(io.BytesIO(xlsx_bytes(table))).active
    assert sheet is not None and sheet.max_row == 251
    cell = sheet.cell(row=9, column=2)
    assert cell.data_type == "s" and str(cell.value).startswith("'=")


@pytest.mark.parametrize(
    "actor",
    [
        Actor(id="c@x.ee", role="sme", region=REGION, sme_id="sme-001"),
        Actor(id="o@x.ee", role="organiser", region=REGION, event_ids=["e1"]),
        Actor(id="st@x.ee", role="steering", region=REGION),
        Actor(id="s@riga.lv", role="map_staff", region="riga"),
        Actor(id="a@riga.lv", role="map_admin", region="riga"),
    ],
)
async def test_the_registry_export_is_refused_before_asking(actor: Actor) -> None:
    registry = Registry()
    with pytest.raises(Refused) as refused:
        await Office(registry, REGION).registry(rg.SearchSmes(), actor)
    assert refused.value.code == "forbidden" and registry.asked == []


KPIS = rg.Kpis(
    region=REGION, period_from=date(2027, 1, 1), period_to=date(2027, 6, 30),
    total=rg.KpiCounts(identified=12, success_stories=2),
    by_cluster={"ict": rg.KpiCounts(identified=7), "+cleantech": rg.KpiCounts(identified=5)},
    by_market={"DE": rg.KpiCounts(trade_show_presentations=1)},
)  # fmt: skip
MEETINGS = mt.MeetingKpis(
    region=REGION,
    total=mt.MeetingCounts(contacts_brokered=9, meetings_held=6, cooperation_possible=2),
    by_region={}, by_cluster={"ict": mt.MeetingCounts(contacts_brokered=3, meetings_held=2,
                                                       cooperation_possible=1)},
)  # fmt: skip


async def indicators_answer(op: Any, data: Any, actor: Actor, /) -> Any:
    return KPIS if op is rg.GET_KPIS else MEETINGS


async def test_the_indicators_as_a_table_for_staff_and_steering() -> None:
    period = rg.GetKpis(period_from=date(2027, 1, 1), period_to=date(2027, 6, 30))
    for role in ("map_staff", "map_admin", "steering"):
        actor = Actor(id="x@x.ee", role=role, region=REGION)
        table = await Office(indicators_answer, REGION).indicators(period, actor)
        rows = {(r[0], r[1]): dict(zip(table.headers, r, strict=True)) for r in table.rows}
        assert rows[("region", REGION)]["identified"] == 12
        assert rows[("cluster", "ict")]["identified"] == 7
        assert rows[("market", "DE")]["trade_show_presentations"] == 1
        assert rows[("meetings", REGION)]["meetings_held"] == 6
        assert rows[("meetings by cluster", "ict")]["contacts_brokered"] == 3
    written = csv_bytes(table).decode("utf-8-sig")
    assert "'+cleantech" in written and "\n+cleantech" not in written
    for actor in (Actor(id="c@x.ee", role="sme", region=REGION, sme_id="sme-1"),
                  Actor(id="o@x.ee", role="organiser", region=REGION),
                  Actor(id="s@riga.lv", role="map_staff", region="riga")):  # fmt: skip
        with pytest.raises(Refused):
            await Office(indicators_answer, REGION).indicators(period, actor)
