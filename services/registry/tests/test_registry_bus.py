"""The registry over real NATS and the MongoDB-compatible server."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import nats
import pytest

from contracts import events as ev
from contracts import registry as c
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.subjects import stream_name
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from tests.fixtures import Servers
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")


def new_sme(reg: str = "14000009", name: str = "Photon Forge OÜ", **extra: Any) -> c.RegisterSme:
    base: dict[str, Any] = {
        "legal_name": name,
        "registration_number": reg,
        "country": "EE",
        "nace_codes": ["26.70"],
        "clusters": ["photonics"],
        "keywords": ["lasers"],
        "description": "Ultrafast lasers for micro-machining",
        "founded_on": "2021-05-01",
        "figures": [
            {"year": 2022, "staff_headcount": 12, "turnover_eur": "900000"},
            {"year": 2025, "staff_headcount": 30, "turnover_eur": "4000000"},
        ],
        "contacts": [
            {"name": "Mari Maasikas", "email": "mari@photonforge.ee", "consent_contact": True}
        ],
    }
    return c.RegisterSme.model_validate({**base, **extra})


async def test_register_and_get_with_derived_classes(client: BusClient, region: str) -> None:
    view = await client.call(c.REGISTER_SME, new_sme(), region)
    assert view.size_class.value == "small" and view.size_class.reasons
    assert view.growth_class.value == "gazelle"
    assert view.contacts[0].consent_contact_at is not None
    again = await client.call(c.GET_SME, c.GetSme(sme_id=view.sme_id), region)
    assert again.version == 1 and again.legal_name == "Photon Forge OÜ"


async def test_repeated_command_gets_the_same_answer(client: BusClient, region: str) -> None:
    first = await client.raw(c.REGISTER_SME, new_sme(), region, id="cmd-1")
    second = await client.raw(c.REGISTER_SME, new_sme(), region, id="cmd-1")
    # The same result and correlation; each reply is a message of its own (id, time).
    assert first["data"] == second["data"] and first["type"] == second["type"]
    assert first["correlationid"] == second["correlationid"] == "cmd-1"
    page = await client.call(c.SEARCH_SMES, c.SearchSmes(), region)
    assert len(page.items) == 1


async def test_repeated_command_answered_from_the_reply_cache(
    client: BusClient, region: str
) -> None:
    sme = await client.call(c.REGISTER_SME, new_sme(), region)
    stage = c.ChangeStage(sme_id=sme.sme_id, to_stage="selected", actor="anna", reason="pitch")
    first = await client.raw(c.CHANGE_STAGE, stage, region, id="move-1")
    second = await client.raw(c.CHANGE_STAGE, stage, region, id="move-1")
    assert first == second  # the very same reply, not a second transition refused
    assert first["data"]["stage"] == "selected"


async def test_duplicates_are_refused_and_near_duplicates_flagged(
    client: BusClient, region: str
) -> None:
    first = await client.call(c.REGISTER_SME, new_sme(vat_id="EE100931558"), region)
    with pytest.raises(Refused) as dup:
        await client.call(c.REGISTER_SME, new_sme(name="Other AS"), region)
    assert dup.value.code == "duplicate"
    assert dup.value.details == {
        "field": "data.registration_number",
        "existing_sme_id": first.sme_id,
    }
    with pytest.raises(Refused) as dup_vat:
        await client.call(c.REGISTER_SME, new_sme(reg="14000021", vat_id="EE100931558"), region)
    assert dup_vat.value.details["field"] == "data.vat_id"
    near = await client.call(
        c.REGISTER_SME, new_sme(reg="14000038", name="PHOTON-FORGE AS"), region
    )
    assert near.near_duplicates == [first.sme_id]


async def test_stale_version_is_a_conflict_and_concurrent_updates_one_wins(
    client: BusClient, region: str
) -> None:
    sme = await client.call(c.REGISTER_SME, new_sme(), region)

    def update(desc: str) -> c.UpdateSme:
        return c.UpdateSme(
            sme_id=sme.sme_id, expected_version=1, changes=c.SmeChanges(description=desc)
        )

    results = await asyncio.gather(
        client.call(c.UPDATE_SME, update("one"), region),
        client.call(c.UPDATE_SME, update("two"), region),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, c.SmeView)]
    lost = [r for r in results if isinstance(r, Refused)]
    assert len(won) == 1 and len(lost) == 1 and lost[0].code == "conflict"
    stored = await client.call(c.GET_SME, c.GetSme(sme_id=sme.sme_id), region)
    assert stored.version == 2 and stored.description == won[0].description


async def test_journey_profiles_and_search(client: BusClient, region: str) -> None:
    sme = await client.call(c.REGISTER_SME, new_sme(), region)
    await client.call(
        c.REGISTER_SME,
        new_sme(
            reg="14000015",
            name="Baltic Code OÜ",
            nace_codes=["62.01"],
            clusters=["ict"],
            description="SaaS",
        ),
        region,
    )
    with pytest.raises(Refused) as refused:
        await client.call(
            c.CHANGE_STAGE,
            c.ChangeStage(sme_id=sme.sme_id, to_stage="coached", actor="anna", reason="x"),
            region,
        )
    assert refused.value.code == "conflict"
    moved = await client.call(
        c.CHANGE_STAGE,
        c.ChangeStage(sme_id=sme.sme_id, to_stage="selected", actor="anna", reason="pitch"),
        region,
    )
    # Who moved it is the request's actor (the client's), not the "anna" its data names.
    assert moved.stage == "selected" and moved.stage_history[-1].actor == "mapnet/tests"

    profile = c.ProfileInput(
        type="technology_offer",
        title="Femtosecond laser micro-machining",
        summary="Licensing our process",
        partnership_types=["licence"],
        expires_on=date(2030, 1, 1),
    )
    with_profile = await client.call(
        c.PUBLISH_PROFILE, c.PublishProfile(sme_id=sme.sme_id, profile=profile), region
    )
    profile_id = with_profile.profiles[0].profile_id
    withdrawn = await client.call(
        c.WITHDRAW_PROFILE, c.WithdrawProfile(sme_id=sme.sme_id, profile_id=profile_id), region
    )
    assert withdrawn.profiles[0].status == "withdrawn"

    by_section = await client.call(c.SEARCH_SMES, c.SearchSmes(nace="C"), region)
    assert [i.legal_name for i in by_section.items] == ["Photon Forge OÜ"]
    by_division = await client.call(c.SEARCH_SMES, c.SearchSmes(nace="62"), region)
    assert [i.legal_name for i in by_division.items] == ["Baltic Code OÜ"]
    by_text = await client.call(c.SEARCH_SMES, c.SearchSmes(text="micro-machining"), region)
    assert len(by_text.items) == 1
    # Every word must be found: the beginning of a name's word, or a description's word.
    for text, found in (("PHOT ultrafast", 1), ("phot zebra", 0), ("forge photon", 1),
                        ("ultra", 0)):  # fmt: skip
        page = await client.call(c.SEARCH_SMES, c.SearchSmes(text=text), region)
        assert len(page.items) == found, text
    selected = await client.call(
        c.SEARCH_SMES, c.SearchSmes(stage="selected", growth_class="gazelle"), region
    )
    assert [i.sme_id for i in selected.items] == [sme.sme_id]
    first = await client.call(c.SEARCH_SMES, c.SearchSmes(limit=1), region)
    assert first.next_cursor
    second = await client.call(
        c.SEARCH_SMES, c.SearchSmes(limit=1, cursor=first.next_cursor), region
    )
    assert [i.legal_name for i in first.items + second.items] == [
        "Baltic Code OÜ",
        "Photon Forge OÜ",
    ]
    assert second.next_cursor is None


async def test_training_completed_moves_a_selected_sme_once(
    servers: Servers, client: BusClient, region: str
) -> None:
    sme = await client.call(c.REGISTER_SME, new_sme(), region)
    await client.call(
        c.CHANGE_STAGE,
        c.ChangeStage(sme_id=sme.sme_id, to_stage="selected", actor="a", reason="b"),
        region,
    )
    done = ev.TrainingCompleted(
        event_id="course-1",
        region=region,
        registration_id="r1",
        sme=SmeRef(region=region, sme_id=sme.sme_id),
    )
    env = make_envelope(
        ev.TRAINING_COMPLETED, done, region=region, source=f"mapnet/{region}/events"
    )
    subject = ev.TRAINING_COMPLETED.subject(region)
    nc = await nats.connect(servers.nats_url)
    js = nc.jetstream()
    try:
        for msg_id in ("x1", "x2"):  # the same event twice, past JetStream's deduplication
            second = await js.publish(subject, encode(env), headers={"Nats-Msg-Id": msg_id})
        view = await eventually(
            lambda: client.call(c.GET_SME, c.GetSme(sme_id=sme.sme_id), region),
            until=lambda v: v.stage == "trained",
        )
        # Until the registry's consumer has acknowledged the second copy too: it was handled.
        await eventually(
            lambda: _acked_up_to(js, second.stream, subject), until=lambda seq: seq >= second.seq
        )
    finally:
        await nc.close()
    again = await client.call(c.GET_SME, c.GetSme(sme_id=sme.sme_id), region)
    assert again.version == view.version == 3


async def _acked_up_to(js: Any, stream: str, subject: str) -> int:
    """How far the durable consumer of ``subject`` has acknowledged the stream."""
    consumers = [
        info
        for info in await js.consumers_info(stream)
        if subject in (info.config.filter_subject, *(info.config.filter_subjects or []))
    ]
    assert len(consumers) == 1, [info.name for info in consumers]
    return int(consumers[0].ack_floor.stream_seq)


async def test_erase_removes_data_and_publishes_a_tombstone(
    servers: Servers, client: BusClient, region: str
) -> None:
    sme = await client.call(c.REGISTER_SME, new_sme(), region)
    await client.call(
        c.ERASE_SME, c.EraseSme(sme_id=sme.sme_id, reason="request of the company"), region
    )
    with pytest.raises(Refused) as gone:
        await client.call(c.GET_SME, c.GetSme(sme_id=sme.sme_id), region)
    assert gone.value.code == "not_found"
    nc = await nats.connect(servers.nats_url)
    js = nc.jetstream()

    async def last_erased() -> Any:
        try:
            return await js.get_last_msg(
                stream_name(region, "registry"), c.SME_ERASED.subject(region)
            )
        except nats.js.errors.NotFoundError:
            return None

    msg = await eventually(last_erased, until=lambda m: m is not None)
    assert json.loads(msg.data)["data"]["sme_id"] == sme.sme_id
    await nc.close()
    page = await client.call(c.SEARCH_SMES, c.SearchSmes(), region)
    assert page.items == []


async def test_bad_input_changes_nothing(client: BusClient, region: str) -> None:
    sme = await client.call(c.REGISTER_SME, new_sme(), region)
    body = json.loads(
        encode(
            make_envelope(
                c.UPDATE_SME,
                c.UpdateSme(
                    sme_id=sme.sme_id, expected_version=1, changes=c.SmeChanges(description="new")
                ),
                region=region,
                source="t",
            )
        )
    )
    body["data"]["changes"]["nace_codes"] = ["not-a-code"]
    reply = await client.nc.request(
        c.UPDATE_SME.subject(region), json.dumps(body).encode(), timeout=5
    )
    error = json.loads(reply.data)["data"]["error"]
    assert error["code"] == "validation_failed"
    assert error["details"]["fields"][0]["field"] == "data.changes.nace_codes.0"
    stored = await client.call(c.GET_SME, c.GetSme(sme_id=sme.sme_id), region)
    assert stored.version == 1 and stored.description == sme.description


async def test_national_rules_and_nace_refuse_over_the_bus(client: BusClient, region: str) -> None:
    with pytest.raises(Refused) as refused:
        await client.call(
            c.REGISTER_SME, new_sme(reg="14000001", nace_codes=["26.70", "29.70"]), region
        )
    assert refused.value.code == "validation_failed"
    fields = {f["field"] for f in refused.value.details["fields"]}
    assert fields == {"data.registration_number", "data.nace_codes.1"}
    page = await client.call(c.SEARCH_SMES, c.SearchSmes(), region)
    assert page.items == []


async def test_erasing_a_contact_and_smes_leaves_no_personal_data(
    servers: Servers, client: BusClient, region: str
) -> None:
    from mapnet.runtime import mongo

    sme = await client.call(c.REGISTER_SME, new_sme(), region, id="register-photon")
    other = await client.call(
        c.REGISTER_SME, new_sme(reg="14000015", name="Other OÜ", contacts=[]), region
    )
    contact_id = sme.contacts[0].id
    after = await client.call(
        c.ERASE_CONTACT,
        c.EraseContact(sme_id=sme.sme_id, contact_id=contact_id, reason="asked"),
        region,
    )
    assert after.contacts == []
    with pytest.raises(Refused) as gone:
        await client.call(
            c.ERASE_CONTACT,
            c.EraseContact(sme_id=sme.sme_id, contact_id=contact_id, reason="again"),
            region,
        )
    assert gone.value.code == "not_found"
    db = mongo.database(mongo.client(servers.mongo_url), region, "registry")
    everything = [doc async for doc in db.command_replies.find({})]
    everything += [doc async for doc in db.smes.find({})]
    assert "mari@photonforge.ee" not in json.dumps(everything, default=str)
    # The register command, sent again, is now answered afresh, not from the forgotten cache.
    again = await client.call(c.REGISTER_SME, new_sme(), region, id="register-photon")
    assert again.contacts == [] and again.sme_id == sme.sme_id

    for sme_id in (sme.sme_id, other.sme_id):  # two tombstones side by side
        await client.call(c.ERASE_SME, c.EraseSme(sme_id=sme_id, reason="closed"), region)
    nc = await nats.connect(servers.nats_url)
    js = nc.jetstream()
    msg = await eventually(
        lambda: js.get_last_msg(stream_name(region, "registry"), c.CONTACT_ERASED.subject(region)),
        until=lambda m: m is not None,
    )
    assert json.loads(msg.data or b"{}")["data"]["contact_id"] == contact_id
    await nc.close()


async def test_draft_then_publish_a_profile(client: BusClient, region: str) -> None:
    sme = await client.call(c.REGISTER_SME, new_sme(), region)
    given = c.ProfileInput(
        type="rd_request",
        title="Partners for a Horizon photonics call",
        summary="Looking for two research partners",
        partnership_types=["research_cooperation"],
        expires_on=date(2030, 6, 30),
        target_countries=["FI", "DE"],
    )
    drafted = await client.call(
        c.DRAFT_PROFILE, c.PublishProfile(sme_id=sme.sme_id, profile=given), region
    )
    assert [p.status for p in drafted.profiles] == ["draft"]
    profile_id = drafted.profiles[0].profile_id
    final = given.model_copy(update={"profile_id": profile_id})
    published = await client.call(
        c.PUBLISH_PROFILE,
        c.PublishProfile(sme_id=sme.sme_id, expected_version=drafted.version, profile=final),
        region,
    )
    assert [(p.profile_id, p.status) for p in published.profiles] == [(profile_id, "published")]


async def test_schema_and_national_rules_are_named_in_one_answer(
    client: BusClient, region: str
) -> None:
    """The partner's story: five mistakes in one register_sme, five fields in one answer."""
    doc = json.loads(encode(make_envelope(c.REGISTER_SME, new_sme(), region=region, source="p")))
    doc["data"] |= {
        "registration_number": "14000001",  # wrong check digit
        "vat_id": "EE100000001",  # wrong check digit
        "nace_codes": ["26.79"],  # not in NACE Rev. 2
        "figures": [{"year": 2025, "staff_headcount": -1}],
        "contacts": [{"name": "Mari Vale", "email": "mari.vale@@valeandmed.ee"}],
    }
    msg = await client.nc.request(c.REGISTER_SME.subject(region), json.dumps(doc).encode())
    error = json.loads(msg.data)["data"]["error"]
    assert error["code"] == "validation_failed"
    assert {f["field"] for f in error["details"]["fields"]} == {
        "data.registration_number",
        "data.vat_id",
        "data.nace_codes.0",
        "data.figures.0.staff_headcount",
        "data.contacts.0.email",
    }
