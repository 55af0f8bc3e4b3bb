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
    "bus": (
        # With a second process of matching (issue 32 item 7): nothing redelivered.
        ["--events", "300", "--processes", "2", "--service-events", "200"],
        [
            "raw_msgs_per_s",
            "pipeline_msgs_per_s",
            "ratio",
            "processes",
            "one_process_msgs_per_s",
            "processes_msgs_per_s",
            "speedup",
            "redelivered",
        ],
        ["redelivered"],
    ),
    "registry": (
        ["--smes", "60", "--concurrency", "4"],
        ["smes", "registered_per_s", "raw_insert_per_s", "lost"],
        ["lost"],
    ),
    "registry_size": (
        ["--smes", "150", "--queries", "12", "--reimport-rows", "30"],
        [
            "smes",
            "import_s",
            "search_p95_ms",
            "db_ops_per_sme",
            "db_writes_per_sme",
            "imported_per_s",
            "raw_insert_per_s",
            "ratio",
            "reimported_per_s",
            "search_p50_ms",
            "near_duplicates_missed",
            "lost",
            "doubled",
            "index_mb",
        ],
        ["near_duplicates_missed", "lost", "doubled"],
    ),
    "notify": (
        ["--notifications", "40"],
        ["notifications", "sent_per_s", "raw_smtp_per_s", "duplicated"],
        ["duplicated"],
    ),
    "search": (
        ["--profiles", "120", "--queries", "20"],
        [
            "profiles",
            "p95_ms",
            "p50_ms",
            "first_query_ms",
            "precision_at_1",
            "index_mb",
            "follow_ms",
        ],
        [],
    ),
    "guide": (
        ["--articles", "60", "--queries", "20"],
        ["articles", "p95_ms", "p50_ms", "first_query_ms", "after_change_ms", "visible_ms"],
        [],
    ),
    "scheduler": (
        ["--participants", "20", "--requests", "80", "--time-limit", "3"],
        [
            "participants",
            "requests",
            "scheduled",
            "upper_bound",
            "greedy",
            "seconds",
            "kept",
            "rerun_seconds",
        ],
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
    "network": (
        # Three regions of three services, a few seconds (the bench: ten regions, every
        # service, 120 s at 20/s with a region cut for 60 s).
        [
            "--regions",
            "3",
            "--services",
            "registry,events,matching",
            "--idle-s",
            "2",
            "--settle-s",
            "0",
            "--load-s",
            "3",
            "--rate",
            "10",
            "--cut-s",
            "1",
        ],
        [
            "regions",
            "events",
            "lag_p50_ms",
            "lag_p99_ms",
            "lost",
            "duplicated",
            "catchup_s",
            "idle_cpu_pct",
            "rss_mb",
        ],
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
    "failover": (
        # A run of 6 s still sees every fault (a server killed and restarted, the registry's
        # process killed and restarted); starting the cluster and the services is most of it.
        ["--seconds", "6", "--rate", "10"],
        [
            "commands",
            "events",
            "lost",
            "duplicated",
            "failover_s",
            "p99_ms",
            "nats_kill_gap_s",
            "nats_restart_gap_s",
            "service_kill_gap_s",
            "event_lag_max_s",
            "redelivered",
            "stuck",
        ],
        ["lost", "duplicated"],
    ),
    "report": (
        ["--smes", "300", "--meetings", "1000", "--answers", "150"],
        ["smes", "meetings", "seconds"],
        [],
    ),
    "registrations": (
        ["--seats", "60", "--registrations", "90", "--clients", "8", "--cancel-every", "3"],
        [
            "registrations",
            "per_s",
            "confirmed",
            "waitlisted",
            "oversold",
            "lost",
            "start_per_s",
            "end_per_s",
            "db_ops_per_registration",
        ],
        ["oversold", "lost"],
    ),
    "portal": (
        # One process: starting each service's own is most of its time here, and the other
        # benches run the services one process each (bench/common.py's serving).
        ["--smes", "60", "--seconds", "2", "--clients", "2", "--one-process"],
        ["smes", "requests", "p95_ms", "errors", "bus_p95_ms"],
        ["errors"],
    ),
}


# Run in three files (a file stays in one of the suite's processes, and these take minutes
# together): here, tests/test_benches_network.py and tests/test_benches_portal.py.
HERE = [
    "bus",
    "registry",
    "registry_size",
    "notify",
    "search",
    "guide",
    "scheduler",
    "registrations",
]
NETWORK = ["federation", "resume", "failover", "importer", "network"]
PORTAL = ["portal", "report", "hostile"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", HERE)
def test_benchmark_runs_and_ends_with_its_figures(name: str) -> None:
    runs_and_ends_with_its_figures(name)


def runs_and_ends_with_its_figures(name: str) -> None:
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
    assert modules == set(BENCHES) == {*HERE, *NETWORK, *PORTAL}


def test_failover_counts_a_dropped_event_as_lost_and_a_doubled_one_as_duplicated() -> None:
    """bench/failover.py's own counting, on what its consumer and the read model saw."""
    from bench.failover import Seen, count_duplicated, count_lost, gap_after

    seen = Seen()
    seen.take("event-a", "Company A", "sme-a", 1)
    seen.take("event-b", "Company B", "sme-b", 2)
    acknowledged = {"Company A": "sme-a", "Company B": "sme-b", "Company C": "sme-c"}
    # C's command was answered but its event never came: lost, once, read model or not.
    assert count_lost(acknowledged, seen, {"sme-a", "sme-b", "sme-c"}) == 1
    assert count_lost(acknowledged, seen, {"sme-a", "sme-b"}) == 1
    # B's event came, but its SME never reached the read model: lost too.
    assert count_lost(acknowledged, seen, {"sme-a"}) == 2
    assert count_duplicated(seen) == 0
    seen.take("event-b", "Company B", "sme-b", 2)  # handed again: a redelivery, not a duplicate
    assert (count_duplicated(seen), seen.delivered_again) == (0, 1)
    seen.take("event-b", "Company B", "sme-b", 3)  # the stream holds it twice
    assert count_duplicated(seen) == 1
    seen.take("event-a2", "Company A", "sme-a2", 4)  # A's command carried out twice
    assert count_duplicated(seen) == 2
    # The time without an answer a fault caused: the gap that ends after it (an answer on its
    # way when the process was killed still arrives), not one that ends after the next fault.
    answers = [0.0, 1.0, 2.0, 2.1, 8.0, 8.1, 9.0, 9.5]
    assert gap_after(answers, 2.05, 8.5) == 8.0 - 2.1
    assert gap_after(answers, 0.5, 2.05) == 1.0
