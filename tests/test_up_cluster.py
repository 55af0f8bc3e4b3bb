"""`mapnet up --nats-cluster 3` as an operator runs it (issue 32 item 1): the region's NATS as a
JetStream cluster of three servers on the NATS port and the next two, every stream of the region
kept on all three, the services connected to all of them and the region healthy; one server
killed under load is started again by `mapnet up` with nothing lost; what the option refuses."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from stdnum.ee.registrikood import calc_check_digit

from contracts import registry as rg
from contracts.errors import Refused
from mapnet.ops.servers import free_port
from mapnet.ops.status import region_health
from mapnet.runtime.bus import BusClient
from mapnet.runtime.credentials import SERVICE_USER, servers, service_password, with_login
from tests.helpers import eventually
from tests.test_embedded import interrupt, port_blocks, start_up, until_running, up_env

pytestmark = pytest.mark.timeout(300)


def admin_url(home: Path, cluster: str) -> str:
    """The cluster's servers with the login `mapnet up` keeps for its operator."""
    return with_login(cluster, SERVICE_USER, str(service_password(home / "tallinn")))


async def test_up_runs_the_regions_nats_as_a_cluster_of_three(
    tmp_path: Path,
) -> None:
    nats_base, mongo_base = port_blocks(2, 3)
    proc = start_up(tmp_path, nats_base, mongo_base, "--nats-cluster", "3")
    try:
        await asyncio.to_thread(until_running, proc)
        state = json.loads((tmp_path / "up.json").read_text())
        [region] = state["regions"]
        assert region["nats_url"] == ",".join(f"nats://127.0.0.1:{nats_base + n}" for n in range(3))
        url = admin_url(tmp_path, region["nats_url"])
        nc = await nats.connect(servers(url))
        try:
            for stream in await nc.jetstream().streams_info():
                assert stream.config.num_replicas == 3, stream.config.name
        finally:
            await nc.close()
        report = await region_health("tallinn", url)
        assert report["healthy"]
        await losing_a_server_is_survived(tmp_path, url, nats_base, mongo_base, proc)
    finally:
        interrupt(proc)
    assert proc.returncode == 0


async def losing_a_server_is_survived(
    home: Path, url: str, nats_base: int, mongo_base: int, proc: subprocess.Popen[bytes]
) -> None:
    """kill -9 of the server leading the registry's stream while SMEs are registered: `mapnet
    up` starts it again after its back-off and says so in `mapnet status`, the region goes on
    on the other two meanwhile; every registration a client was told of is kept, once, and the
    server restarted holds the stream again (a current replica)."""
    client = await BusClient.connect(url, region="tallinn", timeout_s=5, role="map_admin")
    nc = await nats.connect(servers(url))
    try:
        info = await nc.jetstream().stream_info("TALLINN_REGISTRY")
        assert info.cluster is not None and info.cluster.leader
        leader = f"nats[tallinn#{info.cluster.leader.rpartition('_')[2]}]"
        killed = json.loads((home / "up.json").read_text())["regions"][0]["pids"][leader]
        registered: list[str] = []
        under_way = asyncio.Event()

        async def register(i: int) -> None:
            number = f"9{i:06d}" + calc_check_digit(f"9{i:06d}0")
            sme = rg.RegisterSme(legal_name=f"Cluster Test {i} OÜ", registration_number=number,
                                 country="EE")  # fmt: skip
            for _ in range(60):  # the same command again until the region answers
                try:
                    view = await client.call(rg.REGISTER_SME, sme, "tallinn", id=f"cluster-{i}")
                except (Refused, nats.errors.Error, TimeoutError):
                    await asyncio.sleep(0.5)
                    continue
                registered.append(view.sme_id)
                if len(registered) == 15:
                    under_way.set()
                return
            raise AssertionError(f"registration {i} never answered")

        async def load() -> None:
            for i in range(60):
                await register(i)

        running = asyncio.create_task(load())
        await asyncio.wait(
            [running, asyncio.create_task(under_way.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        assert not running.done(), running.exception()  # it failed before the kill
        os.kill(killed, signal.SIGKILL)
        await running
        assert proc.poll() is None, "mapnet up stopped when one server of three did"

        def restarted() -> dict[str, Any]:
            done = subprocess.run(
                [sys.executable, "-m", "mapnet", "status", "--json"],
                env=up_env(home, nats_base, mongo_base), capture_output=True, text=True,
                timeout=60,
            )  # fmt: skip
            [region] = json.loads(done.stdout)["regions"]
            return {p["name"]: p for p in region["processes"]}[leader] | {"region": region}

        server = await eventually(
            lambda: asyncio.to_thread(restarted),
            until=lambda p: p["restarts"] == 1 and p["alive"] and p["pid"] != killed,
            timeout_s=60,
        )
        assert server["region"]["restarts"] == 1 and server["region"]["healthy"]
        assert len(set(registered)) == 60
        stored: set[str] = set()
        cursor = None
        while True:
            page = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=100, cursor=cursor),
                                     "tallinn")  # fmt: skip
            stored |= {s.sme_id for s in page.items}
            if not (cursor := page.next_cursor):
                break
        assert stored == set(registered)

        async def replicas_current() -> bool:
            info = await nc.jetstream().stream_info("TALLINN_REGISTRY")
            assert info.cluster is not None
            return len(info.cluster.replicas or []) == 2 and all(
                r.current for r in info.cluster.replicas or []
            )

        await eventually(replicas_current, until=bool, timeout_s=60)
    finally:
        await client.close()
        await nc.close()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--nats-cluster", "2"], "3 or 5"),
        (["--nats-cluster", "3", "--regions", "tallinn,helsinki"], "one region"),
    ],
)
def test_up_refuses_a_cluster_it_cannot_run(tmp_path: Path, options: list[str], said: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mapnet", "up", *options],
        env=up_env(tmp_path, free_port(), free_port()), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and said in done.stderr, done.stdout + done.stderr
