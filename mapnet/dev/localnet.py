"""A whole network on one machine, for the federation tests and benchmark: a real hub, and per
region a real NATS server (a leaf node of the hub, its own JetStream domain), its own nx-27017
and its services in this process. Each region's leaf link runs through a TCP relay that can cut
it, as a network partition would, without stopping either side."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from mapnet.dev.mailbox import serve as mailbox_server
from mapnet.federation.config import HubLogin, new_password
from mapnet.ops.servers import (
    Managed,
    free_port,
    hub_server,
    logged_in_url,
    mongo_server,
    nats_server,
    start_and_wait,
)
from mapnet.ops.status import wait_for_links, wait_until_up
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.declaration import declared as declared_services
from mapnet.runtime.declaration import service_names
from mapnet.runtime.settings import Settings


class LinkRelay:
    """Forwards TCP from a local port to the hub's leaf port until cut."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.close()
        self._pipes.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if task := asyncio.current_task():
            self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._pipes |= {writer, up_writer}
        with contextlib.suppress(asyncio.CancelledError):  # cut
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._pipes.discard(writer)


@dataclass
class LocalRegion:
    id: str
    nats: Managed
    nats_port: int
    mongo: Managed
    mongo_url: str
    relay: LinkRelay
    mailbox: Controller
    home: Path
    http_port: int = 0  # the portal's: its own, free when the region started
    monitor_port: int | None = None  # its NATS server's monitoring (/varz, /jsz, /leafz)
    assembly: Assembly | None = None
    process: Managed | None = None
    clients: list[BusClient] = field(default_factory=list)

    @property
    def nats_url(self) -> str:
        """With the region's service login."""
        return logged_in_url(self.id, self.nats_port, self.home)


class LocalNetwork:
    def __init__(
        self,
        home: Path,
        regions: list[str],
        services: Sequence[str] | None = None,
        log_level: str = "WARNING",
        in_process: bool = True,
        monitored: bool = False,
    ) -> None:
        """``services``: which of the installed services each region runs (all by default).
        ``in_process``: they run in this process (tests); otherwise each region's in a process
        of its own, as `mapnet up` runs them (benchmarks). ``monitored``: each region's NATS
        server serves its monitoring endpoints on a free port (``monitor_port``)."""
        self.in_process = in_process
        self.monitored = monitored
        self.home = home
        self.ids = regions
        self.services = list(services) if services is not None else service_names()
        self.log_level = log_level
        self.passwords = {r: new_password() for r in regions}
        self.hub_port, self.leaf_port, self.monitor_port = free_port(), free_port(), free_port()
        self.hub = hub_server(
            regions,
            self.passwords,
            home,
            port=self.hub_port,
            leaf_port=self.leaf_port,
            monitor_port=self.monitor_port,
        )
        self.regions: dict[str, LocalRegion] = {}

    @property
    def hub_url(self) -> str:
        return f"nats://127.0.0.1:{self.hub_port}"

    def environment(self, region: str) -> dict[str, str]:
        """The region's settings, as the environment variables a service process reads."""
        r = self.regions[region]
        return {
            "MAPNET_REGIONS": region,
            "MAPNET_NETWORK": ",".join(self.ids),
            "NATS_URL": r.nats_url,
            "MONGO_URL": r.mongo_url,
            "SMTP_URL": f"smtp://127.0.0.1:{r.mailbox.port}",
            # Each region's portal on a port of its own, as its servers (all on 8080, the
            # regions' portals but the first failed to start).
            "MAPNET_HTTP_PORT": str(r.http_port),
            "MAPNET_LOG_LEVEL": self.log_level,
        }

    def settings(self, region: str) -> Settings:
        return Settings.model_validate(self.environment(region))

    async def __aenter__(self) -> LocalNetwork:
        start_and_wait(self.hub, self.leaf_port)
        for region in self.ids:
            relay = LinkRelay(self.leaf_port)
            await relay.start()
            nats_port, mongo_port = free_port(), free_port()
            monitor_port = free_port() if self.monitored else None
            hub = HubLogin(region, self.passwords[region], "127.0.0.1", relay.port)
            nats = nats_server(region, nats_port, self.home, hub=hub, monitor_port=monitor_port)
            mongo = mongo_server(region, mongo_port, self.home)
            start_and_wait(nats, nats_port)
            start_and_wait(mongo, mongo_port)
            mailbox = mailbox_server(free_port(), None)
            self.regions[region] = LocalRegion(
                region, nats, nats_port, mongo, f"mongodb://127.0.0.1:{mongo_port}", relay,
                mailbox, self.home, free_port(), monitor_port,
            )  # fmt: skip
        await self.wait_linked(self.ids)
        if self.in_process:
            for region in self.ids:
                await self.start_services(region)
        else:  # the regions' processes side by side: ten regions start in a third of the time
            await asyncio.gather(*(self.start_services(region) for region in self.ids))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for r in self.regions.values():
            for client in r.clients:
                with contextlib.suppress(Exception):
                    await client.close()
            await self.stop_services(r.id)
            await r.relay.cut()
            r.nats.stop()
            r.mongo.stop()
            r.mailbox.stop()
        self.hub.stop()

    async def start_services(self, region: str) -> None:
        r = self.regions[region]
        if self.in_process:
            env = self.environment(region)
            configs = {  # each service's own settings, from the same variables
                name: declared.settings.model_validate(env)
                for name, declared in declared_services().items()
                if declared.settings is not None and name in self.services
            }
            r.assembly = Assembly(self.settings(region), self.services, [region], configs=configs)
            await r.assembly.__aenter__()
            return
        env = {**os.environ, **self.environment(region)}
        service = "all" if set(self.services) == set(service_names()) else ",".join(self.services)
        r.process = Managed(
            f"services[{region}]",
            [sys.executable, "-m", "mapnet", "serve", service, "--region", region],
            self.home / region / "services.log",
            env=env,
        )
        r.process.start()
        try:
            await wait_until_up(region, r.nats_url, self.services)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}:\n{r.process.tail()}") from exc

    async def stop_services(self, region: str) -> None:
        r = self.regions[region]
        if r.process:
            r.process.stop()
            r.process = None
        if r.assembly:
            await r.assembly.__aexit__(None, None, None)
            r.assembly = None

    async def client(self, region: str, timeout_s: float = 5.0) -> BusClient:
        """A client connected to the region's own NATS server, as its staff's tools are."""
        bus = await BusClient.connect(
            self.regions[region].nats_url,
            region=region,
            source=f"mapnet/{region}/tests",
            timeout_s=timeout_s,
            role="map_admin",
        )
        self.regions[region].clients.append(bus)
        return bus

    async def wait_linked(self, regions: list[str]) -> None:
        url = f"http://127.0.0.1:{self.monitor_port}"
        await asyncio.to_thread(wait_for_links, url, regions)

    # --- faults ---------------------------------------------------------------------------------

    async def cut(self, region: str) -> None:
        await self.regions[region].relay.cut()

    async def heal(self, region: str) -> None:
        await self.regions[region].relay.start()

    def kill_nats(self, region: str) -> None:
        self.regions[region].nats.kill()

    def restart_nats(self, region: str) -> None:
        r = self.regions[region]
        start_and_wait(r.nats, r.nats_port)

    def describe(self) -> dict[str, Any]:
        return {
            r.id: {"nats_url": r.nats_url, "mongo_url": r.mongo_url} for r in self.regions.values()
        }
