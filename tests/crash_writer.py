"""Run as a process by test_outbox: store a record with its event in one write, then die by
SIGKILL before any relay could publish it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from mapnet.runtime import mongo, outbox
from tests.helpers import sme_registered


async def main(mongo_url: str, region: str, event_id: str) -> None:
    db = mongo.database(mongo.client(mongo_url), region, "registry")
    env = sme_registered(region, "crash-1").model_copy(update={"id": event_id})
    await db.smes.insert_one(outbox.new_record({"_id": "crash-1", "version": 1}, [env]))
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
