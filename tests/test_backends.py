"""The containers backend (MAPNET_TEST_BACKEND=containers) gets the NATS configuration the
embedded backend gets: no Docker on this machine, so the container's command, mounts and
environment are checked here, and run as they stand by the nats-server this machine has."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import nats
import nats.errors
import pytest
import yaml

from mapnet.federation.accounts import PARTNER_PUBLISH_FILE, PARTNERS_FILE, SERVICE_PASSWORD_VAR
from mapnet.ops.servers import Managed, executable, free_port, nats_server, wait_for_port
from mapnet.runtime import credentials
from mapnet.runtime.credentials import service_password
from tests.fixtures import (
    COMPOSE_FILE,
    SHARED,
    NatsContainer,
    Servers,
    compose_image,
    compose_service,
    config_files,
    containers,
    mongo_container,
    nats_container,
)

# What differs between the two, by design: where the server listens, keeps its data, and its
# pid (the container's own pid means nothing on this machine, so it writes none).
WHERE = re.compile(r"^(listen|pid_file):.*\n|^\s*store_dir:.*\n", re.MULTILINE)


def on_this_machine(spec: NatsContainer, path: str) -> Path:
    """Where a path of the container is on this machine, through the spec's mounts."""
    for folder, mounted in spec.volumes.items():
        if path.startswith(mounted + "/"):
            return Path(folder) / path.removeprefix(mounted + "/")
    raise AssertionError(f"{path} is not mounted into the container")


def test_the_container_runs_the_embedded_servers_configuration(tmp_path: Path) -> None:
    spec = nats_container(tmp_path / "containers")
    embedded = nats_server(SHARED, free_port(), tmp_path / "embedded", any_region=True)
    assert spec.image == compose_image("nats")  # the pin compose runs (CVE-2026-33223)
    assert spec.command[0] == "-c"
    config = on_this_machine(spec, spec.command[1])
    embedded_config = Path(embedded.argv[-1])
    assert WHERE.sub("", config.read_text()) == WHERE.sub("", embedded_config.read_text())
    assert "listen: 0.0.0.0:4222" in config.read_text()
    # Every file the configuration includes is in the mounted folder.
    for included in re.findall(r'include "([^"]+)"', config.read_text()):
        assert (config.parent / included).is_file(), included
    assert {PARTNERS_FILE, PARTNER_PUBLISH_FILE} <= {p.name for p in config.parent.iterdir()}
    # Only those: the region's credentials (every password in clear) stay out of the container.
    mounted = [Path(folder) for folder in spec.volumes]
    region_home = tmp_path / "containers" / SHARED
    assert (region_home / credentials.FILE).is_file()  # there to be left out
    assert [{p.name for p in folder.iterdir()} for folder in mounted] == [set(config_files(config))]
    password = service_password(region_home)
    assert password and not any(password in p.read_text() for p in config.parent.iterdir())
    # The same passwords, by the same variables, as the embedded server's environment.
    assert embedded.env is not None
    assert set(spec.environment) == {SERVICE_PASSWORD_VAR}
    assert spec.environment[SERVICE_PASSWORD_VAR] == service_password(region_home)
    assert embedded.env[SERVICE_PASSWORD_VAR] == service_password(embedded_config.parent)
    assert "${" not in config.read_text() and f"${SERVICE_PASSWORD_VAR}" in config.read_text()


async def test_a_server_run_as_the_container_is_lets_in_only_its_users(tmp_path: Path) -> None:
    """nats-server run on the container's configuration (found through the mounts; a copy
    beside it, so that its includes are the same files, that listens on a port this machine
    has free and keeps its data in a folder here), with only the container's environment: no
    anonymous client, ``mapnet`` with JetStream by the URL the backend yields, and a partner
    added through the backend's book, once the server was signalled to reload."""
    spec = nats_container(tmp_path / "home")
    port = free_port()
    config = on_this_machine(spec, spec.command[1])
    here = config.with_name("here.conf")
    text = config.read_text().replace("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{port}")
    here.write_text(text.replace('"/data/jetstream"', f'"{tmp_path / "js"}"'))
    assert WHERE.sub("", here.read_text()) == WHERE.sub("", config.read_text())
    argv = [executable("nats-server"), "-c", str(here)]
    server = Managed("nats[container]", argv, tmp_path / "nats.log", env=dict(spec.environment))
    server.start()
    try:
        wait_for_port(server, port)
        assert server.proc is not None
        proc = server.proc
        servers = Servers(spec.url("127.0.0.1", port), "", tmp_path / "home" / SHARED,
                          lambda: proc.send_signal(signal.SIGHUP))  # fmt: skip
        # Refused: the server says why, or (on a loaded machine) closes the connection before
        # the client has read it; either way no anonymous client gets in.
        with pytest.raises((nats.errors.Error, ConnectionResetError)) as refused:
            await nats.connect(f"nats://127.0.0.1:{port}", allow_reconnect=False,
                               max_reconnect_attempts=0)  # fmt: skip
        if isinstance(refused.value, nats.errors.Error):
            assert "Authorization Violation" in str(refused.value)
        operator = await nats.connect(servers.nats_url)
        try:
            assert (await operator.jetstream().account_info()).streams == 0
        finally:
            await operator.close()
        book = servers.partner_book()
        partner = book.add("containerpark")
        assert book.reload_server()
        url = f"nats://{partner.user}:{partner.password}@127.0.0.1:{port}"
        for _ in range(100):  # the reload is asynchronous
            try:
                nc = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0)
                break
            except (nats.errors.Error, ConnectionResetError):  # as above: refused, or cut off
                await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the partner was never let in:\n{server.tail()}")
        await nc.close()
        # The partner's files reached the mounted folder; the partners' register did not.
        assert {p.name for p in config.parent.iterdir()} == {*config_files(config), here.name}
    finally:
        server.stop()


def test_without_a_reachable_docker_the_containers_backend_stops_saying_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")
    with pytest.raises(RuntimeError, match="needs a reachable Docker"):
        next(containers(tmp_path))


def test_the_containers_mongodb_is_the_replica_set_compose_runs() -> None:
    """Compose, the containers backend and Kubernetes run MongoDB as a replica set of the one
    name the services' MONGO_URL gives (no Docker here: the specs are compared)."""
    spec = mongo_container()
    compose = compose_service("mongo")
    assert spec.image == compose["image"] and spec.command == compose["command"]
    assert "--replSet" in spec.command and spec.replica_set == "rs0"
    url = yaml.safe_load(COMPOSE_FILE.read_text())["x-environment"]["MONGO_URL"]
    assert f"replicaSet={spec.replica_set}" in url
    assert f"rs.initiate({{_id: '{spec.replica_set}'" in " ".join(compose["healthcheck"]["test"])
    assert f"rs.initiate({{_id: '{spec.replica_set}'" in " ".join(spec.initiate())
    assert spec.url("h", 1) == "mongodb://h:1/?replicaSet=rs0&directConnection=true"
    k8s = COMPOSE_FILE.parent / "deploy" / "k8s"
    assert f"replicaSet={spec.replica_set}" in (k8s / "mapnet.yaml").read_text()
    assert f'"--replSet", "{spec.replica_set}"' in (k8s / "mongo.yaml").read_text()
