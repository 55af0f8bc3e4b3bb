"""A repeat is the same operation from the same caller with the same id and content. An id used
again for other content is the typed error ``id_reused``, never the first command's answer; the
same id from another caller, or for another operation, is a command of its own."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts import events as ev
from contracts import matching as mt
from contracts import notify as nt
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.registry_file import command_id
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from services.matching.tests.test_matching_bus import brokerage
from services.registry.tests.test_registry_bus import new_sme

pytestmark = pytest.mark.usefixtures("region_app")


async def test_an_id_used_again_for_other_content_is_refused(
    client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region, id="k-1")
    again = await client.call(rg.REGISTER_SME, new_sme(), region, id="k-1")
    assert again.sme_id == sme.sme_id  # a true repeat
    with pytest.raises(Refused) as refused:
        await client.call(rg.REGISTER_SME, new_sme(name="Decoy OÜ"), region, id="k-1")
    assert refused.value.code == "id_reused"
    update = rg.UpdateSme(sme_id=sme.sme_id, expected_version=1, changes={"description": "A"})
    await client.call(rg.UPDATE_SME, update, region, id="k-2")
    other = rg.UpdateSme(sme_id=sme.sme_id, expected_version=1, changes={"description": "B"})
    with pytest.raises(Refused) as refused:
        await client.call(rg.UPDATE_SME, other, region, id="k-2")
    assert refused.value.code == "id_reused"
    stored = await client.call(rg.GET_SME, rg.GetSme(sme_id=sme.sme_id), region)
    assert stored.description == "A" and stored.legal_name == "Photon Forge OÜ"


async def test_the_same_id_for_another_operation_is_not_its_repeat(
    client: BusClient, region: str
) -> None:
    gone = await client.call(rg.REGISTER_SME, new_sme(), region)
    kept = await client.call(rg.REGISTER_SME, new_sme(reg="14000015", name="Kept OÜ"), region)
    await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=gone.sme_id, reason="asked"), region,
                      id="shared-id")  # fmt: skip
    stage = rg.ChangeStage(sme_id=kept.sme_id, to_stage="selected", actor="x", reason="y")
    view = await client.call(rg.CHANGE_STAGE, stage, region, id="shared-id")
    assert view.sme_id == kept.sme_id and view.stage == "selected"


async def test_an_import_id_taken_first_by_another_caller_does_not_hide_the_real_company(
    client: BusClient, region: str
) -> None:
    real = new_sme()
    decoy_sender = Actor(id="someone@tallinn.example", role="map_staff", region=region)
    decoy = new_sme(reg="14000015", name="Decoy OÜ")
    await client.call(rg.REGISTER_SME, decoy, region, id=command_id(real), actor=decoy_sender)
    imported = await client.call(rg.REGISTER_SME, real, region, id=command_id(real))
    assert imported.legal_name == "Photon Forge OÜ"
    page = await client.call(rg.SEARCH_SMES, rg.SearchSmes(), region)
    assert {s.legal_name for s in page.items} == {"Photon Forge OÜ", "Decoy OÜ"}


class Resender:
    """Sends one envelope, byte for byte, as often as asked: what a client that timed out does."""

    def __init__(self, client: BusClient, region: str) -> None:
        self.client, self.region = client, region

    def envelope(self, op: Any, data: Any) -> bytes:
        env = make_envelope(
            op, data, region=self.region, source="test", actor=self.client.acting(self.region)
        )
        return encode(env)

    async def send(self, op: Any, raw: bytes) -> bytes:
        msg = await self.client.nc.request(op.subject(self.region), raw, timeout=5)
        assert json.loads(msg.data)["type"] == op.reply_type, msg.data
        return bytes(msg.data)


async def test_every_kind_of_command_repeated_gets_its_first_answer_byte_for_byte(
    client: BusClient, region: str
) -> None:
    """The README: a client that timed out "sends the same envelope again and gets the same
    answer", even when the record has changed in between."""
    again = Resender(client, region)
    # register_sme, then the SME moves on
    register = again.envelope(rg.REGISTER_SME, new_sme())
    first = await again.send(rg.REGISTER_SME, register)
    sme_id = json.loads(first)["data"]["sme_id"]
    stage = rg.ChangeStage(sme_id=sme_id, to_stage="selected", actor="x", reason="y")
    await client.call(rg.CHANGE_STAGE, stage, region)
    assert await again.send(rg.REGISTER_SME, register) == first
    # publish_event, then the publisher sends a new version
    publish = again.envelope(ev.PUBLISH_EVENT, brokerage())
    first = await again.send(ev.PUBLISH_EVENT, publish)
    event_id = json.loads(first)["data"]["event_id"]
    newer = brokerage().model_copy(update={"title": "Baltic Sea Brokerage Day, new venue"})
    await client.call(ev.PUBLISH_EVENT, newer, region)
    assert await again.send(ev.PUBLISH_EVENT, publish) == first
    # register_participant, then the registration is cancelled
    people = [SmeRef(region=region, sme_id=f"sme-{i}") for i in range(3)]
    registrations = []
    for i, sme in enumerate(people):
        data = ev.RegisterParticipant(
            event_id=event_id, person_name=f"P {i}", email=f"p{i}@x.fi", sme=sme
        )
        raw = again.envelope(ev.REGISTER_PARTICIPANT, data)
        registrations.append((raw, await again.send(ev.REGISTER_PARTICIPANT, raw)))
    raw, first = registrations[2]
    cancel = ev.CancelRegistration(registration_id=json.loads(first)["data"]["registration_id"])
    await client.call(ev.CANCEL_REGISTRATION, cancel, region)
    assert await again.send(ev.REGISTER_PARTICIPANT, raw) == first
    # request_meeting, then the receiver accepts
    ask = again.envelope(
        mt.REQUEST_MEETING,
        mt.RequestMeeting(event_id=event_id, requester=people[0], receiver=people[1]),
    )
    first = await again.send(mt.REQUEST_MEETING, ask)
    answer = mt.RespondMeeting(
        meeting_id=json.loads(first)["data"]["meeting_id"], accept=True, responder=people[1]
    )
    await client.call(mt.RESPOND_MEETING, answer, region)
    assert await again.send(mt.REQUEST_MEETING, ask) == first
    # subscribe_webhook, then the partner subscribes another hook
    # A public address (none is reached: no story is told here).
    hook = nt.SubscribeWebhook(
        partner_id="park",
        url="https://8.8.8.8/a",
        secret="s" * 20,
        event_types=["success_story_published"],
    )
    subscribe = again.envelope(nt.SUBSCRIBE_WEBHOOK, hook)
    first = await again.send(nt.SUBSCRIBE_WEBHOOK, subscribe)
    other = nt.SubscribeWebhook.model_validate(hook.model_dump() | {"url": "https://8.8.8.8/b"})
    await client.call(nt.SUBSCRIBE_WEBHOOK, other, region)
    assert await again.send(nt.SUBSCRIBE_WEBHOOK, subscribe) == first
