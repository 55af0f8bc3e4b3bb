"""The registry's use cases on in-memory repositories: each rule of a handler in milliseconds,
no server. The same handlers run against MongoDB and NATS in test_registry_bus.py."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from contracts import registry as c
from contracts.envelope import Envelope
from contracts.errors import Refused
from mapnet.runtime.codec import make_envelope
from mapnet.runtime.unit_of_work import UnitOfWork
from services.registry.adapters.memory import InMemorySmes, InMemoryStories
from services.registry.service_layer.handlers import Registry
from services.registry.tests.test_registry_bus import new_sme

REGION = "tallinn"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def envelope(op: Any, data: Any, *, correlationid: str, subject: str | None = None) -> Any:
    return make_envelope(
        op, data, region=REGION, source="mapnet/tallinn/registry",
        correlationid=correlationid, subject=subject,
    )  # fmt: skip


@pytest.fixture
def smes() -> InMemorySmes:
    return InMemorySmes()


@pytest.fixture
def stories() -> InMemoryStories:
    return InMemoryStories()


@pytest.fixture
def registry(smes: InMemorySmes, stories: InMemoryStories) -> Registry:
    return Registry(UnitOfWork(REGION, envelope, clock=lambda: NOW), smes, stories)


async def register(registry: Registry, command: Envelope[c.RegisterSme]) -> c.SmeView:
    """register_sme answers with the reply envelope it stores; its data is the SME."""
    replied = await registry.register_sme(command)
    return c.SmeView.model_validate(json.loads(replied.envelope)["data"])


def cmd(op: Any, data: Any, ident: str | None = None) -> Envelope[Any]:
    env: Envelope[Any] = make_envelope(op, data, region=REGION, source="test")
    return env.model_copy(update={"id": ident}) if ident else env


async def test_registering_stores_the_sme_with_its_event_in_the_outbox(
    registry: Registry, smes: InMemorySmes
) -> None:
    view = await register(registry, cmd(c.REGISTER_SME, new_sme()))
    assert view.version == 1 and view.size_class.value == "small"
    [event] = smes.outbox[view.sme_id]
    assert event.type == c.SME_REGISTERED.type and event.subject == view.sme_id


async def test_the_same_command_again_answers_the_same_sme(
    registry: Registry, smes: InMemorySmes
) -> None:
    first = await registry.register_sme(cmd(c.REGISTER_SME, new_sme(), "register-1"))
    again = await registry.register_sme(cmd(c.REGISTER_SME, new_sme(), "register-1"))
    assert again.envelope == first.envelope and len(smes.records) == 1


async def test_a_second_company_with_the_registration_number_is_a_duplicate(
    registry: Registry,
) -> None:
    first = await register(registry, cmd(c.REGISTER_SME, new_sme()))
    with pytest.raises(Refused) as refused:
        await register(registry, cmd(c.REGISTER_SME, new_sme(name="Other OÜ")))
    assert refused.value.code == "duplicate"
    assert refused.value.details["existing_sme_id"] == first.sme_id


async def test_an_update_against_an_old_version_is_a_conflict(registry: Registry) -> None:
    view = await register(registry, cmd(c.REGISTER_SME, new_sme()))
    changes: dict[str, Any] = {"description": "Now with fibre lasers"}
    update = c.UpdateSme(sme_id=view.sme_id, expected_version=1, changes=changes)
    assert (await registry.update_sme(cmd(c.UPDATE_SME, update))).version == 2
    with pytest.raises(Refused) as refused:
        await registry.update_sme(cmd(c.UPDATE_SME, update))
    assert refused.value.code == "conflict"
    assert refused.value.details == {"expected_version": 1, "current_version": 2}


async def test_erasure_leaves_a_tombstone_and_forgets_cached_answers(
    smes: InMemorySmes, stories: InMemoryStories
) -> None:
    forgotten: list[str] = []

    async def forget(record_id: str) -> None:
        forgotten.append(record_id)

    registry = Registry(UnitOfWork(REGION, envelope, clock=lambda: NOW), smes, stories, forget)
    view = await register(registry, cmd(c.REGISTER_SME, new_sme()))
    await registry.erase_sme(cmd(c.ERASE_SME, c.EraseSme(sme_id=view.sme_id, reason="asked")))
    assert view.sme_id in smes.erased and view.sme_id not in smes.records
    assert forgotten == [view.sme_id]
    assert smes.outbox[view.sme_id][-1].type == c.SME_ERASED.type
    with pytest.raises(Refused) as refused:
        await registry.get_sme(cmd(c.GET_SME, c.GetSme(sme_id=view.sme_id)))
    assert refused.value.code == "not_found"


async def test_a_story_without_consent_counts_but_is_not_published(
    registry: Registry, stories: InMemoryStories
) -> None:
    story = c.PublishSuccessStory.model_validate(
        {"title": "A deal", "text": "Two SMEs agreed", "smes": [{"region": REGION, "sme_id": "s1"}],
         "agreement_type": "licence",
         "happened_on": "2026-10-01", "clusters": ["ict"], "publication_consent": False}
    )  # fmt: skip
    accepted = await registry.publish_success_story(cmd(c.PUBLISH_SUCCESS_STORY, story))
    assert stories.outbox[accepted.story_id] == []
    kpis = await registry.get_kpis(
        cmd(c.GET_KPIS, c.GetKpis(period_from=date(2026, 1, 1), period_to=date(2026, 12, 31)))
    )
    assert kpis.total.success_stories == 1
