"""`mapnet up --scale matching=2,notify=2` as an operator runs it (issue 32 item 7): a second
process of matching and of notify beside the region's own, in the same queue groups and on the
same durable consumers. Matching's requests are answered by both processes; the registrations'
events are taken by both notify processes, each handled once (one delivery and one mail per
registration, nothing redelivered by any consumer of the region); `mapnet status` lists every
process with what it runs and its load; a scaled process that is killed is started again; Ctrl-C
stops them all. One `up` for all of it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest

from contracts import events as ev
from mapnet.ops.scale import ScaleError, parse_scale
from mapnet.ops.servers import free_port, logged_in_url
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.declaration import service_names
from services.notify.adapters.repository import DELIVERIES
from tests.helpers import eventually
from tests.test_embedded import interrupt, pid_alive, start_up, until_running, up_env

REGISTRATIONS = 40


def state(home: Path) -> dict[str, Any]:
    [region] = json.loads((home / "up.json").read_text())["regions"]
    return dict(region)


async def answered_by(nc: Any, service: str, wanted: set[int]) -> Counter[int]:
    """The pids of the processes that answer the service's health query, asked until each of
    ``wanted`` has answered (a queue group hands each request to one of its members)."""
    seen: Counter[int] = Counter()
    for _ in range(200):
        msg = await nc.request(f"mapnet.tallinn.{service}.query.health", b"", timeout=5)
        seen[int(json.loads(msg.data)["data"]["instance"].rpartition("/")[2])] += 1
        if wanted <= set(seen):
            break
    return seen


async def register_people(client: BusClient) -> None:
    """People registered at a conference one after another, as they come: each registration's
    confirmation is an event for notify to turn into a mail."""
    day = (datetime.now(UTC) + timedelta(days=30)).date()
    conference = ev.PublishEvent(
        partner_id="map", external_id="scaled", kind="conference", title="Baltic Photonics Days",
        starts_at=datetime.combine(day, time(10)), ends_at=datetime.combine(day, time(17)),
        timezone="Europe/Tallinn", country="EE",
    )  # fmt: skip
    event = await client.call(ev.PUBLISH_EVENT, conference, "tallinn")
    for n in range(REGISTRATIONS):
        person = ev.RegisterParticipant(
            event_id=event.event_id, person_name=f"Person {n}", email=f"person{n}@example.ee"
        )
        await client.call(ev.REGISTER_PARTICIPANT, person, "tallinn")


async def deliveries_by_pid(mongo_url: str) -> tuple[Counter[str], Counter[int]]:
    """notify's deliveries by status, and by the pid of the process that took each (its lease
    owner, ``host/pid/sender``: the process whose handler queued it, unless it crashed)."""
    client = mongo.client(mongo_url)
    try:
        log = mongo.database(client, "tallinn", "notify")[DELIVERIES]
        docs = [d async for d in log.find({}, {"status": 1, "owner": 1})]
    finally:
        client.close()
    return Counter(d["status"] for d in docs), Counter(int(d["owner"].split("/")[1]) for d in docs)


async def consumers_caught_up(nc: Any) -> list[tuple[str, int, int, int]]:
    """Every durable consumer of the region's streams: (name, pending, ack pending,
    redelivered)."""
    jsm = nc.jsm()
    found = []
    for stream in await jsm.streams_info():
        for c in await jsm.consumers_info(stream.config.name):
            found.append((c.name, c.num_pending, c.num_ack_pending, c.num_redelivered))
    return found


def status_json(home: Path, nats_port: int, mongo_port: int) -> dict[str, Any]:
    region, healthy = status_now(home, nats_port, mongo_port)
    assert healthy, region
    return region


def status_now(home: Path, nats_port: int, mongo_port: int) -> tuple[dict[str, Any], bool]:
    """`mapnet status --json` as it is, and whether it says all is well (exit 0): a process
    being started again says "starting" until it is ready (exit 1)."""
    done = subprocess.run(
        [sys.executable, "-m", "mapnet", "status", "--json"],
        env=up_env(home, nats_port, mongo_port), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode in (0, 1) and done.stdout, done.stdout + done.stderr
    [region] = json.loads(done.stdout)["regions"]
    return dict(region), done.returncode == 0


@pytest.mark.timeout(240)
async def test_up_scales_matching_and_notify_sharing_their_work_once(tmp_path: Path) -> None:
    nats_port, mongo_port = free_port(), free_port()
    proc = start_up(tmp_path, nats_port, mongo_port, "--scale", "matching=2,notify=2")
    url = logged_in_url("tallinn", nats_port, tmp_path)
    try:
        await asyncio.to_thread(until_running, proc)
        pids = state(tmp_path)["pids"]
        region_pid = pids["services[tallinn]"]
        matching, notify = pids["matching[tallinn#2]"], pids["notify[tallinn#2]"]

        nc = await nats.connect(url)
        client = await BusClient.connect(url, region="tallinn", timeout_s=10, role="map_admin")
        try:
            # Requests: matching's are answered by both of its processes, and by no other.
            assert set(await answered_by(nc, "matching", {region_pid, matching})) == {
                region_pid,
                matching,
            }
            # Events: each registration's confirmation handled by one notify process or the
            # other, both taking some; one delivery, one mail each.
            await register_people(client)
            _, takers = await eventually(
                lambda: deliveries_by_pid(f"mongodb://127.0.0.1:{mongo_port}"),
                until=lambda found: found[0] == {"sent": REGISTRATIONS},
                timeout_s=60,
            )
            assert set(takers) == {region_pid, notify}, takers
            assert sum(takers.values()) == REGISTRATIONS
            consumers = await eventually(
                lambda: consumers_caught_up(nc),
                until=lambda found: all(c[1] == c[2] == 0 for c in found),
                timeout_s=30,
            )
            assert not [c for c in consumers if c[3]], "redelivered: handled twice"
        finally:
            await client.close()
            await nc.close()
        mails = list((tmp_path / "tallinn" / "mail").glob("*.eml"))
        assert len(mails) == REGISTRATIONS
        assert "repeated" not in (tmp_path / "tallinn" / "mailbox.log").read_text()

        # `mapnet status` lists each process with what it runs and its load.
        report = await asyncio.to_thread(status_json, tmp_path, nats_port, mongo_port)
        processes = {p["name"]: p for p in report["processes"]}
        assert set(processes) == {"nats[tallinn]", "nx-27017[tallinn]", "mailbox[tallinn]",
                                  "services[tallinn]", "matching[tallinn#2]",
                                  "notify[tallinn#2]"}  # fmt: skip
        assert processes["matching[tallinn#2]"]["services"] == ["matching"]
        assert processes["notify[tallinn#2]"]["pid"] == notify
        for p in processes.values():
            assert p["alive"] and p["restarts"] == 0, p
            assert p["cpu_percent"] >= 0 and p["rss_mb"] > 5, p

        # A scaled process killed is started again, the rest untouched.
        os.kill(matching, signal.SIGKILL)
        # Started again and ready (a loaded machine takes a while to start a Python process).
        restarted, _ = await eventually(
            lambda: asyncio.to_thread(status_now, tmp_path, nats_port, mongo_port),
            until=lambda now: (
                now[1]
                and any(
                    p["name"] == "matching[tallinn#2]" and p["restarts"] == 1 and p["alive"]
                    for p in now[0]["processes"]
                )
            ),
            timeout_s=90,
        )
        assert restarted["restarts"] == 1 and proc.poll() is None
        all_pids = [p["pid"] for p in restarted["processes"]]
        assert region_pid in all_pids and notify in all_pids and matching not in all_pids
    finally:
        interrupt(proc)
    assert proc.returncode == 0
    assert not [pid for pid in all_pids if pid_alive(pid)], "processes left behind"


@pytest.mark.parametrize(
    ("scale", "said"),
    [
        ("portal=2", "one HTTP port"),
        ("matching=0", "from 1 to 8"),
        ("matching=9", "from 1 to 8"),
        ("matching=two", "from 1 to 8"),
        ("nope=2", "no service 'nope'"),
        ("matching", "pairs such as"),
        ("matching=2,matching=3", "twice"),
    ],
)
def test_scale_refuses_what_it_cannot_run(scale: str, said: str) -> None:
    with pytest.raises(ScaleError, match=said):
        parse_scale(scale, service_names())


def test_scale_reads_each_service_and_its_processes() -> None:
    assert parse_scale(" matching=2, notify=3 ", service_names()) == {"matching": 2, "notify": 3}
    assert parse_scale(None, service_names()) == {}


def test_up_refuses_a_scale_it_cannot_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mapnet", "up", "--scale", "portal=2"],
        env=up_env(tmp_path, free_port(), free_port()), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "one HTTP port" in done.stderr, done.stdout + done.stderr
    assert not (tmp_path / "up.json").exists()  # nothing started
