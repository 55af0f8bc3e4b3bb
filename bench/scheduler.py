"""Scheduling a generated brokerage event against a first-fit baseline and a proven bound, then
again after late changes, from the first schedule.

    python -m bench.scheduler [--participants 500] [--requests 5000] [--time-limit 28]
    python -m bench.scheduler --participants 2000 --requests 20000

Events of up to 5,000 requests have 32 slots (two days of 16) and 100 tables; larger ones 48 slots
(three days) and 300 tables (--days, --tables to choose). The re-run: --change-share (5 %) of the
requests withdrawn and as many new ones, the first schedule given as each meeting's previous place.

Last line: participants=… requests=… scheduled=… upper_bound=… greedy=… seconds=… kept=…
rerun_seconds=… (seconds: producing the first schedule, its bound included; kept: of the meetings
the first schedule placed that are still requested, the share the re-run left at the same slot
and table)."""

from __future__ import annotations

import argparse
import dataclasses
import os

from services.matching.domain.schedule_problem import Placement, Problem, idle_gaps, violations
from services.matching.domain.scheduler import Result, solve
from services.matching.testdata.generated import changed_requests

from .common import figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument(
        "--time-limit", type=float, help="default: 28 s, 100 s above 5,000 requests"
    )
    parser.add_argument("--rerun-time-limit", type=float, help="default: the time limit, ≤ 25 s")
    parser.add_argument("--change-share", type=float, default=0.05)
    parser.add_argument("--days", type=int)
    parser.add_argument("--tables", type=int)
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT threads")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    large = args.requests > 5000
    time_limit = args.time_limit or (100.0 if large else 28.0)
    first, changed = changed_requests(
        args.participants,
        args.requests,
        args.change_share,
        seed=args.seed,
        days=args.days or (3 if large else 2),
        tables=args.tables or (300 if large else 100),
    )
    load_before = os.getloadavg()[0]
    result = checked(first, solve(first, time_limit_s=time_limit, workers=args.workers))
    assert result.bound is not None
    changed.meetings = [
        dataclasses.replace(m, previous=result.placement.get(m.meeting_id))
        for m in changed.meetings
    ]
    requested = {m.meeting_id for m in changed.meetings}
    rerun_limit = args.rerun_time_limit or min(time_limit, 25.0)
    again = checked(changed, solve(changed, time_limit_s=rerun_limit, workers=args.workers))
    print(
        f"status={result.status} idle_gaps={idle_gaps(first, result.placement)} "
        f"share_of_bound={len(result.placement) / max(1, result.bound):.4f} "
        f"slots={first.slots} tables={first.tables} rerun_scheduled={len(again.placement)} "
        f"rerun_upper_bound={again.bound} rerun_moved={again.moved} "
        f"load_avg_1m={load_before:.1f}->{os.getloadavg()[0]:.1f} cores={os.cpu_count()}"
    )
    print(
        figures(
            participants=args.participants,
            requests=len(first.meetings),
            scheduled=len(result.placement),
            upper_bound=result.bound,
            greedy=result.greedy,
            seconds=f"{result.seconds:.1f}",
            kept=f"{kept_share(result.placement, again.placement, requested):.4f}",
            rerun_seconds=f"{again.seconds:.1f}",
        )
    )


def checked(problem: Problem, result: Result) -> Result:
    if problems := violations(problem, result.placement):
        raise SystemExit(f"invalid schedule: {problems[:5]}")
    return result


def kept_share(before: Placement, after: Placement, requested: set[str]) -> float:
    """Of the meetings placed before and still requested, the share placed at the same slot
    and table."""
    still = [mid for mid in before if mid in requested]
    return sum(1 for mid in still if after.get(mid) == before[mid]) / max(1, len(still))


if __name__ == "__main__":
    main()
