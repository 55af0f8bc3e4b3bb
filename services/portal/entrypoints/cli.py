"""`mapnet user add`: the people who sign in to a region's portal (the first admin, demo users)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from contracts.errors import Refused

from .wiring import region_accounts

app = typer.Typer(help="People who sign in to the portal", no_args_is_help=True)


@app.command("add")
def add(
    email: Annotated[str, typer.Option(help="Their email: what they sign in with")],
    role: Annotated[str, typer.Option(help="map_admin, map_staff, organiser, sme or steering")],
    region: Annotated[str | None, typer.Option(help="Region of the portal")] = None,
    sme: Annotated[str | None, typer.Option(help="The SME a contact acts for (role sme)")] = None,
    event: Annotated[
        list[str] | None, typer.Option(help="An organiser's event (repeatable)")
    ] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters"
        ),
    ] = "",
) -> None:
    """Add a person (or set a person's role and password again)."""
    accounts, home = region_accounts(region)

    async def go() -> None:
        await accounts.add_user(email, role, home, password, sme, list(event or []))

    try:
        asyncio.run(go())
    except Refused as refused:
        fields = ", ".join(f["field"] for f in refused.details.get("fields", []))
        typer.echo(f"not added: {refused.message}" + (f" ({fields})" if fields else ""), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{email} may sign in to {home} as {role}")


@app.command("unlock")
def unlock(
    email: Annotated[str, typer.Option(help="The account to let sign in again")],
    region: Annotated[str | None, typer.Option(help="Region of the portal")] = None,
) -> None:
    """Lift every pause on signing in to an account (after failed sign-ins, from anywhere):
    an administrator always gets back in from here."""
    accounts, home = region_accounts(region)
    asyncio.run(accounts.unlock(email))
    typer.echo(f"{email} may sign in to {home} again")
