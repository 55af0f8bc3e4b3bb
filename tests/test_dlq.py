"""Dead letters handled, not just kept (`mapnet dlq`), on real servers: listed with reason and
age and a next page, replayed to the consumer that gave them up once the fault is fixed
(handled once: a replay of an event handled before does nothing), kept when they fail again,
and dropped only with a note, which is kept with them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import nats
import pytest

from contracts.envelope import Envelope
from contracts.registry import SME_REGISTERED, SmeRegistered
from contracts.subjects import dlq_subject
from mapnet.ops import dlq
from mapnet.ops.status import region_health
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.codec import encode
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings
from tests.fixtures import Servers
from tests.helpers import eventually, sme_registered

CONSUMER = "notify__registry_sme_registered"


@pytest.fixture
async def nc(servers: Servers) -> Any:
    client = await nats.connect(servers.nats_url)
    yield client
    await client.close()


def failing_notify(
    settings: Settings, region: str, broken: list[bool], seen: Counter[str]
) -> Runtime:
    rt = Runtime(region, "notify", settings, mongo.client(settings.mongo_url or ""))

    @rt.consumes(SME_REGISTERED)
    async def on_registered(env: Envelope[SmeRegistered]) -> None:
        if broken[0]:
            raise RuntimeError("smtp exploded")
        seen[env.data.sme_id] += 1

    return rt


async def test_dead_letters_are_listed_replayed_once_after_a_fix_and_dropped_with_a_note(
    settings: Settings, region: str, nc: Any
) -> None:
    broken, seen = [True], Counter[str]()
    rt = failing_notify(settings, region, broken, seen)
    js = nc.jetstream()
    async with Assembly(settings, [], [region], runtimes=[rt]):
        for sme in ("s1", "s2", "s3", "s4"):
            await js.publish(SME_REGISTERED.subject(region), encode(sme_registered(region, sme)))
        waiting = await eventually(
            lambda: dlq.everything(nc, region), until=lambda found: len(found) == 4
        )
        first = waiting[0]
        # `mapnet status` shows the consumer with its dead letters waiting.
        health = await region_health(region, settings.nats_url or "")
        [row] = [c for c in health["consumers"] if c["consumer"] == CONSUMER]
        assert (row["dead_letters"], row["pending"], row["ack_pending"]) == (4, 0, 0)
        assert row["redelivered"] == 0  # counts only messages delivered again, not yet acked
        assert (first.service, first.consumer) == ("notify", CONSUMER)
        assert first.reason == "RuntimeError: smtp exploded"
        assert first.subject == SME_REGISTERED.subject(region) and first.age_s() >= 0
        # A page says there is more, and the next one starts after it.
        page = await dlq.page(nc, region, limit=3)
        assert [d.seq for d in page.items] == [d.seq for d in waiting[:3]]
        rest = await dlq.page(nc, region, limit=3, after=page.next_after or 0)
        assert [d.seq for d in rest.items] == [waiting[3].seq] and rest.next_after is None

        # Still broken: the replay fails, says why, and the dead letter stays.
        failed = await dlq.replay(nc, region, first)
        assert failed == {"outcome": "failed", "reason": "RuntimeError: smtp exploded"}
        assert len(await dlq.everything(nc, region)) == 4

        broken[0] = False  # the fix
        assert await dlq.replay(nc, region, first) == {"outcome": "handled", "reason": ""}
        assert await dlq.one(nc, region, first.seq) is None
        # The same message dead-lettered again (say, by a second copy): handled before, so
        # nothing is done twice, and it leaves the list.
        await js.publish(dlq_subject(region, "notify", CONSUMER), first.data,
                         headers={"Mapnet-Dlq-Subject": first.subject,
                                  "Mapnet-Dlq-Consumer": CONSUMER})  # fmt: skip
        again = [d for d in await dlq.everything(nc, region) if d.data == first.data]
        assert await dlq.replay(nc, region, again[0]) == {
            "outcome": "already_handled",
            "reason": "",
        }

        dropped, *others = await dlq.everything(nc, region, consumer=CONSUMER)
        await dlq.drop(nc, region, dropped, "s2 was registered by mistake")
        kept = await dlq.page(nc, region, dropped=True)
        assert [d.headers[dlq.NOTE] for d in kept.items] == ["s2 was registered by mistake"]
        assert kept.items[0].data == dropped.data and kept.items[0].reason == dropped.reason
        # A dropped one, named by its sequence, is neither replayed nor dropped again, and no
        # wildcard reaches the dropped ones through a consumer's name.
        [record] = kept.items
        assert record.dropped and (await dlq.one(nc, region, record.seq)) == record
        assert (await dlq.replay(nc, region, record))["outcome"] == "failed"
        with pytest.raises(dlq.AlreadyDropped):
            await dlq.drop(nc, region, record, "again")
        with pytest.raises(dlq.BadName):
            await dlq.everything(nc, region, consumer=">")
        assert (await dlq.page(nc, region, dropped=True)).items == [record]
        for letter in others:
            assert (await dlq.replay(nc, region, letter))["outcome"] == "handled"
        assert await dlq.everything(nc, region) == []
    assert seen == Counter({"s1": 1, "s3": 1, "s4": 1})


async def test_a_replay_to_another_consumers_subject_or_a_forged_region_is_refused(
    settings: Settings, region: str, nc: Any
) -> None:
    broken, seen = [False], Counter[str]()
    rt = failing_notify(settings, region, broken, seen)
    async with Assembly(settings, [], [region], runtimes=[rt]):
        letter = dlq.DeadLetter(
            seq=0, service="notify", consumer=CONSUMER, reason="", headers={},
            subject=f"mapnet.{region}.registry.event.sme_erased",
            at=sme_registered(region).time, data=encode(sme_registered(region, "s9")),
        )  # fmt: skip
        refused = await dlq.replay(nc, region, letter)
        assert refused["outcome"] == "failed" and f"is not read by {CONSUMER}" in refused["reason"]
        elsewhere = dataclasses.replace(
            letter, subject=SME_REGISTERED.subject(region),
            data=encode(sme_registered("riga", "s9")),
        )  # fmt: skip
        forged = await dlq.replay(nc, region, elsewhere)
        assert forged["outcome"] == "failed" and forged["reason"].startswith("forbidden")
    assert seen == Counter()


def readme_dlq_commands() -> dict[str, list[str]]:
    """The README's `mapnet dlq …` commands, each as its arguments after `mapnet`, by what it
    does: list, show, replay (one), replay_all, drop."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    lines = [line.split("#")[0].strip() if "--note" not in line else line.split("  #")[0].strip()
             for line in text.splitlines() if line.strip().startswith("mapnet dlq ")]  # fmt: skip
    found: dict[str, list[str]] = {}
    for line in lines:
        args = shlex.split(line)[1:]
        kind = "replay_all" if "--all" in args else args[1]
        found[kind] = args
    assert set(found) == {"list", "show", "replay", "replay_all", "drop"}, lines
    return found


async def test_the_commands_work_as_the_readme_shows(
    servers: Servers, settings: Settings, region: str, nc: Any
) -> None:
    """The README's five commands, run as a user runs them, with this test's region and the
    dead letters' own sequence numbers for the README's 42."""
    broken, seen = [True], Counter[str]()
    rt = failing_notify(settings, region, broken, seen)
    env = {**os.environ, "NATS_URL": servers.nats_url, "MAPNET_REGIONS": region}
    readme = readme_dlq_commands()

    async def mapnet(kind: str, seq: int | None = None) -> subprocess.CompletedProcess[str]:
        args = [region if a == "tallinn" else str(seq) if a == "42" else a for a in readme[kind]]
        # In a thread: the service answering a replay runs in this test's event loop.
        return await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "mapnet", *args], env=env,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    async with Assembly(settings, [], [region], runtimes=[rt]):
        js = nc.jetstream()
        for sme in ("s1", "s2", "s3"):
            await js.publish(SME_REGISTERED.subject(region), encode(sme_registered(region, sme)))
        one, two, three = await eventually(
            lambda: dlq.everything(nc, region), until=lambda found: len(found) == 3
        )
        listed = await mapnet("list")
        assert listed.returncode == 0 and CONSUMER in listed.stdout, listed.stderr
        shown = await mapnet("show", one.seq)
        assert json.loads(shown.stdout)["message"]["data"]["sme_id"] == "s1"
        dropped = await mapnet("drop", two.seq)
        assert dropped.returncode == 0, dropped.stderr
        [kept] = (await dlq.page(nc, region, dropped=True)).items
        assert kept.data == two.data and kept.headers[dlq.NOTE] == "registered by mistake"
        still = await mapnet("replay", one.seq)  # not fixed yet: says why, exits 1
        assert still.returncode == 1 and "smtp exploded" in still.stderr
        broken[0] = False
        assert (await mapnet("replay", one.seq)).returncode == 0
        every = await mapnet("replay_all")
        assert every.returncode == 0 and f"{three.seq}: handled" in every.stderr, every.stderr
        assert await dlq.everything(nc, region) == []
        gone = await mapnet("drop", one.seq)  # no such dead letter any more
        assert gone.returncode == 2 and "no dead letter" in gone.stderr
    assert seen == Counter({"s1": 1, "s3": 1})


def test_status_lists_only_the_consumers_that_need_a_look(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mapnet.ops.cli import _print_consumers

    quiet = {"consumer": "matching__registry_sme_registered", "pending": 0, "ack_pending": 0,
             "redelivered": 0, "dead_letters": 0}  # fmt: skip
    stuck = quiet | {"consumer": CONSUMER, "dead_letters": 4}
    _print_consumers([{"id": "tallinn", "consumers": [quiet, stuck]},
                      {"id": "riga", "consumers": {"error": "TimeoutError: "}}])  # fmt: skip
    shown = capsys.readouterr()
    assert CONSUMER in shown.out and "matching__registry_sme_registered" not in shown.out
    assert "1 consumers caught up" in shown.out and "riga: consumers unreadable" in shown.err
