"""Embedded servers for a benchmark run, and the figures line every benchmark ends with."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mapnet.servers import free_port, mongo_server, nats_server, start_and_wait


@contextmanager
def embedded_servers() -> Iterator[tuple[str, str]]:
    """A fresh NATS (JetStream, sync_interval always, as in production) and nx-27017."""
    with tempfile.TemporaryDirectory(prefix="mapnet-bench-") as tmp:
        home = Path(tmp)
        nats_port, mongo_port = free_port(), free_port()
        nats = nats_server("bench", nats_port, home)
        mongo = mongo_server("bench", mongo_port, home)
        start_and_wait(nats, nats_port)
        start_and_wait(mongo, mongo_port)
        try:
            yield f"nats://127.0.0.1:{nats_port}", f"mongodb://127.0.0.1:{mongo_port}"
        finally:
            nats.stop()
            mongo.stop()


def figures(**values: object) -> str:
    return " ".join(f"{key}={value}" for key, value in values.items())
