"""A region on a JetStream cluster of three servers (issue 32 item 1): with
MAPNET_STREAM_REPLICAS=3 every stream of the region keeps three replicas, one per server; the
services, given every server's URL, carry on when one server is killed: commands are answered
and their events reach the consumers, nothing lost. Its route ports take only its own servers,
which log in with the region's cluster password."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest

from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.federation.config import Tls
from mapnet.ops.servers import (
    Managed,
    cluster_url,
    executable,
    free_ports,
    nats_cluster,
    wait_for_jetstream,
    wait_for_port,
)
from mapnet.runner import Assembly
from mapnet.runtime.bus import STREAM_REPLICAS_VAR, BusClient, stream_replicas
from mapnet.runtime.credentials import cluster_password
from mapnet.runtime.credentials import servers as servers_of
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


@pytest.mark.parametrize("rogue_has", ["nothing", "the_password_not_a_certificate"])
async def test_a_server_without_the_regions_credentials_is_refused_at_the_route_port(
    tmp_path: Path, rogue_has: str
) -> None:
    """A route is a peer inside the region's account with no user and no permissions: a server
    let in on a route port hears everything and publishes anything, unstamped. A rogue server
    routed to the cluster's first server, with a user of its own, is refused there: it hears
    nothing of the region and its forged command reaches nobody, while the region's own servers
    form their cluster and carry its traffic between them. Without the route password it is
    refused; with TLS, knowing the password is not enough: each side checks the other's
    certificate, and the rogue's was not signed by the region's authority."""
    region = unique_region()
    taken = free_ports(9)
    ports, routes = taken[:3], taken[3:6]
    rogue_port, rogue_route, rogue_monitor = taken[6:]
    tls, client_tls, rogue_login, rogue_tls = None, None, "", ""
    refusal = "Router connection closed: Authentication Failure"  # what the first server logs
    if rogue_has == "the_password_not_a_certificate":
        from tests.test_tls import make_certificates

        made = make_certificates(tmp_path / "tls")
        tls = Tls(str(made["cert"]), str(made["key"]), str(made["ca"]))
        client_tls = ssl.create_default_context(cafile=str(made["ca"]))
        foreign = make_certificates(tmp_path / "foreign")  # another authority's
        rogue_login = f"route:{cluster_password(tmp_path / region, create=True)}@"
        rogue_tls = (
            f'  tls {{ cert_file: "{foreign["cert"]}", key_file: "{foreign["key"]}",'
            f' ca_file: "{made["ca"]}" }}\n'
        )
        refusal = "Router connection closed: TLS Handshake Failure"
    nodes = nats_cluster(region, ports, routes, tmp_path, tls=tls)
    rogue_conf = tmp_path / "rogue.conf"
    rogue_conf.write_text(
        f"server_name: rogue\nlisten: 127.0.0.1:{rogue_port}\nhttp: 127.0.0.1:{rogue_monitor}\n"
        "accounts { MAPNET: { users: [ {user: evil, password: evil} ] } }\n"
        f"cluster {{ name: mapnet_{region}, listen: 127.0.0.1:{rogue_route},\n"
        f"  routes: [nats-route://{rogue_login}127.0.0.1:{routes[0]}]\n{rogue_tls}}}\n"
    )
    rogue = Managed("rogue", [executable("nats-server"), "-c", str(rogue_conf)],
                    tmp_path / "rogue.log")  # fmt: skip
    # The route password is kept with the region's other credentials and given to the servers
    # in their environment: on no command line, in no configuration file.
    password = str(cluster_password(tmp_path / region))
    assert all(password in str(node.env) and password not in str(node.argv) for node in nodes)
    assert not [c for c in (tmp_path / region).rglob("*.conf") if password in c.read_text()]
    for node in nodes:
        node.start()
    connections: list[nats.NATS] = []
    try:
        for node, port in zip(nodes, ports, strict=True):
            await asyncio.to_thread(wait_for_port, node, port)
        # Logged in as mapnet, one on each server of the region.
        first, admin, service = [await nats.connect(one, tls=client_tls) for one in
                                 servers_of(cluster_url(region, ports, tmp_path))]  # fmt: skip
        connections += [first, admin, service]
        service_heard: list[bytes] = []

        async def received(msg: Any) -> None:
            service_heard.append(msg.data)

        await service.subscribe(f"mapnet.{region}.registry.>", cb=received)
        await service.flush()

        async def from_the_others() -> list[bytes]:
            for nc, said in ((first, b"first"), (admin, b"second")):
                await nc.publish(f"mapnet.{region}.registry.event.probe", said)
                await nc.flush()
            await asyncio.sleep(0.1)
            return list(service_heard)

        # The region's servers route to each other with the cluster password: what is
        # published on the first and the second server reaches the third.
        await eventually(from_the_others, until=lambda heard: {b"first", b"second"} <= set(heard))
        rogue.start()
        await asyncio.to_thread(wait_for_port, rogue, rogue_monitor)
        # Until the rogue has been answered at the route port: let in, or refused (for its
        # login, or for its certificate).
        await eventually(
            lambda: asyncio.to_thread(_rogue_routes, nodes[0], rogue_monitor),
            until=lambda got: got[0] > 0 or refusal in got[1],
        )
        # no_echo: what the rogue hears is what reached it, not its own forgery.
        evil = await nats.connect(f"nats://evil:evil@127.0.0.1:{rogue_port}", no_echo=True)
        connections.append(evil)
        rogue_heard: list[str] = []

        async def overheard(msg: Any) -> None:
            rogue_heard.append(msg.subject)

        await evil.subscribe("mapnet.>", cb=overheard)
        await evil.flush()
        await asyncio.sleep(0.5)  # interest crosses routes a moment after it is made
        await admin.publish(f"mapnet.{region}.registry.event.sme_registered", b"mari")
        await evil.publish(f"mapnet.{region}.registry.cmd.erase_sme", b"forged")
        for nc in (admin, evil):
            await nc.flush()
        await eventually(lambda: _now(service_heard), until=lambda heard: b"mari" in heard)
        await asyncio.sleep(0.5)  # time enough for the forged command, were it to come
        assert b"forged" not in service_heard, "the rogue's forged command reached the region"
        assert rogue_heard == [], "the rogue heard the region"
        routed, _ = await asyncio.to_thread(_rogue_routes, nodes[0], rogue_monitor)
        assert routed == 0, "the rogue server was taken as a peer of the region's cluster"
    finally:
        for nc in connections:
            await nc.close()
        rogue.kill()
        for node in nodes:  # a scratch cluster: nothing to stop cleanly for
            node.kill()


async def _now(heard: list[bytes]) -> list[bytes]:
    return list(heard)


def _rogue_routes(routed_to: Managed, monitor_port: int) -> tuple[int, str]:
    """The routes the rogue server holds (its monitoring's /routez), and the log of the server
    it tries to route to."""
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/routez", timeout=2) as reply:
        held = int(json.load(reply)["num_routes"])
    return held, routed_to.tail(50)


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
