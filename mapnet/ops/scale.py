"""`mapnet up --scale matching=2,notify=2`: how many processes of a service a region runs on
this machine, and each process's load as the kernel counts it (for `mapnet status`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# More than this many processes of one service on one machine is a typo, not a plan: each is
# a whole Python process (about 100 MB), and a service that needs more needs more machines.
MOST_PROCESSES = 8

# Services that cannot share their work between processes on one machine, and why.
NOT_SCALABLE = {
    "portal": "the portal serves people on one HTTP port (MAPNET_HTTP_PORT), which two "
    "processes cannot share; run more portals on machines of their own behind a load "
    "balancer (`mapnet serve portal`, deploy/k8s/)",
}


class ScaleError(ValueError):
    """A --scale that `mapnet up` refuses: the message says what is wrong and what would do."""


def parse_scale(text: str | None, services: Iterable[str]) -> dict[str, int]:
    """``"matching=2,notify=2"`` as {service: processes}: each a known service, each count a
    whole number from 1 (no more than today: the region's process alone) to MOST_PROCESSES."""
    if not text:
        return {}
    known = list(services)
    wanted: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        name, equals, count = part.partition("=")
        name, count = name.strip(), count.strip()
        if not equals or not name or not count:
            raise ScaleError(f"--scale takes pairs such as matching=2,notify=2, not {part!r}")
        if name not in known:
            raise ScaleError(f"--scale: no service {name!r}; services: {', '.join(known)}")
        if name in NOT_SCALABLE:
            raise ScaleError(f"--scale: {name} runs once per region: {NOT_SCALABLE[name]}")
        if name in wanted:
            raise ScaleError(f"--scale names {name} twice")
        if not count.isdigit() or not 1 <= int(count) <= MOST_PROCESSES:
            raise ScaleError(
                f"--scale {name}={count}: a count from 1 to {MOST_PROCESSES} processes"
            )
        wanted[name] = int(count)
    return wanted


@dataclass(frozen=True)
class Load:
    """A process's load: CPU (percent of one core, over the sampled interval) and resident
    memory."""

    cpu_percent: float
    rss_mb: float


def _cpu_ticks(pid: int) -> int | None:
    """User and system time the process has used, in clock ticks (/proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, field 2, is in parentheses and may hold spaces: count after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def _rss_mb(pid: int) -> float | None:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def process_load(pids: Iterable[int], interval_s: float = 0.5) -> dict[int, Load]:
    """Each running process's load, its CPU sampled over ``interval_s`` (all at once): what
    it does now, not an average since it started. Processes not running are left out. Linux
    only (/proc); elsewhere nothing."""
    wanted = list(pids)
    before = {pid: _cpu_ticks(pid) for pid in wanted}
    started = time.monotonic()
    time.sleep(interval_s)
    elapsed = time.monotonic() - started
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    loads = {}
    for pid in wanted:
        first, last, rss = before[pid], _cpu_ticks(pid), _rss_mb(pid)
        if first is None or last is None or rss is None:
            continue
        cpu = 100.0 * (last - first) / ticks_per_s / elapsed
        loads[pid] = Load(round(cpu, 1), round(rss, 1))
    return loads
