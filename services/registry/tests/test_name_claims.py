"""Near duplicates found by the insert's claim of the name key (issue 33 item 4), on the
MongoDB-compatible server: a registration of a new name costs its insert and a share of the
clusters' count, no look-up; a name some SME holds is still found, whoever holds its claim,
after an erasure or a rename, and in a registry stored before the claims."""

from __future__ import annotations

import asyncio
import random
import string
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import monitoring
from stdnum.ee.registrikood import calc_check_digit

from contracts import registry as c
from mapnet.runtime.mongo import Client, Database
from mapnet.runtime.unit_of_work import UnitOfWork
from services.registry.adapters.memory import InMemoryStories
from services.registry.adapters.repository import NAME_CLAIM, SmeRepository
from services.registry.service_layer.handlers import Registry
from services.registry.tests.test_handlers import REGION, cmd, envelope, register
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.sent[f"{event.command_name} {target}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def commands() -> Commands:
    return Commands()


@pytest.fixture
async def counted_db(servers: Servers, commands: Commands) -> AsyncIterator[Database]:
    client: Client = Client(servers.mongo_url, event_listeners=[commands])
    name = f"scratch_{''.join(random.choices(string.ascii_lowercase, k=10))}"
    yield client[name]
    await client.drop_database(name)
    client.close()


@pytest.fixture
async def repo(counted_db: Database) -> SmeRepository:
    smes = SmeRepository(counted_db)
    await smes.create_indexes()
    return smes


@pytest.fixture
def registry(repo: SmeRepository) -> Registry:
    return Registry(UnitOfWork(REGION, envelope), repo, InMemoryStories())


async def sme(registry: Registry, reg: str, name: str) -> c.SmeView:
    return await register(registry, cmd(c.REGISTER_SME, new_sme(reg=reg, name=name)))


async def rename(registry: Registry, view: c.SmeView, name: str) -> None:
    changes = c.SmeChanges(legal_name=name)
    update = c.UpdateSme(sme_id=view.sme_id, expected_version=view.version, changes=changes)
    await registry.update_sme(cmd(c.UPDATE_SME, update))


async def erase(registry: Registry, view: c.SmeView) -> None:
    await registry.erase_sme(cmd(c.ERASE_SME, c.EraseSme(sme_id=view.sme_id, reason="asked")))


async def test_a_new_name_costs_the_insert_and_the_count_no_look_up(
    registry: Registry, commands: Commands
) -> None:
    await sme(registry, "14000009", "Photon Forge OÜ")
    commands.sent.clear()
    await sme(registry, "14000021", "Laser Works OÜ")
    assert commands.sent == Counter({"insert smes": 1, "update cluster_counts": 1})


async def test_a_near_duplicate_is_found_through_the_claim(
    registry: Registry, commands: Commands
) -> None:
    first = await sme(registry, "14000009", "Photon Forge OÜ")
    near = await sme(registry, "14000021", "PHOTON-FORGE AS")
    assert near.near_duplicates == [first.sme_id]
    third = await sme(registry, "14000038", "Photon  Forge OÜ")
    assert sorted(third.near_duplicates) == sorted([first.sme_id, near.sme_id])


async def test_the_claim_of_an_erased_sme_goes_to_another_of_its_name(
    registry: Registry,
) -> None:
    holder = await sme(registry, "14000009", "Photon Forge OÜ")
    other = await sme(registry, "14000021", "Photon Forge AS")
    await erase(registry, holder)
    later = await sme(registry, "14000038", "Photon Forge OÜ")
    assert later.near_duplicates == [other.sme_id]


async def test_a_renamed_sme_claims_its_new_name_and_hands_on_the_old(
    registry: Registry,
) -> None:
    renamed = await sme(registry, "14000009", "Photon Forge OÜ")
    same_name = await sme(registry, "14000021", "Photon Forge AS")
    await rename(registry, renamed, "Laser Works OÜ")
    # Its new name is claimed: a later SME of that name finds it ...
    laser = await sme(registry, "14000038", "Laser Works AS")
    assert laser.near_duplicates == [renamed.sme_id]
    # ... and its old name's claim went on to the SME still called so.
    photon = await sme(registry, "14000044", "Photon Forge OÜ")
    assert photon.near_duplicates == [same_name.sme_id]


async def test_a_registry_stored_before_the_claims_gets_them_at_start(
    registry: Registry, repo: SmeRepository, counted_db: Database
) -> None:
    first = await sme(registry, "14000009", "Photon Forge OÜ")
    await counted_db.smes.update_many({}, {"$unset": {NAME_CLAIM: ""}})
    started_again = SmeRepository(counted_db)
    await started_again.create_indexes()
    again = Registry(UnitOfWork(REGION, envelope), started_again, InMemoryStories())
    near = await sme(again, "14000021", "Photon Forge AS")
    assert near.near_duplicates == [first.sme_id]


async def test_the_claim_is_not_in_the_view(registry: Registry, repo: SmeRepository) -> None:
    view = await sme(registry, "14000009", "Photon Forge OÜ")
    stored: Any = await repo.get(view.sme_id)
    assert stored is not None and stored.view(view.created_at.date()).near_duplicates == []


async def test_counts_of_registrations_side_by_side_are_written_together(
    registry: Registry, repo: SmeRepository, commands: Commands
) -> None:
    numbers = [f"14001{i:02d}" for i in range(8)]
    valid = [n + calc_check_digit(n + "0") for n in numbers]
    await asyncio.gather(*(sme(registry, reg, f"Company {i} OÜ") for i, reg in enumerate(valid)))
    assert commands.sent["update cluster_counts"] < len(valid)
    assert await repo.clusters() == {"photonics": len(valid)}
