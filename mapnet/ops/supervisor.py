"""`mapnet up`: start the servers a region needs and its services, watch them, stop them all."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mapnet.federation.config import HubLogin, Tls, new_password
from mapnet.ops.servers import (
    Managed,
    ServerError,
    free_ports,
    hub_server,
    mongo_server,
    nats_cluster,
    nats_server,
    start_and_wait,
    wait_for_jetstream,
)
from mapnet.ops.status import region_health, wait_for_links
from mapnet.runtime.bus import STREAM_REPLICAS_VAR
from mapnet.runtime.credentials import private_dir, write_private
from mapnet.runtime.declaration import service_names
from mapnet.runtime.settings import Settings


@dataclass
class Restarts:
    """How one supervised process fared: its crashes in the last minute, when it is to start
    again, how often it did and when last."""

    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None
    count: int = 0
    last: str | None = None


@dataclass
class RegionProcesses:
    id: str
    nats_url: str
    mongo_url: str
    servers: list[Managed] = field(default_factory=list)
    services: Managed | None = None
    # More processes of single services (`--scale matching=2`): each runs that one service,
    # in its queue groups and on its durable consumers beside the region's process.
    scaled: list[Managed] = field(default_factory=list)
    # The services each process runs, by the process's name (servers run none).
    serves: dict[str, list[str]] = field(default_factory=dict)
    # Servers started again when they stop: a cluster's, whose others keep the region going.
    restartable: set[str] = field(default_factory=set)
    restarted: dict[str, Restarts] = field(default_factory=dict)

    def service_processes(self) -> list[Managed]:
        return [*([self.services] if self.services else []), *self.scaled]

    def all(self) -> list[Managed]:
        return [*self.servers, *self.service_processes()]

    def of(self, process: Managed) -> Restarts:
        return self.restarted.setdefault(process.name, Restarts())

    @property
    def restarts(self) -> int:
        """Every restart of any of the region's processes."""
        return sum(r.count for r in self.restarted.values())

    @property
    def last_restart(self) -> str | None:
        return max((r.last for r in self.restarted.values() if r.last), default=None)


# A region's services that crash are started again after 0.5 s, 1 s, 2 s … (at most 30 s); the
# sixth crash within a minute stops everything (something is wrong that restarting won't mend).
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
RESTARTS_PER_MINUTE = 5
SERVERS_GO_ON = "NATS, the database, the mailbox and the other processes keep running"
CLUSTER_GOES_ON = "the cluster's other servers keep the region going"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        regions: list[str],
        *,
        echo: Any = print,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        nats_cluster: int = 1,
        scale: dict[str, int] | None = None,
    ) -> None:
        """``clock`` and ``sleep``: what the watch and its back-off go by (a test's own).
        ``nats_cluster``: the servers of the region's NATS (1: one; 3: a JetStream cluster
        whose streams keep three replicas). ``scale``: how many processes serve a service in
        each region (the region's process counted), e.g. {"matching": 2}."""
        self.nats_cluster = nats_cluster
        self.scale = scale or {}
        self.settings = settings
        self.regions = regions
        self.echo = echo
        self.clock, self.sleep = clock, sleep
        self.started: list[RegionProcesses] = []
        self.hub: Managed | None = None
        self.hub_monitor_url: str | None = None
        self._stopping = False
        self._scaled_ports = 0

    @property
    def tls(self) -> Tls | None:
        """The embedded servers' TLS, when MAPNET_TLS_CERT and MAPNET_TLS_KEY name the files."""
        s = self.settings
        if not (s.tls_cert and s.tls_key):
            return None
        ca = str(s.tls_ca.resolve()) if s.tls_ca else None
        return Tls(str(s.tls_cert.resolve()), str(s.tls_key.resolve()), ca)

    @property
    def federated(self) -> bool:
        return len(self.regions) > 1 and not self.settings.nats_url

    def _passwords(self) -> dict[str, str]:
        """Each region's leaf password, made once and kept (owner-readable) under the hub's home."""
        path = self.settings.home / "hub" / "passwords.json"
        known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        for region in self.regions:
            known.setdefault(region, new_password())
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps(known, indent=2))  # made 0600 again if it was looser
        return known

    def _start_hub(self) -> dict[str, HubLogin]:
        passwords = self._passwords()
        port, leaf_port = self.settings.hub_port, self.settings.hub_leaf_port
        monitor = leaf_port + 1
        self.hub = hub_server(
            self.regions,
            passwords,
            self.settings.home,
            port=port,
            leaf_port=leaf_port,
            monitor_port=monitor,
            tls=self.tls,
        )
        start_and_wait(self.hub, leaf_port)
        self.hub_monitor_url = f"http://127.0.0.1:{monitor}"
        self.echo(f"started the hub on nats://127.0.0.1:{port} (leaf nodes on port {leaf_port})")
        return {r: HubLogin(r, passwords[r], "127.0.0.1", leaf_port) for r in self.regions}

    def _wait_for_links(self, timeout_s: float = 30.0) -> None:
        assert self.hub_monitor_url is not None
        self.echo(f"waiting for {len(self.regions)} leaf links to the hub …")
        try:
            wait_for_links(self.hub_monitor_url, self.regions, timeout_s, self.nats_cluster)
        except TimeoutError as exc:
            raise ServerError(str(exc)) from exc
        self.echo("all regions linked to the hub")

    def start(self) -> None:
        signal.signal(signal.SIGTERM, _interrupt)
        home = self.settings.home
        private_dir(home)
        hub_logins = self._start_hub() if self.federated else {}
        for index, region in enumerate(self.regions):
            rp = RegionProcesses(
                region, self.settings.nats_url or "", self.settings.mongo_url or ""
            )
            self.started.append(rp)
            if not self.settings.nats_url and self.nats_cluster > 1:
                self._start_cluster(rp, home, index, hub_logins.get(region))
            elif not self.settings.nats_url:
                port = self.settings.nats_port + index
                server = nats_server(region, port, home, hub=hub_logins.get(region), tls=self.tls)
                rp.servers.append(server)
                start_and_wait(server, port)
                rp.nats_url = f"nats://127.0.0.1:{port}"
                self.echo(
                    f"started NATS for {region} on {rp.nats_url} (data in {home / region}; "
                    "no anonymous connections)"
                )
            if not self.settings.mongo_url:
                port = self.settings.mongo_port + index
                server = mongo_server(region, port, home)
                rp.servers.append(server)
                start_and_wait(server, port)
                rp.mongo_url = f"mongodb://127.0.0.1:{port}"
                self.echo(f"started nx-27017 for {region} on {rp.mongo_url}")
            smtp_url = self.settings.smtp_url
            if not smtp_url:
                port = self.settings.smtp_port + index
                mail_dir = home / region / "mail"
                server = Managed(
                    f"mailbox[{region}]",
                    [sys.executable, "-m", "mapnet.dev.mailbox", "--port", str(port), "--dir",
                     str(mail_dir)],
                    home / region / "mailbox.log",
                )  # fmt: skip
                rp.servers.append(server)
                start_and_wait(server, port)
                smtp_url = f"smtp://127.0.0.1:{port}"
                self.echo(f"started the mailbox for {region} on {smtp_url} (mail in {mail_dir})")
            env = {
                **os.environ,
                "NATS_URL": self.settings.logged_in(rp.nats_url, region),
                "MONGO_URL": rp.mongo_url,
                "SMTP_URL": smtp_url,
                "MAPNET_REGIONS": region,
                # Each region's process serves one region, so the portal cannot offset its port
                # by the region's place in the list: it is given its own here.
                "MAPNET_HTTP_PORT": str(
                    self.settings.http_port + index if self.settings.http_port else 0
                ),
                "MAPNET_NETWORK": ",".join(self.regions) if self.federated else "",
            }
            if self.nats_cluster > 1:  # each stream on every server of the cluster
                env[STREAM_REPLICAS_VAR] = str(self.nats_cluster)
            if self.settings.metrics_port is not None:  # as the portal's port, one per region
                env["MAPNET_METRICS_PORT"] = str(
                    self.settings.metrics_port + index if self.settings.metrics_port else 0
                )
            rp.services = Managed(
                f"services[{region}]",
                [sys.executable, "-m", "mapnet", "serve", "all", "--region", region],
                home / region / "services.log",
                env=env,
            )
            rp.serves[rp.services.name] = service_names()
            self._add_scaled(rp, env)
        if self.federated:
            # Services start once the links are up, so that sourcing starts at once.
            self._wait_for_links()
        for rp in self.started:
            for process in rp.service_processes():
                process.start()
        self._write_state()

    def _add_scaled(self, rp: RegionProcesses, env: dict[str, str]) -> None:
        """The region's further processes of the services scaled up, each `mapnet serve
        <service>` logged in as the service's own user (only its rights, as in production):
        the second and later of a service, the region's process being the first. Each logs to
        <region>/<service>-<n>.log and, with MAPNET_METRICS_PORT, serves its probes on a port
        of its own past the regions' (or any free one, with 0)."""
        for service, count in sorted(self.scale.items()):
            for n in range(2, count + 1):
                own = {**env, "NATS_URL": self.settings.logged_in_as(rp.nats_url, rp.id, service)}
                if self.settings.metrics_port is not None:
                    further = len(self.regions) + self._scaled_ports
                    self._scaled_ports += 1
                    own["MAPNET_METRICS_PORT"] = str(
                        self.settings.metrics_port + further if self.settings.metrics_port else 0
                    )
                process = Managed(
                    f"{service}[{rp.id}#{n}]",
                    [sys.executable, "-m", "mapnet", "serve", service, "--region", rp.id],
                    self.settings.home / rp.id / f"{service}-{n}.log",
                    env=own,
                )
                rp.scaled.append(process)
                rp.serves[process.name] = [service]

    def _start_cluster(
        self, rp: RegionProcesses, home: Path, index: int, hub: HubLogin | None
    ) -> None:
        """The region's NATS as a JetStream cluster: its servers on the region's block of NATS
        ports (the NATS port and the next ones for the first region, the block after it for
        the second …), routed to each other on free ports; ready once it has elected its
        leader. In a network each server links to the hub itself."""
        first = self.settings.nats_port + index * self.nats_cluster
        ports = [first + n for n in range(self.nats_cluster)]
        nodes = nats_cluster(rp.id, ports, free_ports(len(ports)), home, hub=hub, tls=self.tls)
        for node, port in zip(nodes, ports, strict=True):
            rp.servers.append(node)
            rp.restartable.add(node.name)  # the others keep the region going meanwhile
            start_and_wait(node, port)
        rp.nats_url = ",".join(f"nats://127.0.0.1:{port}" for port in ports)
        wait_for_jetstream(self.settings.logged_in(rp.nats_url, rp.id), len(ports))
        self.echo(
            f"started NATS for {rp.id} as a cluster of {len(ports)} on {rp.nats_url} (data in "
            f"{home / rp.id}; streams kept on every server; no anonymous connections; routes "
            "only from servers with the region's cluster password"
            + ("; every server linked to the hub)" if hub else ")")
        )

    def _write_state(self) -> None:
        doc: dict[str, Any] = {
            "pid": os.getpid(),
            "hub": {"monitor_url": self.hub_monitor_url, "pid": self.hub.pid} if self.hub else None,
            "regions": [
                {
                    "id": rp.id,
                    "nats_url": rp.nats_url,
                    "mongo_url": rp.mongo_url,
                    "pids": {m.name: m.pid for m in rp.all()},
                    "restarts": rp.restarts,
                    "last_restart": rp.last_restart,
                    # Each process with what it runs, for `mapnet status` to show with its load.
                    "processes": [
                        {
                            "name": m.name,
                            "services": rp.serves.get(m.name, []),
                            "pid": m.pid,
                            "restarts": rp.of(m).count,
                            "last_restart": rp.of(m).last,
                            "log": str(m.log_path),
                        }
                        for m in rp.all()
                    ],
                }
                for rp in self.started
            ],
        }
        self.settings.state_file.write_text(json.dumps(doc, indent=2))

    def wait_healthy(self, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            reports = asyncio.run(self._health())
            if all(r["healthy"] for r in reports) or time.monotonic() > deadline:
                return reports
            for rp in self.started:
                for process in rp.service_processes():
                    if not process.alive():
                        raise ServerError(f"{process.name} exited:\n{process.tail()}")
            time.sleep(0.5)

    def wait_network(self, timeout_s: float = 90.0) -> list[dict[str, Any]]:
        """Until every region copies what every other region shares, telling what it waits for."""
        deadline = time.monotonic() + timeout_s
        told = ""
        while True:
            reports = asyncio.run(self._health())
            waiting = [
                f"{r['id']} ← {other} ({rep['state']})"
                for r in reports
                for other, rep in (r.get("replication") or {}).items()
                if rep["state"] != "copying"
            ]
            waiting += [
                f"{r['id']} ← {other} (not added yet)"
                for r in reports
                for other in r.get("links") or {}
                if other not in (r.get("replication") or {})
            ]
            if not waiting or time.monotonic() > deadline:
                return reports
            if (now := ", ".join(waiting)) != told:
                self.echo(f"waiting for the network copies: {now}")
                told = now
            time.sleep(0.5)

    async def _health(self) -> list[dict[str, Any]]:
        network = self.regions if self.federated else []
        return list(
            await asyncio.gather(
                *(
                    region_health(rp.id, self.settings.logged_in(rp.nats_url, rp.id), network)
                    for rp in self.started
                )
            )
        )

    def watch(self) -> int:
        """Block until a signal; restart a process of a region's services when it crashes
        (after a back-off that doubles with each of its crashes in the last minute), keeping
        the servers and the other processes running; restart a server of a region's NATS
        cluster in the same way, the other servers keeping the region going. Everything stops
        on a signal, when any other server dies (the region cannot go on without it), or when
        a process keeps crashing (RESTARTS_PER_MINUTE). Returns the exit code."""
        code = 0
        try:
            while True:
                if self.hub and not self.hub.alive():
                    self.echo(f"{self.hub.name} stopped unexpectedly:\n{self.hub.tail()}")
                    return 1
                for rp in self.started:
                    for server in rp.servers:
                        if server.alive():
                            continue
                        if server.name not in rp.restartable:
                            self.echo(f"{server.name} stopped unexpectedly:\n{server.tail()}")
                            return 1
                        if not self._restart(rp, server, CLUSTER_GOES_ON):
                            return 1
                    for process in rp.service_processes():
                        if not process.alive() and not self._restart(rp, process, SERVERS_GO_ON):
                            return 1
                self.sleep(0.5)
        except KeyboardInterrupt:
            self.echo("stopping …")
        finally:
            self.stop()
        return code

    def _restart(self, rp: RegionProcesses, process: Managed, going_on: str) -> bool:
        """Start a crashed process again, once its back-off has passed; False when it crashed
        too often in the last minute to go on. ``going_on``: what keeps running meanwhile."""
        watched = rp.of(process)
        now = self.clock()
        watched.crashes = [t for t in watched.crashes if now - t < 60.0]
        if watched.restart_at is None:
            if len(watched.crashes) >= RESTARTS_PER_MINUTE:
                self.echo(
                    f"{process.name} crashed {len(watched.crashes) + 1} times in a minute; "
                    f"stopping everything:\n{process.tail()}"
                )
                return False
            watched.crashes.append(now)
            delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (len(watched.crashes) - 1))
            watched.restart_at = now + delay
            code = process.proc.returncode if process.proc else None
            self.echo(
                f"{process.name} stopped unexpectedly (exit {code}); restarting in "
                f"{delay:.1f} s; {going_on}:\n{process.tail(8)}"
            )
        if now >= watched.restart_at:
            watched.restart_at = None
            watched.count += 1
            watched.last = datetime.now(UTC).isoformat(timespec="seconds")
            process.start()
            self.echo(f"{process.name} restarted ({watched.count} so far)")
            self._write_state()
        return True

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        # Services first, so they finish in-flight messages while NATS and Mongo are still up;
        # the regions side by side (each told at once, then waited for), not one after another.
        services = [process for rp in self.started for process in rp.service_processes()]
        _stop_together(services, self.settings.graceful_timeout_s + 5)
        _stop_together([server for rp in self.started for server in reversed(rp.servers)])
        if self.hub:
            self.hub.stop()
        self.settings.state_file.unlink(missing_ok=True)


def _stop_together(processes: list[Managed], timeout_s: float = 20.0) -> None:
    """Each asked to stop at once, then each waited for (killed past ``timeout_s``)."""
    for process in processes:
        process.ask_to_stop()
    for process in processes:
        process.wait_stopped(timeout_s)
