"""Notify's tests: the real SMTP server of tests/fixtures.py, and a real HTTP endpoint."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from pydantic_settings import BaseSettings

from mapnet.ops.servers import free_port
from services.notify.settings import NotifySettings
from tests.fixtures import with_its_sources


@pytest.fixture
def region_services() -> list[str]:
    """Notify and the services it hears from, not the whole region."""
    return with_its_sources("notify")


@pytest.fixture
def service_configs(notify_settings: NotifySettings) -> dict[str, BaseSettings]:
    return {"notify": notify_settings}


@dataclass
class Endpoint:
    """A partner system: answers with the statuses queued in ``plan`` (then 200), or never."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    plan: list[int] = field(default_factory=list)
    hang: bool = False
    # Where a 3xx of the plan sends the caller.
    location: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((dict(request.headers), body))
        if self.hang:
            await asyncio.sleep(3)
        status = self.plan.pop(0) if self.plan else 200
        moved = {"Location": self.location} if 300 <= status < 400 and self.location else {}
        return web.Response(status=status, headers=moved)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
async def endpoint() -> AsyncIterator[Any]:
    servers: list[web.AppRunner] = []

    async def make(path: str = "/hook") -> Endpoint:
        ep = Endpoint()
        app = web.Application()
        app.router.add_post(path, ep.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        servers.append(runner)
        ep.url = f"http://127.0.0.1:{port}{path}"
        return ep

    yield make
    for runner in servers:
        await runner.cleanup()
