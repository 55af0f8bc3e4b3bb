"""A service that starts before its region's JetStream cluster has formed (on Kubernetes the
pods start in any order) waits for it instead of dying at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from contracts.subjects import stream_name
from mapnet.ops.servers import cluster_url, free_ports, nats_cluster, wait_for_port
from mapnet.runtime import bus
from mapnet.runtime.credentials import servers, without_login

pytestmark = pytest.mark.timeout(180)


async def test_streams_are_made_once_the_cluster_has_formed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(bus.STREAM_REPLICAS_VAR, "3")
    ports = free_ports(6)
    nodes = nats_cluster("forming", ports[:3], ports[3:], tmp_path)
    url = cluster_url("forming", ports[:3], tmp_path)
    nodes[0].start()  # one server of three: no leader, no peers for three replicas
    try:
        wait_for_port(nodes[0], ports[0])
        nc = await nats.connect(servers(url), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        making = asyncio.create_task(bus.ensure_streams(nc.jetstream(), "forming", ["registry"]))
        await asyncio.sleep(2)
        assert not making.done(), making  # waiting, not failed
        for node in nodes[1:]:
            node.start()
        await asyncio.wait_for(making, timeout=bus.FORMING_WAIT_S)
        info = await nc.jetstream().stream_info(stream_name("forming", "registry"))
        assert info.config.num_replicas == 3
        await nc.close()
        # A URL with the login on its first server only: the client goes on to the others
        # logged in when that one is lost.
        first, *others = servers(url)
        first_only = ",".join([first, *(without_login(other) for other in others)])
        survivor = await nats.connect(
            servers(first_only), dont_randomize=True, reconnect_time_wait=0.2
        )
        nodes[0].kill()
        await until_answered(survivor, stream_name("forming", "registry"))
        assert survivor.connected_url is not None and survivor.connected_url.port != ports[0]
        await survivor.close()
    finally:
        for node in nodes:  # a scratch cluster: nothing to stop cleanly for
            node.kill()


async def until_answered(nc: nats.NATS, stream: str, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await nc.jetstream(timeout=2).stream_info(stream)
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


def test_what_counts_as_still_forming() -> None:
    from nats.js.errors import APIError, BadRequestError, ServiceUnavailableError

    assert bus._still_forming(ServiceUnavailableError())
    assert bus._still_forming(APIError(code=500, err_code=10023, description="insufficient"))
    assert bus._still_forming(BadRequestError(code=400, err_code=10005, description="no peers"))
    assert not bus._still_forming(BadRequestError(code=400, err_code=10058, description="x"))
    assert not bus._still_forming(ValueError("a fault of ours"))
