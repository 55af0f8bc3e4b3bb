"""register_smes, the import's batch command, over the real servers: each row as register_sme
would register it (its checks, near duplicates, its event, the same SME for the same row), one
answer per row; a repeated batch answered from the reply cache, its rows sent again in another
batch found again; each row in the audit trail; the roles of register_sme exactly."""

from __future__ import annotations

import json
from typing import Any

import nats
import pytest

from contracts import registry as c
from contracts.access import ROLES, Actor
from contracts.audit import ListAudit, audit_query
from contracts.errors import Refused
from contracts.subjects import stream_name
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")


def rows(*given: tuple[str, c.RegisterSme]) -> c.RegisterSmes:
    return c.RegisterSmes(rows=[c.SmeRow(id=row_id, sme=sme) for row_id, sme in given])


async def registered_events(servers: Servers, region: str) -> int:
    """How many sme_registered events the registry's stream holds."""
    nc = await nats.connect(servers.nats_url)
    try:
        subject = c.SME_REGISTERED.subject(region)
        info = await nc.jetstream().stream_info(stream_name(region, "registry"), subject)
        return int((info.state.subjects or {}).get(subject, 0))
    finally:
        await nc.close()


async def trail(client: BusClient, region: str) -> list[dict[str, Any]]:
    async def entries() -> list[dict[str, Any]]:
        page = await client.call(audit_query("registry"), ListAudit(limit=100), region)
        return [e.model_dump(mode="json") for e in page.items]

    return await eventually(entries, until=lambda found: all(
        e["outcome"] != "pending" for e in found))  # fmt: skip


async def test_each_row_is_registered_as_register_sme_would_and_answered_on_its_own(
    servers: Servers, client: BusClient, region: str
) -> None:
    existing = await client.call(c.REGISTER_SME, new_sme(), region)
    batch = rows(
        ("r1", new_sme(reg="14000015", name="Valgus Optics OÜ")),
        ("r2", new_sme(reg="14000021", name="Photon Forge AS")),  # the existing SME's name
        ("r3", new_sme(reg="14000010", name="Bad Number OÜ")),  # check digit wrong
        ("r4", new_sme(reg="14000009", name="Taken Number OÜ")),  # the existing SME's number
        ("r5", new_sme(reg="14000038", name="Valgus Optics")),  # r1's name, same batch
        ("r1", new_sme(reg="14000015", name="Valgus Optics OÜ")),  # r1 again
        ("r6", new_sme(reg="14000044", name="Pilve Tech OÜ", nace_codes=["99.99"])),
    )
    answer = await client.call(c.REGISTER_SMES, batch, region, id="batch-1")
    by_row = [(r.id, r.outcome, r.error.code if r.error else None) for r in answer.rows]
    assert by_row == [
        ("r1", "registered", None),
        ("r2", "near_duplicate", None),
        ("r3", "refused", "validation_failed"),
        ("r4", "refused", "duplicate"),
        ("r5", "near_duplicate", None),
        ("r1", "registered", None),
        ("r6", "refused", "validation_failed"),
    ]
    r1, r2, r3, r4, r5, r1_again, r6 = answer.rows
    assert r2.near_duplicates == [existing.sme_id]
    assert r5.near_duplicates == [r1.sme_id]
    assert r1_again.sme_id == r1.sme_id and r1_again.repeated
    assert r3.error and r3.error.details["fields"][0]["field"] == "data.registration_number"
    assert r6.error and r6.error.details["fields"][0]["field"] == "data.nace_codes.0"
    assert r4.error and r4.error.details["existing_sme_id"] == existing.sme_id
    # The row registered as register_sme registers it: the same SME, with its near duplicate.
    view = await client.call(c.GET_SME, c.GetSme(sme_id=str(r2.sme_id)), region)
    assert view.near_duplicates == [existing.sme_id] and view.contacts
    assert view.stage_history[0].actor == "mapnet/tests" or view.stage_history[0].actor
    # One event per SME registered: the existing one and the batch's three.
    assert await eventually(lambda: registered_events(servers, region), until=lambda n: n >= 4) == 4

    # The same batch again: the first answer, byte for byte, from the reply cache.
    first = await client.raw(c.REGISTER_SMES, batch, region, id="batch-1")
    assert first["data"] == json.loads(answer.model_dump_json())
    # Its rows in another batch (an import run again): found again, nothing written.
    again = await client.call(
        c.REGISTER_SMES, rows(("r5", new_sme(reg="14000038", name="Valgus Optics")),
                              ("r1", new_sme(reg="14000015", name="Valgus Optics OÜ"))),
        region, id="batch-2",
    )  # fmt: skip
    assert [(r.sme_id, r.repeated, r.near_duplicates) for r in again.rows] == [
        (r5.sme_id, True, [r1.sme_id]),
        (r1.sme_id, True, []),
    ]
    # The same row id with other content is not a repeat.
    reused = await client.call(
        c.REGISTER_SMES, rows(("r1", new_sme(reg="14000050", name="Other OÜ"))), region
    )
    assert reused.rows[0].error and reused.rows[0].error.code == "id_reused"
    # A row registered by the batch is the same SME as register_sme with the row's id.
    single = await client.call(
        c.REGISTER_SME, new_sme(reg="14000015", name="Valgus Optics OÜ"), region, id="r1"
    )
    assert single.sme_id == r1.sme_id
    page = await client.call(c.SEARCH_SMES, c.SearchSmes(limit=100), region)
    assert len(page.items) == 4  # nothing doubled
    clusters = await client.call(c.LIST_CLUSTERS, c.ListClusters(), region)
    assert [(i.cluster, i.smes) for i in clusters.items] == [("photonics", 4)]
    assert await registered_events(servers, region) == 4

    # In the trail: each row (bad input aside) with its SME, besides the batches.
    entries = [e for e in await trail(client, region) if e["command_id"] == "batch-1"]
    rows_seen = sorted((e["record_id"] or "", e["outcome"]) for e in entries if e["record_id"])
    assert rows_seen == sorted(
        [(str(r.sme_id), "accepted") for r in (r1, r2, r5, r1_again)]
        + [(existing.sme_id, "duplicate")]
    )
    assert [e["outcome"] for e in entries if not e["record_id"]] == ["accepted"]  # the batch


async def test_a_row_that_breaks_the_schema_refuses_the_batch_naming_every_bad_field(
    client: BusClient, region: str
) -> None:
    batch = rows(("a", new_sme()), ("b", new_sme(reg="14000015")))
    env = json.loads(encode(make_envelope(c.REGISTER_SMES, batch, region=region, source="x",
                                          actor=client.acting(region))))  # fmt: skip
    bad = env["data"]["rows"][1]["sme"]
    bad |= {"registration_number": "14000010", "founded_on": "not-a-date"}
    msg = await client.nc.request(c.REGISTER_SMES.subject(region), json.dumps(env).encode())
    error = json.loads(msg.data)["data"]["error"]
    assert error["code"] == "validation_failed"
    fields = {f["field"] for f in error["details"]["fields"]}
    assert {"data.rows.1.sme.founded_on", "data.rows.1.sme.registration_number"} <= fields
    page = await client.call(c.SEARCH_SMES, c.SearchSmes(), region)
    assert page.items == []


async def test_who_may_register_many_is_who_may_register_one(
    client: BusClient, region: str
) -> None:
    """The roles of register_sme, to the letter, and staff only of their own region."""
    assert c.REGISTER_SMES.roles == c.REGISTER_SME.roles
    batch = rows(("x", new_sme()))
    for role in ROLES:
        actor = Actor(id=f"someone-{role}", role=role, region=region,
                      sme_id="s" if role == "sme" else None)  # fmt: skip
        if role in c.REGISTER_SME.roles:
            continue
        with pytest.raises(Refused) as refused:
            await client.call(c.REGISTER_SMES, batch, region, actor=actor)
        assert refused.value.code == "forbidden", role
    for role in ("map_admin", "map_staff"):
        elsewhere = Actor(id=f"{role}@riga.example", role=role, region="riga")
        with pytest.raises(Refused) as refused:
            await client.call(c.REGISTER_SMES, batch, region, actor=elsewhere)
        assert refused.value.code == "forbidden"
    assert (await client.call(c.SEARCH_SMES, c.SearchSmes(), region)).items == []
    for role in c.REGISTER_SME.roles:
        actor = Actor(id=f"someone-{role}", role=role, region=region)
        answer = await client.call(c.REGISTER_SMES, rows((role, new_sme(reg=_NUMBERS[role],
                                   name=f"{role} OÜ"))), region, actor=actor)  # fmt: skip
        assert answer.rows[0].outcome == "registered", role


_NUMBERS = {"map_admin": "14000015", "map_staff": "14000021", "operator": "14000038"}


async def test_an_erased_contact_leaves_no_trace_in_the_batchs_answer_or_trail(
    client: BusClient, region: str
) -> None:
    batch = rows(("only", new_sme()))
    answer = await client.call(c.REGISTER_SMES, batch, region, id="batch-erase")
    sme = await client.call(c.GET_SME, c.GetSme(sme_id=str(answer.rows[0].sme_id)), region)
    await client.call(
        c.ERASE_CONTACT,
        c.EraseContact(sme_id=sme.sme_id, contact_id=sme.contacts[0].id, reason="asked"),
        region,
    )
    repeat = await client.raw(c.REGISTER_SMES, batch, region, id="batch-erase")
    assert "mari@photonforge.ee" not in json.dumps(repeat)
    assert "Mari" not in json.dumps(repeat)
    assert "mari@photonforge.ee" not in json.dumps(await trail(client, region))
    assert (await client.call(c.GET_SME, c.GetSme(sme_id=sme.sme_id), region)).contacts == []
