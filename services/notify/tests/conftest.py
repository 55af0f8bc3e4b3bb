"""A real SMTP server (aiosmtpd, in this process) and a real HTTP endpoint for notify's tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from pydantic_settings import BaseSettings

from mapnet.dev.mailbox import MailStore, serve
from mapnet.ops.servers import free_port
from services.notify.settings import NotifySettings


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

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((dict(request.headers), body))
        if self.hang:
            await asyncio.sleep(3)
        return web.Response(status=self.plan.pop(0) if self.plan else 200)

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
