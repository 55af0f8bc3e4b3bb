"""`mapnet up --nats-cluster 3` as an operator runs it (issue 32 item 1), for a network of two
regions: the hub, and each region's NATS as a JetStream cluster of three servers on its block of
NATS ports, every server a leaf node of the hub with links of its own, every stream of a region
kept on all three, the services connected to all of them and the regions healthy; what each
region shares reaches the other's read model; one server killed under load is started again by
`mapnet up` with nothing lost, and shares still cross both ways; what the option refuses. One
network for all of it (the suite's minutes are counted)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from stdnum.ee.registrikood import calc_check_digit
from typer.testing import CliRunner

from contracts import events as ev
from contracts import registry as rg
from contracts.errors import Refused
from mapnet.ops.cli import app
from mapnet.ops.status import linked_servers, region_health
from mapnet.runtime.bus import BusClient
from mapnet.runtime.credentials import SERVICE_USER, servers, service_password, with_login
from tests.helpers import eventually
from tests.test_embedded import (
    hears_ctrl_c,
    interrupt,
    port_blocks,
    until_running,
    user_env,
)
from tests.three_regions import an_entry, calendar_titles

pytestmark = pytest.mark.timeout(400)

REGIONS = ["tallinn", "helsinki"]


def admin_url(home: Path, region: str, cluster: str) -> str:
    """The cluster's servers with the login `mapnet up` keeps for its operator."""
    return with_login(cluster, SERVICE_USER, str(service_password(home / region)))


def mapnet_status(env: dict[str, str]) -> dict[str, Any]:
    """`mapnet status --json` as the operator runs it (it exits 1 while a service is down)."""
    done = subprocess.run(
        [sys.executable, "-m", "mapnet", "status", "--json"], env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def network_up(doc: dict[str, Any]) -> bool:
    """`mapnet status --json` shows every region linked to the hub from each of its three
    servers, each reaching the other across the hub and its copy of what the other shares
    caught up."""
    return (
        doc["hub"]["leaf_links"] == dict.fromkeys(REGIONS, True)
        and all(len(doc["hub"]["leaf_servers"][r]) == 3 for r in REGIONS)
        and all(network_up_in(region) for region in doc["regions"])
    )


def network_up_in(report: dict[str, Any]) -> bool:
    """A region's report: the other region reached across the hub, its copy caught up."""
    return set(report["links"].values()) == {"up"} and {
        rep["state"] for rep in report["replication"].values()
    } == {"copying"}


async def shares_cross_both_ways(clients: dict[str, BusClient], title: str) -> None:
    """A calendar entry published in each region reaches the other's read model (its calendar
    lists it among that region's entries). Sent again while its region does not answer (a
    server just lost): the same entry, kept once."""
    for origin, reader in (REGIONS, REGIONS[::-1]):
        entry = f"{title} of {origin}"
        for _ in range(60):
            try:
                await clients[origin].call(ev.PUBLISH_EVENT, an_entry(entry), origin)
                break
            except (nats.errors.Error, TimeoutError):
                await asyncio.sleep(0.5)
            except Refused as refused:
                if refused.code != "region_unavailable":
                    raise
                await asyncio.sleep(0.5)
        else:
            raise AssertionError(f"{origin} never answered the publishing of {entry}")
        await eventually(
            lambda: listed(clients[reader], reader, origin),  # noqa: B023
            until=lambda titles: entry in titles,  # noqa: B023
            timeout_s=60,
        )


async def listed(client: BusClient, region: str, of_region: str) -> set[str]:
    """The titles of ``of_region``'s entries in ``region``'s calendar; none while ``region``
    does not answer."""
    try:
        return await calendar_titles(client, region, of_region)
    except (nats.errors.Error, TimeoutError):
        return set()


def start_network(home: Path) -> tuple[subprocess.Popen[bytes], dict[str, str], int]:
    """`mapnet up --nats-cluster 3 --regions tallinn,helsinki` on blocks of free ports: its
    process, its environment and the first region's first NATS port."""
    nats_base, mongo_base, smtp_base, http_base, hub, leaf = port_blocks(6, 6)
    env = user_env(
        home, nats_port=nats_base, mongo_port=mongo_base, smtp_port=smtp_base,
        http_port=http_base, hub_port=hub, hub_leaf_port=leaf,
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "mapnet", "up", "--nats-cluster", "3", "--regions",
         ",".join(REGIONS)],
        preexec_fn=hears_ctrl_c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return proc, env, nats_base


async def test_up_runs_a_network_of_regions_each_on_a_cluster_of_three(tmp_path: Path) -> None:
    proc, env, nats_base = start_network(tmp_path)
    clients: dict[str, BusClient] = {}
    try:
        await asyncio.to_thread(until_running, proc)
        state = json.loads((tmp_path / "up.json").read_text())
        urls = {}
        for index, region in enumerate(state["regions"]):
            first = nats_base + 3 * index  # each region's servers on a block of its own
            assert region["nats_url"] == ",".join(f"nats://127.0.0.1:{first + n}" for n in range(3))
            urls[region["id"]] = admin_url(tmp_path, region["id"], region["nats_url"])
        nc = await nats.connect(servers(urls["tallinn"]))
        try:
            for stream in await nc.jetstream().streams_info():
                assert stream.config.num_replicas == 3, stream.config.name
        finally:
            await nc.close()
        # Every server of each region links to the hub itself.
        linked = await asyncio.to_thread(linked_servers, state["hub"]["monitor_url"])
        assert linked == {r: {f"mapnet_{r}_{n}" for n in (1, 2, 3)} for r in REGIONS}
        for region in REGIONS:
            report = await region_health(region, urls[region], REGIONS)
            assert report["healthy"] and network_up_in(report), report
        for region in REGIONS:
            clients[region] = await BusClient.connect(
                urls[region], region=region, timeout_s=5, role="map_admin"
            )
        await shares_cross_both_ways(clients, "Before the loss")
        await losing_a_server_is_survived(
            tmp_path, urls["tallinn"], env, proc, lambda: shares_cross_both_ways(clients, "After")
        )
    finally:
        for client in clients.values():
            await client.close()
        interrupt(proc)
    assert proc.returncode == 0


async def losing_a_server_is_survived(
    home: Path,
    url: str,
    env: dict[str, str],
    proc: subprocess.Popen[bytes],
    after_the_kill: Callable[[], Awaitable[None]],
) -> None:
    """kill -9 of the server leading Tallinn's registry stream while SMEs are registered:
    ``after_the_kill`` at once (what must still work meanwhile); `mapnet up` starts the server
    again after its back-off and says so in `mapnet status`, which shows the network up again
    (the server linked again), the region going on on the other two meanwhile; every
    registration a client was told of is kept, once, and the server restarted holds the
    stream again (a current replica)."""
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
        await after_the_kill()
        await running
        assert proc.poll() is None, "mapnet up stopped when one server of three did"

        def restarted() -> dict[str, Any]:
            doc = mapnet_status(env)
            region = doc["regions"][0]
            server = {p["name"]: p for p in region["processes"]}[leader]
            return server | {"region": region, "status": doc}

        # Started again, linked to the hub again, the network as before.
        server = await eventually(
            lambda: asyncio.to_thread(restarted),
            until=lambda p: p["restarts"] == 1 and p["alive"] and p["pid"] != killed
            and network_up(p["status"]),
            timeout_s=90,
        )  # fmt: skip
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


def test_up_refuses_a_cluster_that_cannot_survive_a_loss(tmp_path: Path) -> None:
    # In this process (the command's own code, without a Python start of its own).
    done = CliRunner().invoke(
        app, ["up", "--nats-cluster", "2"], env={"MAPNET_HOME": str(tmp_path)}
    )
    assert done.exit_code == 2 and "3 or 5" in done.output, done.output
    assert not list(tmp_path.iterdir())  # nothing was started
