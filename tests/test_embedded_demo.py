"""The README's demo commands as a user runs them: `make run` (one region, its demo people
signed in to their roles' pages) and `mapnet up --regions tallinn,helsinki,berlin --demo` (a hub
and three linked regions). A file of their own (with tests/test_embedded.py's helpers), so that
the suite's processes share these long runs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
from collections import Counter
from pathlib import Path

import httpx
import pytest

from contracts import events as ev
from mapnet.ops.servers import free_port, logged_in_url
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.guide.adapters.markets import market_homes
from services.guide.tests.test_starter_copies import TEN, TOPICS, guide_of, per_market_and_topic
from tests.test_embedded import (
    BIN,
    as_user,
    pid_alive,
    port_blocks,
    sign_in,
    until_running,
    user_env,
    wait_healthy,
)


@pytest.mark.timeout(600)
async def test_up_runs_a_hub_and_three_linked_regions(tmp_path: Path) -> None:
    """The README's command as a user runs it: `mapnet up --regions tallinn,helsinki,berlin
    --demo`; each region's portal on the next port after the first, named by `mapnet status
    --json`, where each region's demo staff sign in; a request sent to Tallinn's server for
    Helsinki is answered by Helsinki."""
    nats_base, mongo_base, smtp_base, http_base, hub, leaf = port_blocks(6, 3)
    env = user_env(
        tmp_path, nats_port=nats_base, mongo_port=mongo_base, smtp_port=smtp_base,
        http_port=http_base, hub_port=hub, hub_leaf_port=leaf,
    )  # fmt: skip
    regions = ["tallinn", "helsinki", "berlin"]
    proc = as_user(["mapnet", "up", "--regions", ",".join(regions), "--demo"], env)
    try:
        await asyncio.to_thread(until_running, proc)  # the demo is loaded in each region by then
        status = await asyncio.to_thread(
            lambda: subprocess.run(
                [BIN / "mapnet", "status", "--json"], env=env, capture_output=True, text=True
            )
        )
        assert status.returncode == 0, status.stdout + status.stderr
        doc = json.loads(status.stdout)
        assert doc["hub"]["leaf_links"] == dict.fromkeys(regions, True)
        assert [r["id"] for r in doc["regions"]] == regions
        for index, region in enumerate(doc["regions"]):
            others = set(regions) - {region["id"]}
            assert region["nats_url"].startswith("nats://")
            assert "@" not in region["nats_url"]  # no password in what status shows
            assert region["links"] == dict.fromkeys(others, "up")
            assert {o: r["state"] for o, r in region["replication"].items()} == dict.fromkeys(
                others, "copying"
            )
            assert region["http_url"] == f"http://127.0.0.1:{http_base + index}"
            async with httpx.AsyncClient(base_url=region["http_url"]) as http:
                home = await sign_in(http, f"staff@{region['id']}.example")
                assert "as <strong>map staff</strong>" in home, region["id"]
        state = json.loads((tmp_path / "up.json").read_text())
        pids = [state["hub"]["pid"]] + [
            pid for region in state["regions"] for pid in region["pids"].values()
        ]
        assert len(pids) == 1 + 3 * 4
        # The regions' data, mail and secrets are the owner's only (the embedded database takes
        # connections without a login, so its files must not be readable by others).
        for folder in [tmp_path, *(tmp_path / r for r in regions)]:
            assert folder.stat().st_mode & 0o777 == 0o700, folder
        tallinn = await BusClient.connect(
            logged_in_url("tallinn", nats_base, tmp_path), region="tallinn", role="map_staff"
        )
        try:
            answer = await tallinn.raw(ev.LIST_CALENDAR, ev.ListCalendar(limit=5), "helsinki")
        finally:
            await tallinn.close()
        assert answer["source"] == "mapnet/helsinki/events", answer
        assert answer["data"]["items"], answer  # the demo calendar, as Helsinki keeps it
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=120)  # three regions stop in turn; a loaded CI took over 60 s
    # make reports the interrupt as it should (-2); what it ran stopped cleanly and left nothing.
    assert proc.returncode in (0, -signal.SIGINT)
    assert not (tmp_path / "up.json").exists()
    assert not [pid for pid in pids if pid_alive(pid)], "processes left behind"
    assert not [pid for pid in pids if pid_alive(pid)], "processes left behind"


DEMO_PAGES = {
    "admin": ("map admin", ["/smes", "/people", "/kpis", "/smes/import"], ["/partners"]),
    "staff": ("map staff", ["/smes", "/smes/new", "/kpis", "/events/new"], ["/partners"]),
    "organiser": ("organiser", ["/preferences"], ["/smes", "/kpis"]),
    "sme": ("sme", ["/partners", "/preferences"], ["/smes", "/people"]),
    "steering": ("steering", ["/kpis"], ["/smes", "/partners"]),
}


@pytest.mark.timeout(360)
async def test_make_run_demo_signs_each_demo_user_in_to_their_roles_pages(tmp_path: Path) -> None:
    """`make run` as the README's quick start runs it: one user per role, password mapnet-demo,
    each shown their role's pages and refused the others'; the sign-in page names them; the
    portal where the README says (8080 there: here the base port it is given, as a user would
    set MAPNET_HTTP_PORT); the guide of the ten markets; Ctrl-C at the terminal stops it all."""
    nats_port, mongo_port, http_port = free_port(), free_port(), free_port()
    env = user_env(tmp_path, nats_port=nats_port, mongo_port=mongo_port, smtp_port=free_port(),
                   http_port=http_port)  # fmt: skip
    assert Settings.model_fields["http_port"].default == 8080  # the README's default
    # Its own process group, as a terminal's job: Ctrl-C reaches make and mapnet alike.
    proc = as_user(["make", "-s", "run"], env)
    try:
        await asyncio.to_thread(until_running, proc)  # the demo is loaded by then
        # Its guide lists the three starter topics of all ten markets, each by its home region,
        # as soon as it says it runs (asked first: the pages below would give it time).
        sme = await BusClient.connect(
            logged_in_url("tallinn", nats_port, tmp_path), region="tallinn", role="sme"
        )
        try:
            shown = await guide_of(sme, "tallinn")
        finally:
            await sme.close()
        assert per_market_and_topic(shown) == Counter({(m, t): 1 for m in TEN for t in TOPICS})
        homes = market_homes(None, {})
        assert all(a.region == homes[a.market] for a in shown)
        assert {a.region for a in shown if a.market == "EE"} == {"tallinn"}
        report = await wait_healthy(logged_in_url("tallinn", nats_port, tmp_path), proc)
        assert report["http_url"] == f"http://127.0.0.1:{http_port}"
        state = json.loads((tmp_path / "up.json").read_text())
        pids = [pid for region in state["regions"] for pid in region["pids"].values()]
        async with httpx.AsyncClient(base_url=report["http_url"]) as anyone:
            signin = await anyone.get("/signin")
            assert "organiser@tallinn.example" in signin.text and "mapnet-demo" in signin.text
        for name, (role, allowed, refused) in DEMO_PAGES.items():
            async with httpx.AsyncClient(base_url=report["http_url"]) as http:
                home_text = await sign_in(http, f"{name}@tallinn.example")
                assert f"as <strong>{role}</strong>" in home_text, name
                if name == "organiser":  # the demo's brokerage event is theirs
                    found = re.search(r'href="(/events/[^"]+/organise)"', home_text)
                    assert found, home_text
                    allowed = [*allowed, found.group(1)]
                    # Its remote meetings have rooms: the demo's public template (README).
                    agendas = await http.get(found.group(1).replace("/organise", "/agendas"))
                    assert "https://meet.jit.si/mapnet-demo-" in agendas.text
                for path in allowed:
                    assert (await http.get(path)).status_code == 200, (name, path)
                if name == "sme":  # the demo's profiles: partner search finds and explains
                    partners = (await http.get("/partners")).text
                    assert "No profile fits yet" not in partners and "Why: " in partners
                for path in refused:
                    assert (await http.get(path)).status_code == 403, (name, path)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=120)  # a loaded CI took over 60 s to stop
    # make reports the interrupt as it should (-2); what it ran stopped cleanly and left nothing.
    assert proc.returncode in (0, -signal.SIGINT)
    assert not (tmp_path / "up.json").exists()
    assert not [pid for pid in pids if pid_alive(pid)], "processes left behind"
