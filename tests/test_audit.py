"""The audit trail against the real servers: every command accepted or refused (for a reason
other than bad input) is there with its actor; an erasure keeps that it happened and removes
who acted for the erased SME; `mapnet audit` shows every service's trail."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from contracts import registry as rg
from contracts.access import Actor
from contracts.audit import ListAudit, audit_query
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers

pytestmark = pytest.mark.usefixtures("region_app")


async def trail(client: BusClient, region: str, **filters: str) -> list[dict[str, object]]:
    page = await client.call(audit_query("registry"), ListAudit(**filters), region)
    return [e.model_dump(mode="json") for e in page.items]


async def test_accepted_and_refused_commands_are_in_the_trail_with_their_actor(
    client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region, id="register-1")
    steering = Actor(id="official@tallinn.example", role="steering", region=region)
    with pytest.raises(Refused):
        await client.call(rg.REGISTER_SME, new_sme(reg="14000015"), region, actor=steering)
    stale = rg.UpdateSme(sme_id=sme.sme_id, expected_version=9, changes={"description": "x"})
    with pytest.raises(Refused):
        await client.call(rg.UPDATE_SME, stale, region)
    bad = await client.raw(rg.CHANGE_STAGE, rg.ChangeStage(sme_id=sme.sme_id, to_stage="selected",
                           actor="x", reason="y"), region)  # fmt: skip
    assert "error" not in bad["data"]  # accepted
    entries = await trail(client, region)
    seen = [(e["operation"], e["outcome"], e["actor"]["role"]) for e in entries]  # type: ignore[index]
    assert seen == [
        ("change_stage", "accepted", "map_admin"),
        ("update_sme", "conflict", "map_admin"),
        ("register_sme", "forbidden", "steering"),
        ("register_sme", "accepted", "map_admin"),
    ]
    first = entries[-1]
    assert first["record_id"] == sme.sme_id and first["command_id"] == "register-1"
    assert await trail(client, region, record_id="nobody") == []


async def test_erasure_removes_who_acted_for_the_sme_and_keeps_that_it_happened(
    client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    contact = Actor(id="mari@photonforge.ee", role="sme", region=region, sme_id=sme.sme_id)
    change = rg.UpdateSme(sme_id=sme.sme_id, expected_version=1, changes={"description": "New"})
    await client.call(rg.UPDATE_SME, change, region, actor=contact)
    await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=sme.sme_id, reason="asked"), region)
    entries = await trail(client, region, record_id=sme.sme_id)
    assert [e["operation"] for e in entries] == ["erase_sme", "update_sme", "register_sme"]
    assert "mari@photonforge.ee" not in json.dumps(entries)
    assert entries[1]["actor"]["id"] == "(erased)"  # type: ignore[index]


async def test_mapnet_audit_shows_every_services_trail(
    servers: Servers, client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    env = {**os.environ, "NATS_URL": servers.nats_url, "MAPNET_REGIONS": region}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mapnet", "audit", "--region", region, "--record", sme.sme_id,
         "--json"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert [(e["service"], e["operation"]) for e in entries] == [("registry", "register_sme")]
