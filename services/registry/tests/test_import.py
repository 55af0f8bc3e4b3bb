"""`mapnet registry import` and the demo data against real servers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contracts import registry as c
from mapnet.runtime.bus import BusClient
from services.registry.entrypoints.demo import demo_smes
from services.registry.entrypoints.loader import load, read_rows
from tests.fixtures import Servers

pytestmark = pytest.mark.usefixtures("region_app")

CSV = """legal_name,registration_number,vat_id,country,nace_codes,clusters,keywords,founded_on,\
figure_year,staff_headcount,turnover_eur
Valgus Optics OÜ,12000005,,EE,26.70,photonics,lasers;optics,2020-01-01,2025,12,1500000
Broken Date AS,12000011,,EE,62.01,ict,,not-a-date,2025,3,100000
Pilve Tech OÜ,12000028,,EE,62.01;63.11,ict,saas,2019-06-01,2025,40,6000000
No Country AS,12000034,,,62.01,ict,,,,,
"""


async def test_csv_import_reports_bad_rows_and_reimport_changes_nothing(
    tmp_path: Path, client: BusClient, region: str
) -> None:
    path = tmp_path / "smes.csv"
    path.write_text(CSV)
    first = await load(client, region, read_rows(path))
    assert [line for line, _ in first.loaded] == [2, 4], first.rejected
    rejected = dict(first.rejected)
    assert set(rejected) == {3, 5}
    assert "founded_on" in rejected[3]
    assert "country" in rejected[5]

    again = await load(client, region, read_rows(path))
    assert again.loaded == first.loaded  # the same SMEs, by the same ids
    page = await client.call(c.SEARCH_SMES, c.SearchSmes(), region)
    assert sorted(i.legal_name for i in page.items) == ["Pilve Tech OÜ", "Valgus Optics OÜ"]
    valgus = next(i for i in page.items if i.legal_name.startswith("Valgus"))
    assert valgus.size_class == "small"


async def test_json_import_and_unreadable_file(
    tmp_path: Path, client: BusClient, region: str
) -> None:
    good = tmp_path / "smes.json"
    good.write_text(json.dumps([demo_smes()[0], "not an object"]))
    report = await load(client, region, read_rows(good))
    assert len(report.loaded) == 1 and report.rejected == [(2, "item 2 is not an object")]
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    report = await load(client, region, read_rows(bad))
    assert report.loaded == [] and report.rejected[0][1].startswith("not a JSON list")


async def test_demo_data_spans_the_clusters(client: BusClient, region: str) -> None:
    smes = demo_smes()
    report = await load(client, region, enumerate(smes, start=1))
    assert report.rejected == [] and len(report.loaded) == len(smes) >= 30
    for cluster in ("photonics", "ict", "life-sciences"):
        page = await client.call(c.SEARCH_SMES, c.SearchSmes(cluster=cluster, limit=100), region)
        assert len(page.items) == 12
    gazelles = await client.call(
        c.SEARCH_SMES, c.SearchSmes(growth_class="gazelle", limit=100), region
    )
    assert gazelles.items, "the demo should show some gazelles"


async def test_the_command_line_reads_latin1_and_names_each_bad_row(
    tmp_path: Path, servers: Servers, region: str
) -> None:
    path = tmp_path / "export.csv"
    text = CSV.replace("Valgus Optics OÜ", "Põhja Optika OÜ")
    path.write_bytes(text.encode("cp1252"))
    env = {**os.environ, "NATS_URL": servers.nats_url, "MAPNET_REGIONS": region}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mapnet", "registry", "import", str(path), "--region", region],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # some rows were rejected
    assert "Traceback" not in done.stderr
    assert "line 3" in done.stderr and "founded_on" in done.stderr
    assert "line 5" in done.stderr and "Windows-1252" in done.stderr
    assert "2 SMEs loaded, 2 rows rejected" in done.stderr
