"""Run as a process by test_outbox: store a record with its event in one write, then die by
SIGKILL before any relay could publish it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from contracts.registry import SME_REGISTERED, SmeRegistered
from mapnet import mongo, outbox
from mapnet.codec import make_envelope


async def main(mongo_url: str, region: str, event_id: str) -> None:
    db = mongo.database(mongo.client(mongo_url), region, "registry")
    data = SmeRegistered(
        sme_id="crash-1",
        region=region,
        version=1,
        legal_name="Crash Test OÜ",
        country="EE",
        nace_codes=[],
        clusters=[],
        keywords=[],
        description="",
        size_class="micro",
        growth_class="neither",
        stage="identified",
        share_with_network=False,
    )
    env = make_envelope(SME_REGISTERED, data, region=region, source="test", id=event_id)
    await db.smes.insert_one(outbox.new_record({"_id": "crash-1", "version": 1}, [env]))
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
