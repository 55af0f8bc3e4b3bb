"""deploy/ is generated from deploy/regions.toml and contracts/, and nats-server accepts it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mapnet.federation.accounts import SERVICE_PASSWORD_VAR
from mapnet.federation.config import (
    DEPLOY,
    HUB_LEAF_URL_VAR,
    load_regions,
    new_password,
    password_var,
    publish_allowed,
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
    env[HUB_LEAF_URL_VAR] = "nats-leaf://tallinn:pw@127.0.0.1:7422"
    env[SERVICE_PASSWORD_VAR] = new_password()
    for name in ["hub", "region", *regions]:
        checked = subprocess.run(
            [executable("nats-server"), "-t", "-c", str(DEPLOY / "nats" / f"{name}.conf")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, f"{name}: {checked.stdout}{checked.stderr}"


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
    assert "$JS.gdansk.API.CONSUMER.CREATE.GDANSK_SHARED" in publish_allowed(
        "tallinn", ["tallinn", "gdansk"]
    )


def test_a_region_may_send_only_network_commands_to_others() -> None:
    allowed = publish_allowed("tallinn", ["tallinn", "berlin"])
    assert "mapnet.tallinn.>" in allowed
    assert "mapnet.*.events.cmd.register_participant" in allowed
    assert not any("registry.cmd" in subject for subject in allowed)
    assert not any("BERLIN_REGISTRY" in subject for subject in allowed)


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
