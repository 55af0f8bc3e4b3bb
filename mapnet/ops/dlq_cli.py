"""`mapnet dlq list|show|replay|drop`: a region's dead letters on the command line (see
mapnet/ops/dlq.py for what each does to the stream)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import nats
import typer
from nats.aio.client import Client
from rich.console import Console
from rich.table import Table

from mapnet.ops import dlq
from mapnet.runtime.credentials import servers
from mapnet.runtime.settings import Settings

T = TypeVar("T")

dlq_app = typer.Typer(
    help="Dead letters: list, show, replay after a fix, or drop with a note", no_args_is_help=True
)
console = Console(stderr=True)

Region = Annotated[str | None, typer.Option(help="Region (the first one if none)")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output")]


def _on_region(region: str | None, work: Callable[[Client, str], Awaitable[T]]) -> T:
    url, rid = Settings().nats_url_for(region)  # the region's admin login, as `mapnet up` keeps

    async def run() -> T:
        nc = await nats.connect(servers(url), connect_timeout=5, max_reconnect_attempts=0)
        try:
            return await work(nc, rid)
        finally:
            await nc.close()

    try:
        return asyncio.run(run())
    except (dlq.BadName, dlq.AlreadyDropped) as refused:
        console.print(f"[red]{refused}[/red]")
        raise typer.Exit(2) from None


def _require(letter: dlq.DeadLetter | None, seq: int, rid: str) -> dlq.DeadLetter:
    if letter is None:
        console.print(f"[red]no dead letter {seq} in {rid}'s dead letters[/red]")
        raise typer.Exit(2)
    return letter


@dlq_app.command("list")
def dlq_list(
    region: Region = None,
    service: Annotated[str | None, typer.Option(help="Only this service's")] = None,
    consumer: Annotated[str | None, typer.Option(help="Only this consumer's")] = None,
    after: Annotated[int, typer.Option(help="After this sequence (the next page)", min=0)] = 0,
    limit: Annotated[int, typer.Option(help="At most this many", min=1, max=1000)] = 50,
    dropped: Annotated[bool, typer.Option("--dropped", help="Those dropped, with notes")] = False,
    as_json: AsJson = False,
) -> None:
    """The dead letters waiting, oldest first, with reason and age; says when there are more."""

    async def work(nc: Client, rid: str) -> dlq.Page:
        return await dlq.page(nc, rid, service=service, consumer=consumer, after=after,
                              limit=limit, dropped=dropped)  # fmt: skip

    found = _on_region(region, work)
    rows = [letter.summary() | ({"note": letter.headers.get(dlq.NOTE, "")} if dropped else {})
            for letter in found.items]  # fmt: skip
    if as_json:
        typer.echo(json.dumps({"items": rows, "next_after": found.next_after}, indent=2))
        return
    table = Table(title="Dead letters dropped" if dropped else "Dead letters waiting")
    columns = ["seq", "service", "consumer", "age_s", "reason"] + (["note"] if dropped else [])
    for column in columns:
        # What one copies into the next command is never wrapped or cut.
        table.add_column(column, no_wrap=column in ("seq", "consumer"))
    for row in rows:
        table.add_row(*(str(row[c]) for c in columns))
    Console().print(table)
    if found.next_after is not None:
        console.print(f"more: mapnet dlq list --after {found.next_after}")


@dlq_app.command("show")
def dlq_show(
    seq: Annotated[int, typer.Argument(help="The dead letter's sequence (from list)")],
    region: Region = None,
) -> None:
    """One dead letter whole: its headers (why, which consumer, how often) and the message."""

    async def work(nc: Client, rid: str) -> dict[str, Any]:
        return _require(await dlq.one(nc, rid, seq), seq, rid).whole()

    typer.echo(json.dumps(_on_region(region, work), indent=2, default=str))


@dlq_app.command("replay")
def dlq_replay(
    seq: Annotated[int | None, typer.Argument(help="One dead letter's sequence")] = None,
    consumer: Annotated[str | None, typer.Option(help="With --all: this consumer's")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dead letter of --consumer")] = False,
    region: Region = None,
    as_json: AsJson = False,
) -> None:
    """Send one dead letter, or all of a consumer's, back to its consumer after a fix.

    Each is handled once; those handled leave the dead letters, those that fail stay."""
    if (seq is None) == (not every) or (every and consumer is None):
        console.print("[red]give a sequence, or --all with --consumer[/red]")
        raise typer.Exit(2)

    async def work(nc: Client, rid: str) -> list[dict[str, Any]]:
        if seq is not None:
            letters = [_require(await dlq.one(nc, rid, seq), seq, rid)]
        else:
            letters = await dlq.everything(nc, rid, consumer=consumer)
        return [{"seq": letter.seq, **await dlq.replay(nc, rid, letter)} for letter in letters]

    outcomes = _on_region(region, work)
    if as_json:
        typer.echo(json.dumps(outcomes, indent=2))
    else:
        for o in outcomes:
            why = f" ({o['reason']})" if o["reason"] else ""
            console.print(f"{o['seq']}: {o['outcome']}{why}")
        if not outcomes:
            console.print("no dead letters to replay")
    if any(o["outcome"] == "failed" for o in outcomes):
        raise typer.Exit(1)


@dlq_app.command("drop")
def dlq_drop(
    seq: Annotated[int, typer.Argument(help="The dead letter's sequence")],
    note: Annotated[str, typer.Option(help="Why it is dropped (kept with it)")],
    region: Region = None,
) -> None:
    """Take a dead letter off the list, keeping it with the note among the dropped ones."""
    if not note.strip():
        console.print("[red]--note says why it is dropped: it may not be empty[/red]")
        raise typer.Exit(2)

    async def work(nc: Client, rid: str) -> None:
        await dlq.drop(nc, rid, _require(await dlq.one(nc, rid, seq), seq, rid), note)

    _on_region(region, work)
    console.print(f"dropped {seq}; mapnet dlq list --dropped shows it with the note")
