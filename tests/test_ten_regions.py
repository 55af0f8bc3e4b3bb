"""The whole network on one machine, as a user starts it: `mapnet up --regions all` runs the hub
and the ten regions of deploy/regions.toml, and `mapnet status --json` lists them all, linked to
the hub and to each other, every service healthy. Marked slow: `make test` leaves it out (its
ten regions take minutes on two cores), `make test-slow` runs it, and CI (`.ci/run`) runs both."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mapnet.federation.config import load_regions
from tests.test_embedded import BIN, as_user, pid_alive, port_blocks, until_running, user_env

pytestmark = pytest.mark.slow


def status(env: dict[str, str]) -> tuple[int, dict[str, Any] | None, str]:
    done = subprocess.run(
        [BIN / "mapnet", "status", "--json"], env=env, capture_output=True, text=True
    )
    try:
        return done.returncode, json.loads(done.stdout), done.stderr
    except ValueError:
        return done.returncode, None, done.stdout + done.stderr


def linked_everywhere(doc: dict[str, Any], regions: list[str]) -> list[str]:
    """What keeps the network from being whole: a region not linked to the hub, a link to
    another region not up, another region's copy not being made, a service not healthy."""
    wrong = [f"{r} not linked to the hub" for r, up in doc["hub"]["leaf_links"].items() if not up]
    for region in doc["regions"]:
        others = set(regions) - {region["id"]}
        down = {o for o in others if region["links"].get(o) != "up"}
        idle = {o for o in others if region["replication"].get(o, {}).get("state") != "copying"}
        sick = {s for s, h in region["services"].items() if h.get("status") != "ok"}
        wrong += [f"{region['id']}: links down to {sorted(down)}"] if down else []
        wrong += [f"{region['id']}: no copy from {sorted(idle)}"] if idle else []
        wrong += [f"{region['id']}: services not ok {sorted(sick)}"] if sick else []
    return wrong


@pytest.mark.timeout(900)
async def test_up_all_runs_the_hub_and_ten_linked_regions(tmp_path: Path) -> None:
    regions = [r.id for r in load_regions()]
    assert len(regions) == 10  # the network the product is for
    nats_base, mongo_base, smtp_base, http_base, hub, leaf = port_blocks(6, len(regions))
    env = user_env(
        tmp_path, nats_port=nats_base, mongo_port=mongo_base, smtp_port=smtp_base,
        http_port=http_base, hub_port=hub, hub_leaf_port=leaf,
    )  # fmt: skip
    proc = as_user(["mapnet", "up", "--regions", "all"], env)
    pids: list[int] = []
    try:
        await asyncio.to_thread(until_running, proc)
        state = json.loads((tmp_path / "up.json").read_text())
        pids = [state["hub"]["pid"]] + [
            pid for region in state["regions"] for pid in region["pids"].values()
        ]
        # Every region's copies of the others start as their link keepers add the sources:
        # status is asked until the network is whole (or the test's time-out says it never is).
        wrong: list[str] = ["not asked yet"]
        doc: dict[str, Any] | None = None
        while wrong:
            code, doc, said = await asyncio.to_thread(status, env)
            assert doc is not None, said
            wrong = linked_everywhere(doc, regions) + ([f"status exit {code}"] if code else [])
            if wrong:
                print("not yet:", "; ".join(wrong))
                await asyncio.sleep(2)
        assert doc is not None
        assert [r["id"] for r in doc["regions"]] == regions
        assert doc["hub"]["leaf_links"] == dict.fromkeys(regions, True)
        assert all(r["healthy"] for r in doc["regions"])
        assert len({r["http_url"] for r in doc["regions"]}) == 10  # a portal each
    finally:
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=300)[0].decode(errors="replace")
        print(f"stopped in {time.monotonic() - started:.1f} s")
    assert proc.returncode in (0, -signal.SIGINT), out[-2000:]
    assert "stopping" in out
    assert not (tmp_path / "up.json").exists()
    assert not [pid for pid in pids if pid_alive(pid)], "processes left behind"
