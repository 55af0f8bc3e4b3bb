"""`mapnet report …`: a region's reports from the command line, asked of its running reports
service (as the operator) and written to a file."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from contracts import reports as c
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings

app = typer.Typer(help="Monitoring and cluster reports (HTML, PDF, CSV)", no_args_is_help=True)

Region = Annotated[str | None, typer.Option(help="The region asked (and reported on)")]
Network = Annotated[bool, typer.Option("--network", help="The whole network, not one region")]
From = Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day")]
To = Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day")]
Format = Annotated[str, typer.Option("--format", help=f"One of {', '.join(c.REPORT_FORMATS)}")]
Table = Annotated[str | None, typer.Option(help="With csv: one table; none: every table, zipped")]
Out = Annotated[Path | None, typer.Option("--out", help="The file to write; default: its name")]
TIMEOUT_S = 300.0


def _write(reply: c.RenderedReport, out: Path | None) -> Path:
    path = out or Path(reply.filename)
    if reply.content is not None:
        path.write_bytes(base64.b64decode(reply.content))
    else:
        path.write_text(reply.text or "", encoding="utf-8")
    return path


async def _ask(region: str | None, query: c.ReportRequest) -> c.RenderedReport:
    url, rid = Settings().nats_url_for(region)
    bus = await BusClient.connect(url, region=rid, source="mapnet/cli", timeout_s=TIMEOUT_S)
    try:
        op = (
            c.GET_CLUSTER_REPORT
            if isinstance(query, c.GetClusterReport)
            else c.GET_MONITORING_REPORT
        )
        reply: c.RenderedReport = await bus.call(op, query, rid)
        return reply
    finally:
        await bus.close()


def _run(region: str | None, query: c.ReportRequest, out: Path | None) -> None:
    try:
        reply = asyncio.run(_ask(region, query))
    except Refused as refusal:
        typer.echo(f"refused ({refusal.code}): {refusal.message}", err=True)
        raise typer.Exit(1) from refusal
    path = _write(reply, out)
    scope = reply.region or "the network"
    typer.echo(
        f"{path}: {reply.title} ({scope}, {reply.period_from} to {reply.period_to}, made "
        f"{reply.made_at:%Y-%m-%d %H:%M} UTC)",
        err=True,
    )


def _query(kind: type[c.ReportRequest], **given: object) -> c.ReportRequest:
    try:
        return kind.model_validate(given)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@app.command()
def monitoring(
    period_from: From,
    period_to: To,
    region: Region = None,
    network: Network = False,
    form: Format = "pdf",
    table: Table = None,
    out: Out = None,
) -> None:
    """The monitoring report: the pilot's targets against what was reached, the coaching
    funnel, meetings, cooperation between regions, satisfaction, policy recommendations."""
    query = _query(
        c.GetMonitoringReport,
        period_from=period_from.date(),
        period_to=period_to.date(),
        region=region,
        network=network,
        format=form,
        table=table,
    )
    _run(region, query, out)


@app.command()
def cluster(
    name: Annotated[str, typer.Argument(help="The cluster, e.g. photonics")],
    period_from: From,
    period_to: To,
    region: Region = None,
    network: Network = False,
    form: Format = "pdf",
    table: Table = None,
    out: Out = None,
) -> None:
    """One cluster's report: its SMEs, what they offer and seek, meetings, events, stories."""
    query = _query(
        c.GetClusterReport,
        cluster=name,
        period_from=period_from.date(),
        period_to=period_to.date(),
        region=region,
        network=network,
        format=form,
        table=table,
    )
    _run(region, query, out)
