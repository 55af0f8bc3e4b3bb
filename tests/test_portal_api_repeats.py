"""A command repeated while its first sending still runs (a partner whose HTTP call timed out
sends it again with the same Idempotency-Key): it runs once, the repeat is told to ask again or
gets the first answer, never a second run."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contracts.common import Accepted
from contracts.envelope import Envelope
from contracts.errors import Refused
from contracts.registry import ERASE_SME, EraseSme
from mapnet.runner import Assembly
from mapnet.runtime import mongo, requests
from mapnet.runtime.bus import BusClient
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings


async def test_a_command_sent_again_while_it_runs_runs_once(
    settings: Settings, region: str, client: BusClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requests, "REPEAT_WAIT_S", 0.3, raising=False)
    runs: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()
    rt = Runtime(region, "registry", settings, mongo.client(settings.mongo_url or ""))

    @rt.handles(ERASE_SME)
    async def slow(env: Envelope[EraseSme]) -> Accepted:
        runs.append(env.id)
        started.set()
        await release.wait()
        return Accepted(id=env.data.sme_id, version=len(runs))

    command, command_id = EraseSme(sme_id="s1", reason="asked"), str(uuid.uuid4())
    async with Assembly(settings, [], [region], runtimes=[rt]) as app:
        await app.broker.connection.flush()  # the server knows the handler's subscription
        with pytest.raises(Refused) as late:  # the caller gives up; the command runs on
            await client.call(ERASE_SME, command, region, id=command_id, timeout_s=0.5)
        assert late.value.code == "region_unavailable"
        await started.wait()  # (on a busy machine the first may start after its caller gave up)
        with pytest.raises(Refused) as running:
            await client.call(ERASE_SME, command, region, id=command_id, timeout_s=5)
        assert running.value.code == "conflict" and "still running" in running.value.message
        release.set()
        repeat = await client.call(ERASE_SME, command, region, id=command_id, timeout_s=5)
        assert repeat == Accepted(id="s1", version=1) and runs == [command_id]


async def test_a_slow_command_keeps_its_claim_and_a_dead_ones_claim_is_taken_over_soon(
    settings: Settings, region: str, client: BusClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim's lease is renewed while the command runs, so a repeat after several leases
    still hears "still running"; a claim nobody renews (its process was killed) is taken over
    once a lease has passed (not after ten minutes, as bench/failover.py once saw)."""
    monkeypatch.setattr(requests, "REPEAT_WAIT_S", 0.3, raising=False)
    monkeypatch.setattr(requests, "CLAIM_LEASE_S", 0.6, raising=False)
    runs: list[str] = []
    release = asyncio.Event()
    rt = Runtime(region, "registry", settings, mongo.client(settings.mongo_url or ""))

    @rt.handles(ERASE_SME)
    async def slow(env: Envelope[EraseSme]) -> Accepted:
        runs.append(env.data.sme_id)
        if runs.count(env.data.sme_id) == 1:  # the first run of each waits to be let go
            await release.wait()
        return Accepted(id=env.data.sme_id, version=len(runs))

    async with Assembly(settings, [], [region], runtimes=[rt]) as app:
        await app.broker.connection.flush()
        slow_one, slow_id = EraseSme(sme_id="slow", reason="asked"), str(uuid.uuid4())
        with pytest.raises(Refused):
            await client.call(ERASE_SME, slow_one, region, id=slow_id, timeout_s=0.3)
        await asyncio.sleep(2.0)  # more than three leases: renewed meanwhile
        with pytest.raises(Refused) as running:
            await client.call(ERASE_SME, slow_one, region, id=slow_id, timeout_s=5)
        assert running.value.code == "conflict" and runs == ["slow"]
        # Another command's process "dies" while it runs: its claim is no longer renewed (a
        # changed holder stops this process's renewal, as a kill would).
        orphan, orphan_id = EraseSme(sme_id="orphan", reason="asked"), str(uuid.uuid4())
        cache = rt.db[requests.REPLY_CACHE]
        slow_claim = {doc["_id"] async for doc in cache.find({})}  # the slow one's, running
        with pytest.raises(Refused):
            await client.call(ERASE_SME, orphan, region, id=orphan_id, timeout_s=0.3)
        [orphan_claim] = [
            doc["_id"] async for doc in cache.find({}) if doc["_id"] not in slow_claim
        ]
        # Stale, and held by a process that no longer renews it.
        await cache.update_one(
            {"_id": orphan_claim}, {"$set": {"claimed": 1.0, "holder": "a-killed-process"}}
        )
        taken_over = await client.call(ERASE_SME, orphan, region, id=orphan_id, timeout_s=5)
        assert taken_over.id == "orphan" and runs == ["slow", "orphan", "orphan"]
        release.set()
        answered = await client.call(ERASE_SME, slow_one, region, id=slow_id, timeout_s=5)
        assert answered.id == "slow" and runs.count("slow") == 1
        # The run whose claim was taken over ends too (after the taking run answered): its
        # answer does not replace the one repeats already got.
        await asyncio.sleep(0.5)
        again = await client.call(ERASE_SME, orphan, region, id=orphan_id, timeout_s=5)
        assert again == taken_over
