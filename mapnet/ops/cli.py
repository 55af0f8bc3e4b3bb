"""The `mapnet` command: run a region, serve one service, show status, export the contracts."""

from __future__ import annotations

import asyncio
import gc
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mapnet.ops.dlq_cli import dlq_app
from mapnet.runtime import logs
from mapnet.runtime.credentials import without_login
from mapnet.runtime.declaration import ServiceDeclaration, declared
from mapnet.runtime.settings import Settings

app = typer.Typer(
    help="MAPnet: Market Access Points for innovative SMEs of the Baltic Sea Region",
    no_args_is_help=True,
)
contracts_app = typer.Typer(help="The shared message contracts", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")
network_app = typer.Typer(help="The network of regions and its hub", no_args_is_help=True)
app.add_typer(network_app, name="network")
partner_app = typer.Typer(
    help="Partner systems of a region (users of its PARTNERS account)", no_args_is_help=True
)
app.add_typer(partner_app, name="partner")
app.add_typer(dlq_app, name="dlq")
for _service in declared().values():
    if (_commands := _service.commands()) is not None:
        app.add_typer(_commands, name=_service.cli_name or _service.name, help=_service.summary)
console = Console(stderr=True)

SERVICE_CHOICES = [*declared(), "all"]

# Where the demo's remote meetings meet, unless MAPNET_MEETING_ROOM_URL says otherwise.
DEMO_ROOMS = "https://meet.jit.si/mapnet-demo-{meeting_id}"


def _settings(regions: str | None = None) -> Settings:
    if regions == "all":  # every region of deploy/regions.toml (or MAPNET_REGIONS_FILE's)
        from mapnet.federation.config import load_regions

        regions = ",".join(r.id for r in load_regions())
    if regions:
        return Settings.model_validate({"MAPNET_REGIONS": regions})
    return Settings()


@app.command()
def up(
    regions: Annotated[
        str | None,
        typer.Option(help="Comma-separated region ids of deploy/regions.toml, or all of them: all"),
    ] = None,
    with_demo: Annotated[bool, typer.Option("--demo", help="Load the demo data set")] = False,
    nats_cluster: Annotated[
        int,
        typer.Option(
            help="Run each region's NATS as a JetStream cluster of this many servers (3 or 5), "
            "its streams kept on every one; in a network each server links to the hub",
        ),
    ] = 1,
    scale: Annotated[
        str | None,
        typer.Option(
            help="Processes of a service in each region, e.g. matching=2,notify=2: the region's "
            "process and more of that service alone, sharing its queue groups and consumers",
        ),
    ] = None,
) -> None:
    """Start the servers (unless NATS_URL / MONGO_URL are set) and all services of each region."""
    from mapnet.ops.scale import ScaleError, parse_scale
    from mapnet.ops.servers import ServerError
    from mapnet.ops.supervisor import Supervisor

    settings = _settings(regions)
    _check_known(settings.regions)
    _check_cluster(nats_cluster, settings)
    try:
        processes = parse_scale(scale, declared())
    except ScaleError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if with_demo:
        os.environ["MAPNET_DEMO"] = "1"  # the portal's sign-in page lists the demo accounts
        # The demo's remote meetings get rooms (a region sets its own; this one is public).
        os.environ.setdefault("MAPNET_MEETING_ROOM_URL", DEMO_ROOMS)
    supervisor = Supervisor(
        settings,
        settings.regions,
        # Plain text: process names (nats[tallinn#2]) and log tails hold brackets rich would eat.
        echo=lambda text: console.print(text, markup=False, highlight=False),
        nats_cluster=nats_cluster,
        scale=processes,
    )
    try:
        supervisor.start()
        console.print("waiting for the services to answer their health query …")
        reports = supervisor.wait_healthy()
        if supervisor.federated:
            reports = supervisor.wait_network()
    except KeyboardInterrupt as exc:  # Ctrl-C while starting: a normal stop
        supervisor.stop()
        console.print("stopped")
        raise typer.Exit(0) from exc
    except ServerError as exc:
        supervisor.stop()
        console.print(f"[red]mapnet up failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    _print_status(reports)
    _print_network(reports)
    if with_demo:
        # The regions' demos side by side: each region's is its own, on its own servers.
        with ThreadPoolExecutor(max_workers=len(supervisor.started) or 1) as loading:
            loads = [
                loading.submit(load_demo, settings.logged_in(r.nats_url, r.id), r.id)
                for r in supervisor.started
            ]
            for load in loads:
                load.result()
    console.print("MAPnet is running. Ctrl-C stops everything it started.")
    code = supervisor.watch()
    # Everything has stopped: the interpreter's last collection of this process's objects (every
    # service's declaration, imported for its commands) took seconds on a busy machine.
    gc.freeze()
    raise typer.Exit(code)


def _check_cluster(size: int, settings: Settings) -> None:
    """A cluster of 3 or 5 (a majority survives losing one or two) for each region whose
    servers `up` starts."""
    if size == 1:
        return
    problem = None
    if size not in (3, 5):
        problem = f"--nats-cluster is 3 or 5 (a majority must survive a loss), not {size}"
    elif settings.nats_url:
        problem = "--nats-cluster starts the region's servers: unset NATS_URL, or name your own"
    if problem:
        console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2)


@app.command()
def serve(
    service: Annotated[
        str, typer.Argument(help=f"One of {', '.join(SERVICE_CHOICES)}, or several: a,b")
    ],
    region: Annotated[list[str] | None, typer.Option(help="Region id; repeat for several")] = None,
) -> None:
    """Run one service (or several, or all) for a region in this process, until SIGINT or
    SIGTERM. One service logs in as its own NATS user; several as ``mapnet``."""
    from mapnet.runner import build_app

    services = list(declared()) if service == "all" else service.split(",")
    if unknown := [s for s in services if s not in declared()]:
        console.print(f"[red]unknown service {unknown[0]!r}[/red]; choose of {SERVICE_CHOICES}")
        raise typer.Exit(2)
    settings = _settings(",".join(region) if region else None)
    logs.configure(settings.log_level)
    settings = serving_as(settings, services[0] if len(services) == 1 else "all")
    # FastStream looks for the signal to stop every sleep_time (0.1 s by default: ten wake-ups
    # a second of an idle process for nothing); half a second is soon enough to begin stopping.
    asyncio.run(build_app(settings, services, settings.regions).run(sleep_time=0.5))


def serving_as(settings: Settings, service: str) -> Settings:
    """The settings of a `mapnet serve` process: a NATS URL that carries a login is used as it
    is; else one service logs in as its own user, whose rights are only what that service
    does, and ``all`` (every service on one connection) as ``mapnet``."""
    url = settings.nats_url or f"nats://127.0.0.1:{settings.nats_port}"
    if service == "all":
        url = settings.logged_in(url, settings.region)
    else:
        url = settings.logged_in_as(url, settings.region, service)
    return settings.model_copy(update={"nats_url": url})


@app.command()
def demo(region: Annotated[str | None, typer.Option(help="Region to fill")] = None) -> None:
    """Load the demo data set: a region a few months in (invented SMEs across the seed's
    clusters, their profiles, journeys and stories, a calendar, brokerage events with meetings);
    loading it again changes nothing."""
    url, rid = _settings().nats_url_for(region)
    load_demo(url, rid)


def load_demo(nats_url: str, region: str, names: Iterable[str] | None = None) -> None:
    """Each service's part of the demo (or the named services'), in ``demo_order``."""
    for service in demo_order(names):
        service.load_demo(nats_url, region)


def demo_order(names: Iterable[str] | None = None) -> list[ServiceDeclaration]:
    """The services whose demo builds on no other's first, then those whose demo builds only on
    theirs (`demo_after`: the portal's people act for the registry's SMEs, the brokerage part
    uses the calendar's events, the reports count everything), and so on; by name within each."""
    services = declared()
    wanted = set(services) if names is None else set(names)
    sorter = TopologicalSorter(
        {name: [d for d in s.demo_after if d in wanted] for name, s in services.items()
         if name in wanted}
    )  # fmt: skip
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order += ready
        sorter.done(*ready)
    return [services[name] for name in order]


def _check_known(regions: list[str]) -> None:
    """Every region `up` runs is one of the network's (``--regions all``: all of them); a
    mistyped id is refused, naming the ones known, before anything starts."""
    from mapnet.federation.config import REGIONS_FILE, load_regions

    known = [r.id for r in load_regions()]
    unknown = [r for r in regions if r not in known]
    if unknown:
        console.print(
            f"[red]unknown region(s) {', '.join(unknown)}[/red]; the network's regions: "
            f"{', '.join(known)} (or all of them: --regions all). A region joins the network "
            f"by a line in {os.environ.get('MAPNET_REGIONS_FILE') or REGIONS_FILE}"
        )
        raise typer.Exit(2)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    regions: Annotated[str | None, typer.Option(help="Comma-separated region ids")] = None,
) -> None:
    """Each region with its NATS URL, the health of each service and, in a network, its links
    to the other regions and how far its copy of what they share is behind."""
    from mapnet.ops.status import linked_servers, region_health

    settings = _settings(regions)
    found = [(r, settings.logged_in(url, r)) for r, url in settings.region_urls()]
    hub = settings.running().get("hub")
    network = [r for r, _ in found] if hub else settings.network

    async def gather() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(region_health(r, url, network) for r, url in found)))

    reports = asyncio.run(gather())
    # What `mapnet up` knows of its processes: how often it restarted them, and their load now.
    supervised = {r["id"]: r for r in settings.running().get("regions", [])}
    for report in reports:
        if report["id"] in supervised:
            report["restarts"] = supervised[report["id"]].get("restarts", 0)
            report["last_restart"] = supervised[report["id"]].get("last_restart")
    _add_processes(reports, supervised)
    doc: dict[str, Any] = {"regions": reports}
    if hub:
        linked = linked_servers(hub["monitor_url"])
        doc["hub"] = {
            **hub,
            "leaf_links": {r: r in linked for r, _ in found},
            # Which of each region's servers link (every one of a region's cluster does).
            "leaf_servers": {r: sorted(linked.get(r, ())) for r, _ in found},
        }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        _print_status(reports)
        _print_processes(reports)
        _print_consumers(reports)
        _print_network(reports)
    if not all(r["healthy"] for r in reports):
        raise typer.Exit(1)


def _add_processes(reports: list[dict[str, Any]], supervised: dict[str, Any]) -> None:
    """Each region's processes under `mapnet up` (servers and services), with whether each
    runs, its restarts, and its load: CPU (% of one core, sampled now) and resident memory."""
    from mapnet.ops.scale import process_load

    listed = [p for r in supervised.values() for p in r.get("processes") or []]
    loads = process_load(p["pid"] for p in listed if p.get("pid"))
    for report in reports:
        processes = (supervised.get(report["id"]) or {}).get("processes")
        if processes is None:
            continue
        report["processes"] = [
            {
                **process,
                "alive": process.get("pid") in loads,
                "cpu_percent": load.cpu_percent
                if (load := loads.get(process.get("pid")))
                else None,
                "rss_mb": load.rss_mb if load else None,
            }
            for process in processes
        ]


def _print_processes(reports: list[dict[str, Any]]) -> None:
    table = Table(title="Processes under mapnet up")
    for column in ("region", "process", "services", "pid", "alive", "restarts", "cpu %", "rss MB"):
        table.add_column(
            column, no_wrap=column == "process", min_width=19 if column == "process" else None
        )
    for report in reports:
        for p in report.get("processes") or []:
            services = p["services"]
            table.add_row(
                report["id"],
                escape(p["name"]),
                "all" if len(services) > 1 else ", ".join(services) or "(server)",
                str(p.get("pid") or ""),
                "[green]yes[/green]" if p["alive"] else "[red]no[/red]",
                str(p.get("restarts", 0)),
                "" if p["cpu_percent"] is None else f"{p['cpu_percent']:.1f}",
                "" if p["rss_mb"] is None else f"{p['rss_mb']:.0f}",
            )
    if table.rows:
        Console().print(table)


def _print_network(reports: list[dict[str, Any]]) -> None:
    if not any(r.get("links") for r in reports):
        return
    table = Table(title="Network: each region's copy of what the others share")
    for column in ("region", "from", "link", "copy", "behind (msgs)", "last active"):
        table.add_column(column)
    for report in reports:
        for other, link in (report.get("links") or {}).items():
            rep = (report.get("replication") or {}).get(other, {"state": "waiting"})
            active = rep.get("active_ms")
            state = {
                "waiting": "waiting (added once the region answers)",
                "behind": "catching up",
                "unreachable": "origin unreachable: answering from the copy",
            }.get(rep["state"], rep["state"])
            table.add_row(
                report["id"],
                other,
                link,
                state,
                "" if rep.get("behind") is None else str(rep["behind"]),
                "" if active is None else f"{active} ms ago",
            )
    Console().print(table)


def _print_consumers(reports: list[dict[str, Any]]) -> None:
    """Consumers that are behind, redelivering or holding dead letters; the rest in one line."""
    table = Table(title="Consumers behind, redelivering or with dead letters (mapnet dlq list)")
    for column in ("region", "consumer", "pending", "ack pending", "redelivered", "dead letters"):
        table.add_column(column, no_wrap=column == "consumer")
    quiet = 0
    for report in reports:
        found = report.get("consumers")
        if isinstance(found, dict):
            console.print(f"{report['id']}: consumers unreadable: {found['error']}")
            continue
        for c in found or []:
            counts = (c["pending"], c["ack_pending"], c["redelivered"], c["dead_letters"])
            if not any(counts):
                quiet += 1
                continue
            table.add_row(report["id"], c["consumer"], *(str(n) for n in counts))
    if table.rows:
        Console().print(table)
    if quiet:
        Console().print(f"{quiet} consumers caught up, nothing redelivered, no dead letters")


def _print_status(reports: list[dict[str, Any]]) -> None:
    table = Table(title="MAPnet")
    for column in ("region", "nats", "service", "status", "version", "mongo", "restarts"):
        table.add_column(column)
    for report in reports:
        restarts = str(report.get("restarts", ""))
        if report.get("last_restart"):
            restarts += f" (last {report['last_restart']})"
        for name, svc in report["services"].items():
            colour = "green" if svc.get("status") == "ok" else "red"
            table.add_row(
                report["id"],
                report["nats_url"],
                name,
                f"[{colour}]{svc.get('status')}[/{colour}]",
                str(svc.get("version") or ""),
                str(svc.get("mongo") if "mongo" in svc else ""),
                restarts,
            )
    Console().print(table)


@network_app.command("config")
def network_config(
    out: Annotated[Path | None, typer.Option(help="Folder to write to")] = None,
    tls_dir: Annotated[
        str | None,
        typer.Option(
            help="Encrypt every client connection and leaf link with the server.pem, "
            "server-key.pem and ca.pem in this folder (as the servers will see it)"
        ),
    ] = None,
) -> None:
    """Write the hub's and every region's NATS configuration from deploy/regions.toml."""
    from mapnet.federation.config import DEPLOY, tls_in, write_deploy

    written = write_deploy(out or DEPLOY / "nats", tls=tls_in(tls_dir) if tls_dir else None)
    console.print(f"wrote {len(written)} files under {out or DEPLOY / 'nats'}")


@contracts_app.command("export")
def contracts_export(
    out: Annotated[Path | None, typer.Option(help="Folder to write to")] = None,
) -> None:
    """Write contracts/asyncapi.json and contracts/schemas/*.json."""
    from mapnet.ops.spec import CONTRACTS_DIR, export

    written = export(out or CONTRACTS_DIR)
    console.print(f"wrote {len(written)} files under {out or CONTRACTS_DIR}")


@partner_app.command("add")
def partner_add(
    name: Annotated[str, typer.Argument(help="The partner's user name, e.g. acme")],
    region: Annotated[str | None, typer.Option(help="Region the partner belongs to")] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="general, or finance: a finance provider that may publish finance offers and "
            "list the SMEs that consented to be shown to finance partners"
        ),
    ] = "general",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line")] = False,
) -> None:
    """Create the partner's user, reload the region's NATS server, print how to connect (the
    password is shown this once)."""
    from contracts.access import PartnerKind
    from mapnet.ops.partners import PartnerBook, PartnerError

    settings = _settings()
    url, rid = settings.nats_url_for(region)
    book = PartnerBook(settings.region_home(rid))
    try:
        added = book.add(name, cast("PartnerKind", kind))  # the book refuses another kind
    except PartnerError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    reloaded = book.reload_server()
    details = {
        "nats_url": without_login(url),
        "user": added.user,
        "password": added.password,
        "kind": added.kind,
        # The only subjects the partner may subscribe to: its client's inbox prefix.
        "inbox_prefix": added.inbox_prefix,
    }
    if as_json:
        typer.echo(json.dumps(details))
    else:
        for key, value in details.items():
            typer.echo(f"{key}: {value}")
    if not reloaded:
        console.print(f"no NATS server of {rid} runs here: reload it to let {name} in")


@partner_app.command("list")
def partner_list(
    region: Annotated[str | None, typer.Option(help="Region")] = None,
) -> None:
    """The region's partner systems, their kind and when each was added."""
    from mapnet.ops.partners import PartnerBook

    settings = _settings()
    _, rid = settings.nats_url_for(region)
    table = Table(title=f"Partners of {rid}")
    table.add_column("partner")
    table.add_column("kind")
    table.add_column("added")
    for name, entry in sorted(PartnerBook(settings.region_home(rid)).list().items()):
        table.add_row(name, entry.get("kind", "general"), entry["added"])
    Console().print(table)


@partner_app.command("remove")
def partner_remove(
    name: Annotated[str, typer.Argument(help="The partner's user name")],
    region: Annotated[str | None, typer.Option(help="Region")] = None,
) -> None:
    """Remove the partner's user; the server closes its connections when it reloads."""
    from mapnet.ops.partners import PartnerBook, PartnerError

    settings = _settings()
    _, rid = settings.nats_url_for(region)
    book = PartnerBook(settings.region_home(rid))
    try:
        book.remove(name)
    except PartnerError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if book.reload_server():
        console.print(f"removed {name}; its connections are closed")
    else:
        console.print(f"removed {name}; no NATS server of {rid} runs here: reload it")


@app.command()
def audit(
    region: Annotated[str | None, typer.Option(help="Region")] = None,
    record: Annotated[str | None, typer.Option(help="Only entries about this record id")] = None,
    actor: Annotated[str | None, typer.Option(help="Only entries sent by this actor id")] = None,
    limit: Annotated[int, typer.Option(help="Entries per service", min=1, max=200)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """What every service of the region accepted and refused, and who asked, newest first."""
    from contracts.audit import ListAudit, audit_query
    from mapnet.runtime.bus import BusClient

    url, rid = _settings().nats_url_for(region)

    async def gather() -> list[dict[str, Any]]:
        client = await BusClient.connect(url, region=rid, source=f"mapnet/{rid}/cli")
        query = ListAudit(record_id=record, actor_id=actor, limit=limit)
        try:
            pages = await asyncio.gather(
                *(client.call(audit_query(s), query, rid) for s in declared())
            )
        finally:
            await client.close()
        entries = [e.model_dump(mode="json") for page in pages for e in page.items]
        return sorted(entries, key=lambda e: e["at"], reverse=True)

    entries = asyncio.run(gather())
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    table = Table(title=f"Audit trail of {rid}")
    for column in ("at", "service", "operation", "actor", "record", "outcome"):
        table.add_column(column)
    for e in entries:
        who = f"{e['actor']['id']} ({e['actor']['role']})" if e["actor"] else ""
        table.add_row(e["at"], e["service"], e["operation"], who, e["record_id"] or "",
                      e["outcome"])  # fmt: skip
    Console().print(table)
