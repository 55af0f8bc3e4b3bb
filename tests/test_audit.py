"""The audit trail against the real servers: every command accepted or refused (for a reason
other than bad input) is there with its actor; an erasure keeps that it happened and removes
who acted for the erased SME; `mapnet audit` shows every service's trail."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from typing import Any

import pytest

from contracts import events as ev
from contracts import registry as rg
from contracts.access import Actor
from contracts.audit import ListAudit, audit_query
from contracts.errors import Refused
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.credentials import with_login, without_login
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import connect_when_let_in, eventually
from tests.three_regions import an_entry

pytestmark = pytest.mark.usefixtures("region_app")


async def trail(client: BusClient, region: str, **filters: str) -> list[dict[str, object]]:
    """The registry's trail once every outcome is written (an accepted command's is written
    while its answer goes out)."""

    async def entries() -> list[dict[str, object]]:
        page = await client.call(audit_query("registry"), ListAudit(**filters), region)
        return [e.model_dump(mode="json") for e in page.items]

    return await eventually(entries, until=lambda found: all(
        e["outcome"] != "pending" for e in found))  # fmt: skip


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


async def test_a_command_whose_entry_cannot_be_written_is_not_carried_out(
    servers: Servers, client: BusClient, region: str
) -> None:
    # The database refuses this one entry (a unique correlation id taken), as a full disk or a
    # lost primary would refuse all: the command must then change nothing.
    entries = mongo.database(mongo.client(servers.mongo_url), region, "registry")["audit"]
    await entries.create_index("correlationid", unique=True, name="one_per_correlation")
    await entries.insert_one({"_id": "taken", "correlationid": "taken"})
    with pytest.raises(Refused) as refused:
        await client.call(rg.REGISTER_SME, new_sme(), region, correlationid="taken")
    assert refused.value.code == "internal"
    page = await client.call(rg.SEARCH_SMES, rg.SearchSmes(), region)
    assert page.items == []
    await entries.delete_one({"_id": "taken"})  # (not an entry: list_audit could not read it)
    sme = await client.call(rg.REGISTER_SME, new_sme(), region, correlationid="free")
    assert [(e["operation"], e["outcome"]) for e in await trail(client, region)] == [
        ("register_sme", "accepted")
    ]
    assert (await trail(client, region))[0]["record_id"] == sme.sme_id


async def test_erasing_a_contact_forgets_only_them_and_an_sme_only_its_contacts(
    client: BusClient, region: str
) -> None:
    two = new_sme(contacts=[{"name": "Mari", "email": "mari@photonforge.ee"},
                            {"name": "Jaan", "email": "jaan@photonforge.ee"}])  # fmt: skip
    sme = await client.call(rg.REGISTER_SME, two, region)
    mari, jaan = sme.contacts
    acting = [
        Actor(id="Mari@photonforge.ee", role="sme", region=region, sme_id=sme.sme_id),
        Actor(id="jaan@photonforge.ee", role="sme", region=region, sme_id=sme.sme_id),
        # Staff acting with the SME named (as a portal page about it may): still staff.
        Actor(id="anna@map.example", role="map_staff", region=region, sme_id=sme.sme_id),
    ]
    for n, actor in enumerate(acting, start=1):
        change = rg.UpdateSme(sme_id=sme.sme_id, expected_version=n,
                              changes={"description": f"v{n}"})  # fmt: skip
        await client.call(rg.UPDATE_SME, change, region, actor=actor)
    erase = rg.EraseContact(sme_id=sme.sme_id, contact_id=mari.id, reason="asked")
    await client.call(rg.ERASE_CONTACT, erase, region)

    async def who_updated() -> list[Any]:
        entries = await trail(client, region, record_id=sme.sme_id)
        return [e["actor"]["id"] for e in entries if e["operation"] == "update_sme"]  # type: ignore[index]

    assert await who_updated() == ["anna@map.example", "jaan@photonforge.ee", "(erased)"]
    await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=sme.sme_id, reason="asked"), region)
    assert await who_updated() == ["anna@map.example", "(erased)", "(erased)"]
    assert jaan.email not in json.dumps(await trail(client, region))


async def test_the_trail_keeps_what_the_server_vouched_for_about_the_connection(
    servers: Servers, client: BusClient, region: str
) -> None:
    book = servers.partner_book()
    added = book.add("audited" + secrets.token_hex(3))
    try:
        assert book.reload_server()
        url = with_login(without_login(servers.nats_url), added.user, added.password)
        nc = await connect_when_let_in(url, inbox_prefix=added.inbox_prefix)
        # It claims to be the region's admin; the server's stamp says who it is.
        bus = BusClient(nc, source="https://acme.example", role="map_admin")
        await bus.call(ev.PUBLISH_EVENT, an_entry("Acme Days", partner_id=added.user), region)
        await nc.close()
    finally:
        book.remove(added.user)
        book.reload_server()
    page = await client.call(audit_query("events"), ListAudit(), region)
    [entry] = [e for e in page.items if e.operation == "publish_event"]
    assert entry.connection == f"PARTNERS/{added.user}"
    assert entry.actor is not None
    assert (entry.actor.id, entry.actor.role) == (added.user, "partner")
    mine = await client.call(rg.REGISTER_SME, new_sme(), region)
    [own] = await trail(client, region, record_id=mine.sme_id)
    assert own["connection"] is None  # the region's own account: nothing stamped
