"""A region on a JetStream cluster of three servers (issue 32 item 1): with
MAPNET_STREAM_REPLICAS=3 every stream of the region keeps three replicas, one per server; the
services, given every server's URL, carry on when one server is killed: commands are answered
and their events reach the consumers, nothing lost."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest

from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.ops.servers import Managed, cluster_url, free_ports, nats_cluster, wait_for_jetstream
from mapnet.runner import Assembly
from mapnet.runtime.bus import STREAM_REPLICAS_VAR, BusClient, stream_replicas
from mapnet.runtime.settings import Settings
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers, unique_region
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, str, list[Managed]]]:
    region = unique_region()
    taken = free_ports(6)  # the servers' client ports, then their route ports
    ports = taken[:3]
    nodes = nats_cluster(region, ports, taken[3:], tmp_path)
    for node in nodes:
        node.start()
    try:
        yield region, cluster_url(region, ports, tmp_path), nodes
    finally:
        for node in nodes:
            node.stop()


def test_stream_replicas_are_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STREAM_REPLICAS_VAR, raising=False)
    assert stream_replicas() == 1
    monkeypatch.setenv(STREAM_REPLICAS_VAR, "3")
    assert stream_replicas() == 3
    for wrong in ("0", "6", "three", "-1"):
        monkeypatch.setenv(STREAM_REPLICAS_VAR, wrong)
        with pytest.raises(ValueError, match=STREAM_REPLICAS_VAR):
            stream_replicas()


async def test_a_region_on_three_servers_keeps_three_replicas_and_survives_losing_one(
    cluster: tuple[str, str, list[Managed]],
    servers: Servers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    region, url, nodes = cluster
    monkeypatch.setenv(STREAM_REPLICAS_VAR, "3")
    await asyncio.to_thread(wait_for_jetstream, url, 3)
    settings = Settings.model_validate(
        {"MAPNET_REGIONS": region, "NATS_URL": url, "MONGO_URL": servers.mongo_url}
    )
    staff = Actor(id="anna@map.example", role="map_staff", region=region)
    async with Assembly(settings, ["events", "registry"], [region]):
        client = await BusClient.connect(url, region=region)
        try:
            first = await first_answer(client, rg.REGISTER_SME, new_sme(), region, staff)
            js = client.nc.jetstream()
            for stream in await js.streams_info():
                assert stream.config.num_replicas == 3, stream.config.name
                assert stream.cluster is not None
                assert len(stream.cluster.replicas or []) == 2  # the leader and two more
            # One server is killed: the others carry on, the clients reconnect to them.
            killed = nodes[0]
            assert killed.proc is not None
            killed.proc.send_signal(signal.SIGKILL)
            killed.proc.wait(10)
            second = await eventually(
                lambda: _register(url, region, staff),
                until=lambda sme: sme is not None,
                timeout_s=60,
            )
            assert second is not None and second.sme_id != first.sme_id
            found = await client.call(rg.SEARCH_SMES, rg.SearchSmes(limit=10), region, actor=staff)
            assert {s.sme_id for s in found.items} >= {first.sme_id, second.sme_id}
        finally:
            await client.close()


async def _register(url: str, region: str, staff: Actor) -> rg.SmeView | None:
    """One try, on a connection of its own (a client that gave up on the killed server is
    closed for good): connecting goes to any server of the cluster that answers."""
    try:
        client = await BusClient.connect(url, region=region)
    except (OSError, nats.errors.Error):
        await asyncio.sleep(0.5)
        return None
    try:
        second = new_sme(reg="14000015", name="Baltic Code OÜ")
        return await client.call(rg.REGISTER_SME, second, region, actor=staff, timeout_s=5)
    except (Refused, TimeoutError, nats.errors.Error) as failed:  # until a server answers
        if isinstance(failed, Refused) and failed.code not in ("region_unavailable", "timeout"):
            raise
        await asyncio.sleep(0.5)
        return None
    finally:
        await client.close()


async def first_answer(client: BusClient, op: Any, data: Any, region: str, actor: Actor) -> Any:
    """The first request to a region just started on a cluster: its servers learn of the
    services' subscriptions from each other a moment after the services made them on one of
    them (a client on another server hears "no responders" until then), so it is sent again
    while nobody answers, as an operator's client would after a start."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        try:
            return await client.call(op, data, region, actor=actor)
        except Refused as refusal:
            if refusal.details.get("reason") != "no_responders":
                raise
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
