"""Scheduling a generated brokerage event: CP-SAT against a first-fit baseline and the LP bound.

    python -m bench.scheduler [--participants 500] [--requests 5000] [--time-limit 28]

Last line: participants=… requests=… scheduled=… upper_bound=… greedy=… seconds=…
(seconds: producing the schedule; computing the bound is not counted)."""

from __future__ import annotations

import argparse

from services.matching.domain.bound import upper_bound
from services.matching.domain.schedule_problem import idle_gaps, violations
from services.matching.domain.scheduler import solve
from services.matching.testdata.generated import generated_event

from .common import figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--time-limit", type=float, default=28.0)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    problem = generated_event(args.participants, args.requests, seed=args.seed)
    result = solve(problem, time_limit_s=args.time_limit)
    problems = violations(problem, result.placement)
    if problems:
        raise SystemExit(f"invalid schedule: {problems[:5]}")
    bound = upper_bound(problem)
    print(
        f"status={result.status} idle_gaps={idle_gaps(problem, result.placement)} "
        f"share_of_bound={len(result.placement) / bound:.4f}"
    )
    print(
        figures(
            participants=args.participants,
            requests=len(problem.meetings),
            scheduled=len(result.placement),
            upper_bound=bound,
            greedy=result.greedy,
            seconds=f"{result.seconds:.1f}",
        )
    )


if __name__ == "__main__":
    main()
