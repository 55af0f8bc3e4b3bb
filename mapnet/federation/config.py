"""The network's NATS configuration, derived from one list of regions (deploy/regions.toml) and
from the contracts: a hub, and per region a server that is a leaf node of the hub with its own
JetStream domain.

The hub is where trust is enforced: each region's leaf connection logs in as that region, and
the hub lets it publish only what a region may send across (the network commands and queries of
contracts, replies, and the JetStream traffic of sourcing the other regions' shared streams) and
receive only what is addressed to it. A region's own leaf configuration cannot widen this.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from contracts.operations import CATALOGUE, network_requests
from contracts.subjects import shared_stream
from mapnet.runtime.access import REGION_ACCOUNT_PREFIX, SERVICES_ACCOUNT
from mapnet.runtime.declaration import declared

from .accounts import (
    PARTNER_FILES,
    PARTNER_PUBLISH_FILE,
    accounts_block,
    partner_publish_conf,
    partners_conf,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
REGIONS_FILE = DEPLOY / "regions.toml"
HUB_LEAF_URL_VAR = "MAPNET_HUB_LEAF_URL"
HUB_SOURCING_URL_VAR = "MAPNET_HUB_SOURCING_URL"
SOURCING_ACCOUNT = "SOURCING"
# Subjects under which origins deliver copies of their shared streams (see deliver_prefix).
DELIVER_ROOT = "$MAPNET.deliver"


@dataclass(frozen=True)
class RegionSpec:
    id: str
    city: str
    country: str


def load_regions(path: Path | None = None) -> list[RegionSpec]:
    """The network's regions: deploy/regions.toml, or the file MAPNET_REGIONS_FILE names."""
    path = path or Path(os.environ.get("MAPNET_REGIONS_FILE") or REGIONS_FILE)
    doc = tomllib.loads(path.read_text())
    regions = []
    for region_id, fields in sorted(doc.get("regions", {}).items()):
        if not re.fullmatch(r"[a-z]+", region_id):
            raise ValueError(f"{path}: region id {region_id!r} must match [a-z]+")
        regions.append(RegionSpec(region_id, fields.get("city", ""), fields.get("country", "")))
    return regions


def new_password() -> str:
    # NATS parses an environment variable as a config value: it must read as a plain string
    # (a leading digit or '-' would make it a number).
    return "pw" + secrets.token_hex(20)


def region_account(region: str) -> str:
    """The hub's account for a region's requests: requests that cross from it into another
    region's account are stamped with this name (``Nats-Request-Info``)."""
    return f"{REGION_ACCOUNT_PREFIX}{region.upper()}"


def sourcing_user(region: str) -> str:
    return f"{region}_sourcing"


@dataclass(frozen=True)
class HubLogin:
    """How a region's server links to the hub: two leaf connections with one password, one for
    requests (the region's own account there) and one for JetStream sourcing (shared)."""

    region: str
    password: str
    host: str
    port: int

    @property
    def requests_url(self) -> str:
        return f"nats-leaf://{self.region}:{self.password}@{self.host}:{self.port}"

    @property
    def sourcing_url(self) -> str:
        return f"nats-leaf://{sourcing_user(self.region)}:{self.password}@{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """What the region's NATS server reads its leaf remotes from."""
        return {HUB_LEAF_URL_VAR: self.requests_url, HUB_SOURCING_URL_VAR: self.sourcing_url}


def password_var(region: str) -> str:
    return f"MAPNET_LEAF_PASSWORD_{region.upper()}"


def network_subjects(region: str) -> list[str]:
    """The commands and queries other regions may send to ``region``: nothing else of it is
    reachable across the hub."""
    services = declared()  # the installed services; their operations marked network=True
    return sorted({op.subject(region) for op in network_requests() if op.service in services})


def local_only_subjects(region: str) -> list[str]:
    """What a region's server refuses to take from the hub whatever the hub says: its commands
    and queries that are not network operations, and its events (only its services publish
    them)."""
    network = set(network_subjects(region))
    services = declared()
    return sorted(
        {
            op.subject(region)
            for op in CATALOGUE.values()
            if op.kind != "event" and op.service in services and op.subject(region) not in network
        }
        | {f"mapnet.{region}.*.event.>"}
    )


def deliver_prefix(origin: str, region: str) -> str:
    """Where origin's server delivers what region copies of its shared stream: a subject per
    origin and region, so that the hub can let each region deliver only its own messages (no
    region can inject messages into another's copy of a third region)."""
    return f"{DELIVER_ROOT}.{origin}.{region}"


def sourcing_api(region: str) -> list[str]:
    """The JetStream requests other regions' servers send to copy region's shared stream:
    create (and, on restart, replace) a consumer on it, and read its state. Nothing else of the
    region's JetStream is reachable: they cross the hub as the network operations do."""
    api, shared = f"$JS.{region}.API", shared_stream(region)
    return [
        f"{api}.CONSUMER.CREATE.{shared}",
        f"{api}.CONSUMER.CREATE.{shared}.>",
        f"{api}.CONSUMER.DELETE.{shared}.>",
        f"{api}.STREAM.INFO.{shared}",
    ]


def _flow_of(region: str) -> list[str]:
    """Flow control and acknowledgements of the consumers on region's shared stream."""
    shared = shared_stream(region)
    return [f"$JS.{kind}.{shared}.>" for kind in ("FC", "ACK")] + [
        f"$JS.{kind}.{region}.*.{shared}.>" for kind in ("FC", "ACK")
    ]


def sourcing_publish_allowed(region: str, regions: list[str]) -> list[str]:
    """What region's sourcing link may send into the hub: its shared stream's messages to the
    regions copying it, under its own deliver subjects only, and the flow control and acks of
    its copies of the others' shared streams."""
    allowed = [f"{DELIVER_ROOT}.{region}.>"]
    for other in (o for o in regions if o != region):
        allowed += _flow_of(other)
    return allowed


def sourcing_subscribe_allowed(region: str) -> list[str]:
    """What the hub passes on to region's sourcing link: what the origins deliver to it, and
    the flow control and acks of the consumers on its own shared stream."""
    return [f"{DELIVER_ROOT}.*.{region}.>", *_flow_of(region)]


def _list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def hub_config(
    regions: list[str],
    *,
    listen: str,
    leaf_listen: str,
    http_port: int | None = None,
    tls: Tls | None = None,
) -> str:
    """An account per region for requests, and one for JetStream sourcing. A region's requests
    reach another region only through that region's exports of its network operations, imported
    with ``share: true``: the hub stamps each with the sender's account, so the receiving region
    knows which region asks, whatever the request says. Leaf passwords log in only as leaf
    nodes (``allowed_connection_types``), never as a client."""
    accounts = []
    for r in regions:
        exports = "".join(
            f'      {{service: "{s}"}}\n' for s in network_subjects(r) + sourcing_api(r)
        )
        imports = "".join(
            f'      {{service: {{account: {region_account(o)}, subject: "{s}"}}, share: true}}\n'
            for o in regions
            if o != r
            for s in network_subjects(o) + sourcing_api(o)
        )
        accounts.append(
            f"  {region_account(r)} {{\n"
            f"    users = [ {{user: {r}, password: ${password_var(r)},"
            ' allowed_connection_types: ["LEAFNODE"]} ]\n'
            f"    exports = [\n{exports}    ]\n"
            f"    imports = [\n{imports}    ]\n"
            "  }\n"
        )
    sourcing = "\n".join(
        f"      {{user: {sourcing_user(r)}, password: ${password_var(r)},"
        ' allowed_connection_types: ["LEAFNODE"], permissions: {\n'
        f"        publish: {{allow: {_list(sourcing_publish_allowed(r, regions))}}}\n"
        f"        subscribe: {{allow: {_list(sourcing_subscribe_allowed(r))}}}\n"
        "      }}"
        for r in regions
    )
    monitor = f"http: 127.0.0.1:{http_port}\n" if http_port else ""
    return (
        "# MAPnet hub: routes between the regions' leaf nodes, keeps no data.\n"
        "# Generated by `mapnet network config` from deploy/regions.toml and contracts/.\n"
        "# Each region's password comes from the environment variable named here.\n"
        "server_name: mapnet_hub\n"
        f"listen: {listen}\n"
        f"{monitor}"
        "max_payload: 8MB\n"
        "accounts {\n"
        f"{''.join(accounts)}"
        f"  {SOURCING_ACCOUNT} {{\n"
        "    users = [\n"
        f"{sourcing}\n"
        "    ]\n"
        "  }\n"
        "}\n"
        "leafnodes {\n"
        f"  listen: {leaf_listen}\n"
        f"{tls.server_block('  ') if tls else ''}"
        "  # Leaves reconnect to the address they were given, never to others the hub would\n"
        "  # advertise (a single hub's internal addresses are often unreachable from a region).\n"
        "  no_advertise: true\n"
        "}\n"
    )


@dataclass(frozen=True)
class Tls:
    """A server's certificate and key (PEM files), and the certificate authority that signed the
    other side's (the hub's, for a region's links)."""

    cert: str
    key: str
    ca: str | None = None

    def server_block(self, indent: str = "") -> str:
        """TLS required of whoever connects: clients, or leaf nodes at the hub."""
        return f'{indent}tls {{ cert_file: "{self.cert}", key_file: "{self.key}" }}\n'

    def remote_block(self) -> str:
        """A leaf link that speaks TLS and checks the hub's certificate."""
        ca = f'ca_file: "{self.ca}"' if self.ca else ""
        return f"tls {{ {ca} }}"


CLUSTER_ROUTES_VAR = "MAPNET_CLUSTER_ROUTES"
CLUSTER_PASSWORD_VAR = "MAPNET_CLUSTER_PASSWORD"
SERVER_NAME_VAR = "MAPNET_SERVER_NAME"
CLUSTER_PORT = 6222
# The one user a region's servers log in to each other's route port as.
ROUTE_USER = "route"


def cluster_block(region: str, listen: str, routes: str, tls: Tls | None = None) -> str:
    """The ``cluster`` block of each server of a region's JetStream cluster. ``routes``: a
    config value, the list of its peers' route URLs or a variable holding it (a server's own
    address among them is recognised and skipped, so every server may be given the same).
    Each URL carries the route login (``route_urls``)."""
    # authorization: a route joins the cluster as a peer of the region's own account, with no
    # user and no permissions (it hears everything and may publish anything, unstamped), so a
    # server takes a route only from a peer that knows the region's cluster password. The
    # password comes from the server's environment, never from a file or a command line.
    # no_advertise: clients keep to the servers they were given, with the login those URLs
    # carry; an advertised peer's address has none, and a client reconnecting to it was
    # refused (Authorization Violation) while its own list had servers up.
    # With TLS the routes are encrypted (the password does not cross in the clear) and, with
    # the authority, each side checks the other's certificate (nats-server asks a route's
    # client for one and checks it too: one certificate per server serves both ways).
    routes_tls = ""
    if tls:
        ca = f', ca_file: "{tls.ca}", verify: true' if tls.ca else ""
        routes_tls = f'  tls {{ cert_file: "{tls.cert}", key_file: "{tls.key}"{ca} }}\n'
    return (
        f"cluster {{\n  name: mapnet_{region}\n  listen: {listen}\n"
        f"  authorization {{ user: {ROUTE_USER}, password: ${CLUSTER_PASSWORD_VAR} }}\n"
        f"  routes: {routes}\n  no_advertise: true\n{routes_tls}}}\n"
    )


def route_urls(addresses: list[str] | tuple[str, ...], password: str) -> str:
    """The value of ``MAPNET_CLUSTER_ROUTES``: each peer's route address (host:port) with the
    route login. nats-server logs in to a peer only with what the route URL carries (a URL
    without it was refused: Authorization Violation), and cannot build a URL from a variable,
    so the password is written into each, in the servers' environment only."""
    return _list([f"nats-route://{ROUTE_USER}:{password}@{address}" for address in addresses])


@dataclass(frozen=True)
class ClusterNode:
    """One server of a region's JetStream cluster: its number, where it listens for its peers'
    routes, and where they listen (host:port, without the login: see ``environment``)."""

    node: int
    listen: str
    routes: tuple[str, ...]

    def block(self, region: str, tls: Tls | None = None) -> str:
        return cluster_block(region, self.listen, f"${CLUSTER_ROUTES_VAR}", tls)

    def environment(self, password: str) -> dict[str, str]:
        """What the server reads its route login and its peers' URLs from."""
        return {
            CLUSTER_PASSWORD_VAR: password,
            CLUSTER_ROUTES_VAR: route_urls(self.routes, password),
        }


def region_config(
    region: str,
    *,
    listen: str,
    store_dir: str,
    http_port: int | None = None,
    linked: bool = False,
    extra: str = "",
    any_region: bool = False,
    tls: Tls | None = None,
    cluster: ClusterNode | None = None,
) -> str:
    """``any_region``: partners may reach every region's subjects on this server (one server
    that tests share between regions of their own)."""
    # Monitoring names partners and their addresses: on the loopback only (a probe runs beside
    # the server; to publish it further, put an authenticating proxy in front).
    monitor = f"http: 127.0.0.1:{http_port}\n" if http_port else ""
    # Two links to the hub, whose address and this region's password come from the environment
    # (nats-leaf://<region>:<password>@<hub>:7422 and <region>_sourcing:…): requests with their
    # answers (the network operations, and the JetStream requests of copying shared streams) on
    # one, the copied messages with their flow control on the other. Each refuses what belongs
    # to the other, and the requests' link refuses, whatever the hub sends, every command and
    # query of this region that is not a network operation. Reconnect quickly after a cut.
    flow = ["$JS.FC.>", "$JS.ACK.>", f"{DELIVER_ROOT}.>"]
    requests = ["mapnet.>", "_INBOX.>", "$JS.*.API.>", "$JSC.>"]
    remote_tls = f"      {tls.remote_block()}\n" if tls else ""
    leaf = (
        f'leafnodes {{\n  reconnect: "1s"\n  remotes: [\n'
        f"    {{ url: ${HUB_LEAF_URL_VAR}, account: {SERVICES_ACCOUNT},\n{remote_tls}"
        f"      deny_imports: {_list(flow + local_only_subjects(region))},\n"
        f"      deny_exports: {_list(flow)} }},\n"
        f"    {{ url: ${HUB_SOURCING_URL_VAR}, account: {SERVICES_ACCOUNT},\n{remote_tls}"
        f"      deny_imports: {_list(requests)}, deny_exports: {_list(requests)} }}\n"
        "  ]\n}\n"
        if linked
        else ""
    )
    # A cluster's routes speak TLS where the peers' certificates can be checked (the authority
    # given): without it they would be checked against the system's authorities, which never
    # signed a machine's own certificate, and the cluster would not form.
    routes_tls = tls if tls and tls.ca else None
    # sync_interval always: an event JetStream acknowledged survives a crash of the machine.
    # Each server of a cluster has a name of its own (JetStream tells its peers apart by it).
    name = f"mapnet_{region}" + (f"_{cluster.node}" if cluster else "")
    return (
        f"server_name: {name}\n"
        f"listen: {listen}\n"
        f"{cluster.block(region, routes_tls) if cluster else ''}"
        f"{tls.server_block() if tls else ''}"
        f"{monitor}"
        "max_payload: 8MB\n"
        "jetstream {\n"
        f'  store_dir: "{store_dir}"\n'
        f"  domain: {region}\n"
        "  sync_interval: always\n"
        "}\n"
        f"{accounts_block(None if any_region else region)}"
        f"{leaf}"
        f"{extra}"
    )


def region_cluster_config(region: str, tls: Tls | None = None) -> str:
    """A server of a region's JetStream cluster, one per machine: the region's own file
    (``<region>.conf``: accounts, JetStream domain, and in a network its two leaf links to the
    hub, so that every server links and the region stays linked while any one is away),
    included, then the server's own name and the routes to its peers, both from its
    environment. ``region``: a region of the network, or ``region`` (region.conf, on its own)."""
    alone = region == "region"
    name = "tallinn" if alone else region  # region.conf is Tallinn's (docker-compose.yml)
    # With TLS the routes between the machines are encrypted too, each side checked.
    cluster = cluster_block(name, f"0.0.0.0:{CLUSTER_PORT}", f"${CLUSTER_ROUTES_VAR}", tls)
    # Each server's own links to the hub (in <region>.conf): the region keeps its link
    # without any one of them.
    linked = (
        ""
        if alone
        else "# Every server links to the hub: the region stays linked without any one.\n"
    )
    example = ", ".join(
        f"nats-route://{ROUTE_USER}:<password>@nats-{n}:{CLUSTER_PORT}" for n in (1, 2, 3)
    )
    return (
        f"# A NATS server of MAPnet region {name}{alone * ' on its own'}, one of its JetStream\n"
        "# cluster of three (or five), one per machine. Generated by `mapnet network config`.\n"
        f"# Each runs this file beside {region}.conf, which it includes, with what that file\n"
        "# asks for in its environment and\n"
        f"#   {SERVER_NAME_VAR}: its own name, e.g. mapnet_{name}_1, _2, _3\n"
        f"#   {CLUSTER_PASSWORD_VAR}: the region's route password, the same on each: a server\n"
        "#     takes routes only from peers that log in with it (letters and digits, a letter\n"
        "#     first, or NATS reads it as a number: e.g. pw$(openssl rand -hex 20))\n"
        f"#   {CLUSTER_ROUTES_VAR}: every server's route address with that password, the\n"
        "#     same on each, e.g.\n"
        f'#     "[{example}]"\n'
        f"{linked}"
        "# The region's services are given every server's URL and MAPNET_STREAM_REPLICAS=3.\n"
        f'include "{region}.conf"\n'
        f"server_name: ${SERVER_NAME_VAR}\n"
        f"{cluster}"
    )


def tls_in(folder: str) -> Tls:
    """A folder holding server.pem, server-key.pem and ca.pem (as a deployment mounts them)."""
    return Tls(f"{folder}/server.pem", f"{folder}/server-key.pem", f"{folder}/ca.pem")


def write_deploy(
    target: Path = DEPLOY / "nats", regions_file: Path | None = None, tls: Tls | None = None
) -> list[Path]:
    """The production configuration: one file for the hub, one per region, and per region one
    for each server of its JetStream cluster; with ``tls``, every client connection, leaf link
    and route encrypted, the regions checking the hub's certificate."""
    ids = [r.id for r in load_regions(regions_file)]
    target.mkdir(parents=True, exist_ok=True)
    written = {
        target / "hub.conf": hub_config(
            ids, listen="0.0.0.0:4222", leaf_listen="0.0.0.0:7422", http_port=8222, tls=tls
        )
    }
    for region in ids:
        written[target / f"{region}.conf"] = (
            f"# NATS server of MAPnet region {region}. Generated by `mapnet network config`.\n"
            f"# Set {HUB_LEAF_URL_VAR}=nats-leaf://{region}:<password>@<hub host>:7422 and\n"
            f"# {HUB_SOURCING_URL_VAR}=nats-leaf://{sourcing_user(region)}:<password>@<hub>:7422\n"
            + region_config(
                region,
                listen="0.0.0.0:4222",
                store_dir="/data/jetstream",
                http_port=8222,
                linked=True,
                tls=tls,
            )
        )
    # One region on its own, as docker-compose.yml runs it.
    written[target / "region.conf"] = (
        "# NATS server of one MAPnet region on its own (docker-compose.yml). Generated by\n"
        "# `mapnet network config`. Set MAPNET_SERVICE_PASSWORD (user mapnet: the operator)\n"
        "# and MAPNET_SERVICE_PASSWORD_<SERVICE> (each service's own user) for the server.\n"
        + region_config("tallinn", listen="0.0.0.0:4222", store_dir="/data/jetstream",
                        http_port=8222, tls=tls)
    )  # fmt: skip
    # Each of these as a JetStream cluster: every server runs the region's file with its own
    # name and the cluster's routes (<region>-cluster.conf includes <region>.conf).
    for region in [*ids, "region"]:
        written[target / f"{region}-cluster.conf"] = region_cluster_config(region, tls=tls)
    # One region on Kubernetes (deploy/k8s/): the NATS chart writes the server's own settings
    # (cluster, JetStream, domain), this file the accounts, users and permissions it includes.
    written[target / "accounts.conf"] = (
        "# The accounts of one MAPnet region on its own, for the NATS Helm chart to include\n"
        "# (deploy/k8s/nats-values.yaml). Generated by `mapnet network config`. The same\n"
        "# passwords as region.conf, from the server's environment.\n" + accounts_block("tallinn")
    )
    # What partners may publish, from the contracts; the partners themselves are added by the
    # operator (mapnet partner add writes partners.conf, and finance_partners.conf for those
    # added with --kind finance).
    written[target / PARTNER_PUBLISH_FILE] = partner_publish_conf()
    for users in PARTNER_FILES.values():
        if not (target / users).exists():
            written[target / users] = partners_conf({})
    for path, text in written.items():
        path.write_text(text)
    return list(written)
