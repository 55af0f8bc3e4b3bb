"""Every benchmark runs end to end at a small size and ends with its figures line.

The figures are not judged here (speed is the benchmarks' business, on a quiet machine); what is
judged is that each still runs against the code as it is, and that what it counts as lost,
duplicated or failed is zero. bench/notify.py once fell behind a contract change (registration
events stopped carrying the person) and crashed for weeks without a test noticing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# name: (small arguments, the keys of its last line in order, the keys that must be 0)
BENCHES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "bus": (["--events", "300"], ["raw_msgs_per_s", "pipeline_msgs_per_s", "ratio"], []),
    "registry": (
        ["--smes", "60", "--concurrency", "4"],
        ["smes", "registered_per_s", "raw_insert_per_s", "lost"],
        ["lost"],
    ),
    "notify": (
        ["--notifications", "40"],
        ["notifications", "sent_per_s", "raw_smtp_per_s", "duplicated"],
        ["duplicated"],
    ),
    "search": (
        ["--profiles", "120", "--queries", "20"],
        ["profiles", "p95_ms", "p50_ms", "first_query_ms", "precision_at_1"],
        [],
    ),
    "guide": (
        ["--articles", "60", "--queries", "20"],
        ["articles", "p95_ms", "p50_ms", "first_query_ms", "after_change_ms", "visible_ms"],
        [],
    ),
    "scheduler": (
        ["--participants", "20", "--requests", "80", "--time-limit", "3"],
        ["participants", "requests", "scheduled", "upper_bound", "greedy", "seconds"],
        [],
    ),
    "importer": (
        ["--rows", "2000", "--one-by-one-rows", "40"],
        [
            "file_mb",
            "read_rows",
            "peak_rss_mb",
            "imported_per_s",
            "one_by_one_per_s",
            "tenth_peak_rss_mb",
            "registry_peak_rss_mb",
            "rejected",
        ],
        [],
    ),
    "hostile": (
        ["--seconds", "2", "--smes", "60"],
        ["hostile_queries", "health_p50_ms", "health_p99_ms", "health_max_ms"],
        [],
    ),
    "federation": (
        ["--events", "30", "--rate", "30", "--cut-s", "2"],
        ["events", "lag_p50_ms", "lag_p99_ms", "lost", "duplicated", "catchup_s"],
        ["lost", "duplicated"],
    ),
    "resume": (
        ["--rounds", "1", "--down-s", "1", "--entries", "2"],
        [
            "rounds",
            "cut_p50_s",
            "cut_max_s",
            "hub_p50_s",
            "hub_max_s",
            "restart_p50_s",
            "restart_max_s",
            "lost",
        ],
        ["lost"],
    ),
    "report": (
        ["--smes", "300", "--meetings", "1000", "--answers", "150"],
        ["smes", "meetings", "seconds"],
        [],
    ),
    "portal": (
        # One process: starting each service's own is most of its time here, and the other
        # benches run the services one process each (bench/common.py's serving).
        ["--smes", "60", "--seconds", "2", "--clients", "2", "--one-process"],
        ["smes", "requests", "p95_ms", "errors", "bus_p95_ms"],
        ["errors"],
    ),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(BENCHES))
def test_benchmark_runs_and_ends_with_its_figures(name: str) -> None:
    arguments, keys, zero = BENCHES[name]
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *arguments],
        cwd=ROOT,
        env={**os.environ, "MAPNET_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    last = done.stdout.strip().splitlines()[-1]
    figures = dict(pair.split("=", 1) for pair in last.split())
    assert list(figures) == keys, last
    assert all(figures[key] == "0" for key in zero), last


def test_every_benchmark_is_run_here() -> None:
    """The README says each benchmark runs here: a new one must join BENCHES."""
    modules = {p.stem for p in (ROOT / "bench").glob("*.py")} - {"__init__", "common"}
    assert modules == set(BENCHES)
