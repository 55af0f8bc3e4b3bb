"""Embedded servers for a benchmark run, and the figures line every benchmark ends with."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mapnet.ops.servers import embedded_pair


@contextmanager
def embedded_servers() -> Iterator[tuple[str, str]]:
    """A fresh NATS (JetStream, sync_interval always, as in production) and nx-27017."""
    with (
        tempfile.TemporaryDirectory(prefix="mapnet-bench-") as tmp,
        embedded_pair("bench", Path(tmp)) as urls,
    ):
        yield urls


def figures(**values: object) -> str:
    return " ".join(f"{key}={value}" for key, value in values.items())
