"""deploy/ is generated from deploy/regions.toml and contracts/, and nats-server accepts it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from mapnet.federation.accounts import password_vars
from mapnet.federation.config import (
    CLUSTER_PASSWORD_VAR,
    CLUSTER_ROUTES_VAR,
    DEPLOY,
    SERVER_NAME_VAR,
    HubLogin,
    hub_config,
    load_regions,
    network_subjects,
    new_password,
    password_var,
    region_config,
    route_urls,
    sourcing_api,
    sourcing_publish_allowed,
    write_deploy,
)
from mapnet.ops.servers import executable


def test_committed_network_config_is_up_to_date(tmp_path: Path) -> None:
    written = write_deploy(tmp_path)
    stale = [p.name for p in written if (DEPLOY / "nats" / p.name).read_text() != p.read_text()]
    assert not stale, f"run `mapnet network config`: stale {stale}"


def test_nats_server_accepts_the_hub_and_every_region(tmp_path: Path) -> None:
    regions = [r.id for r in load_regions()]
    assert len(regions) == 10
    env = {**os.environ, **{password_var(r): new_password() for r in regions}}
    env.update(HubLogin("tallinn", "pw", "127.0.0.1", 7422).environment())
    env |= {var: new_password() for var in password_vars()}  # mapnet's and each service's
    # A server of a region's cluster: its name and its peers' routes, as its machine sets them.
    env |= {
        SERVER_NAME_VAR: "mapnet_tallinn_1",
        CLUSTER_PASSWORD_VAR: "pwroutes",
        CLUSTER_ROUTES_VAR: route_urls(["127.0.0.1:6222", "127.0.0.1:6223"], "pwroutes"),
    }
    clusters = [f"{name}-cluster" for name in ["region", *regions]]
    for name in ["hub", "region", *regions, *clusters]:
        checked = subprocess.run(
            [executable("nats-server"), "-t", "-c", str(DEPLOY / "nats" / f"{name}.conf")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, f"{name}: {checked.stdout}{checked.stderr}"
        if name.endswith("-cluster"):  # routes only from peers with the region's password
            assert (
                "authorization { user: route, password: $MAPNET_CLUSTER_PASSWORD }"
                in (DEPLOY / "nats" / f"{name}.conf").read_text()
            ), name


def test_an_eleventh_region_is_one_line(tmp_path: Path) -> None:
    regions_file = tmp_path / "regions.toml"
    regions_file.write_text(
        (DEPLOY / "regions.toml").read_text() + 'gdansk = { city = "Gdańsk", country = "PL" }\n'
    )
    written = {p.name for p in write_deploy(tmp_path / "nats", regions_file)}
    assert "gdansk.conf" in written
    hub = (tmp_path / "nats" / "hub.conf").read_text()
    assert "{user: gdansk, password: $MAPNET_LEAF_PASSWORD_GDANSK" in hub
    # Every other region may now source Gdańsk's shared stream, and only that of its streams.
    assert (
        '{service: {account: REGION_GDANSK, subject: "$JS.gdansk.API.STREAM.INFO.GDANSK_SHARED"}'
        in hub
    )
    assert "$JS.FC.GDANSK_SHARED.>" in sourcing_publish_allowed("tallinn", ["tallinn", "gdansk"])


def test_a_region_may_send_only_network_commands_to_others() -> None:
    reachable = network_subjects("berlin")
    assert "mapnet.berlin.events.cmd.register_participant" in reachable
    assert not any("registry.cmd" in subject for subject in reachable)
    hub = hub_config(["tallinn", "berlin"], listen="x:1", leaf_listen="x:2")
    imported = re.findall(r'account: REGION_BERLIN, subject: "([^"]+)"\}, share: true', hub)
    # Tallinn reaches Berlin through these, stamped: its network operations and the JetStream
    # requests of copying its shared stream, nothing else.
    assert sorted(imported) == sorted(reachable + sourcing_api("berlin"))
    sourcing = sourcing_publish_allowed("tallinn", ["tallinn", "berlin"])
    assert not any("BERLIN_REGISTRY" in s or s.startswith("mapnet.") for s in sourcing)
    # Flow control and acks only of its copies of Berlin's shared stream, deliveries only as
    # Tallinn: no JetStream API, no reply subjects, nothing of Berlin's other streams.
    assert all(s == "$MAPNET.deliver.tallinn.>" or "BERLIN_SHARED" in s for s in sourcing)
    # What is not a network operation is refused by the region itself, whatever the hub sends.
    config = region_config("berlin", listen="x:1", store_dir="/d", linked=True)
    linked = config[config.index("leafnodes {") :]  # the links (users' rights name subjects too)
    assert '"mapnet.berlin.registry.cmd.erase_sme"' in linked
    assert '"mapnet.berlin.events.cmd.register_participant"' not in linked


def test_up_refuses_a_region_the_network_does_not_list(tmp_path: Path) -> None:
    import sys

    env = {**os.environ, "MAPNET_HOME": str(tmp_path)}
    refused = subprocess.run(
        [sys.executable, "-m", "mapnet", "up", "--regions", "tallinn,gdansk"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "gdansk" in refused.stderr and "regions.toml" in refused.stderr
    assert not (tmp_path / "hub").exists()  # nothing was started


def test_up_refuses_a_mistyped_region_naming_the_known_ones(tmp_path: Path) -> None:
    """One region alone too (it used to start a region of that name on its own, as `--regions
    all` started a region named "all")."""
    from typer.testing import CliRunner

    from mapnet.ops.cli import app
    from mapnet.ops.servers import free_ports

    # Free ports, should it start after all.
    ports = dict(zip(("NATS", "MONGO", "SMTP", "HTTP"), free_ports(4), strict=True))
    env = {"MAPNET_HOME": str(tmp_path), **{f"MAPNET_{k}_PORT": str(v) for k, v in ports.items()}}
    refused = CliRunner().invoke(app, ["up", "--regions", "tallin"], env=env)
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())  # as rich wrapped it
    assert "unknown region(s) tallin;" in said
    assert all(r.id in said for r in load_regions()) and "--regions all" in said
    assert not list(tmp_path.iterdir())  # nothing was started


def test_regions_all_are_the_regions_of_the_network(tmp_path: Path) -> None:
    """`--regions all` names every region of deploy/regions.toml (here as `mapnet status`
    reads them, none running: their servers are asked on a port where nothing listens)."""
    import json

    from typer.testing import CliRunner

    from mapnet.ops.cli import app
    from mapnet.ops.servers import free_port

    env = {"MAPNET_HOME": str(tmp_path), "NATS_URL": f"nats://127.0.0.1:{free_port()}"}
    found = CliRunner().invoke(app, ["status", "--json", "--regions", "all"], env=env)
    assert found.exit_code == 1, found.output  # none is healthy
    doc = json.loads(found.stdout[found.stdout.index("{") :])
    ids = [r["id"] for r in doc["regions"]]
    assert ids == [r.id for r in load_regions()] and len(ids) == 10
