"""A service is found through its declaration, as the README's "Adding a service" says: a tiny
fifth service, a package and one entry point in the ``mapnet.services`` group of its own
distribution, is served by `mapnet serve`, answers on the bus and shows in `mapnet status`,
with no line of the runtime changed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.errors import NoRespondersError

from mapnet.ops.servers import Managed
from mapnet.runtime.declaration import DeclarationError, declaration, service_names
from tests.fixtures import Servers
from tests.helpers import eventually

TINY = """
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic import Field

from contracts.envelope import Payload
from contracts.operations import query
from mapnet.runtime.declaration import ServiceDeclaration


class Greet(Payload):
    name: str


class Greeting(Payload):
    text: str


GREET = query("tiny", "greet", Greet, Greeting, "Greets whoever asks", roles=("map_staff",))


class TinySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")
    salutation: str = Field(default="Hello", validation_alias="TINY_SALUTATION")


def build(rt):
    settings = rt.config_as(TinySettings)

    @rt.handles(GREET)
    async def greet(msg):
        return Greeting(text=f"{settings.salutation}, {msg.data.name} from {rt.region}")


SERVICE = ServiceDeclaration(
    name="tiny", summary="A tiny service", build=build, settings=TinySettings
)
"""


@pytest.fixture
def tiny_package(tmp_path: Path) -> Path:
    """A package and its distribution's metadata, as `pip install` of a fifth service leaves
    them: the entry point is the only thing that names it."""
    (tmp_path / "tinysvc").mkdir()
    (tmp_path / "tinysvc" / "__init__.py").write_text(TINY)
    info = tmp_path / "tinysvc-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinysvc\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[mapnet.services]\ntiny = tinysvc:SERVICE\n")
    return tmp_path


def test_the_installed_services_are_found_by_their_declarations() -> None:
    assert service_names() == [
        "events",
        "guide",
        "matching",
        "notify",
        "portal",
        "registry",
        "reports",
    ]
    assert declaration("registry").record_fields == ("sme_id",)
    assert declaration("portal").cli_name == "user"  # `mapnet user add`
    with pytest.raises(DeclarationError, match="no service 'elsewhere'"):
        declaration("elsewhere")


async def test_a_fifth_service_is_a_package_and_one_entry_point(
    servers: Servers, region: str, tiny_package: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tiny_package), os.environ.get("PYTHONPATH", "")]),
        "NATS_URL": servers.nats_url,
        "MONGO_URL": servers.mongo_url,
        "MAPNET_REGIONS": region,
        "TINY_SALUTATION": "Tere",
        "MAPNET_LOG_LEVEL": "WARNING",
    }
    proc = Managed(
        "tiny",
        [sys.executable, "-m", "mapnet", "serve", "tiny", "--region", region],
        tmp_path / "tiny.log",
        env=env,
    )
    proc.start()
    try:
        # Its health query is found by the same table, in a process that has it installed.
        status = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "mapnet", "status", "--json"],
            env=env,
            capture_output=True,
            timeout=60,
        )
        request = {
            "specversion": "1.0",
            "id": "greet-1",
            "source": "mapnet/tests",
            "type": "eu.mapnet.tiny.greet.v1",
            "time": "2026-11-30T12:00:00Z",
            "region": region,
            "correlationid": "c-1",
            "actor": {"id": "mari@example.ee", "role": "map_staff", "region": region},
            "data": {"name": "Mari"},
        }
        nc = await nats.connect(servers.nats_url)

        async def greet() -> dict[str, Any] | None:
            try:  # until the process has started
                msg = await nc.request(subject, json.dumps(request).encode(), timeout=5)
            except NoRespondersError:
                return None
            answer: dict[str, Any] = json.loads(msg.data)
            return answer

        subject = f"mapnet.{region}.tiny.query.greet"
        try:
            reply = await eventually(greet, until=lambda a: a is not None, timeout_s=60)
        finally:
            await nc.close()
        assert reply is not None
        assert reply["data"] == {"text": f"Tere, Mari from {region}"}
        report = json.loads(status.stdout)["regions"][0]["services"]
        assert set(report) == {
            "events",
            "guide",
            "matching",
            "notify",
            "portal",
            "registry",
            "reports",
            "tiny",
        }
    finally:
        proc.stop()
    assert "Traceback" not in proc.tail(), proc.tail()
