"""`mapnet up --nats-cluster 3` as an operator runs it (issue 32 item 1): the region's NATS as a
JetStream cluster of three servers on the NATS port and the next two, every stream of the region
kept on all three, the services connected to all of them and the region healthy; what the option
refuses."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from mapnet.ops.servers import free_port
from mapnet.ops.status import region_health
from mapnet.runtime.credentials import SERVICE_USER, servers, service_password, with_login
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
        # Losing a server is tested on a cluster of its own (tests/test_nats_cluster.py):
        # under `mapnet up` the supervisor still stops the region when one of its servers
        # stops (it restarts services, not servers).
        report = await region_health("tallinn", url)
        assert report["healthy"]
    finally:
        interrupt(proc)


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
