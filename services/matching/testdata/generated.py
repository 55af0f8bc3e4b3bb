"""A realistic brokerage event, generated with a fixed seed, for the scheduler benchmark and
tests: popular participants get many more requests than others, some meet remotely, and most are
available only part of the time."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from ..domain.schedule_problem import MeetingSpec, Problem
from ..domain.scheduler import spec_weight


def generated_event(
    participants: int = 500,
    requests: int = 5000,
    days: int = 2,
    slots_per_day: int = 16,
    tables: int = 100,
    remote_share: float = 0.10,
    availability: float = 0.75,
    seed: int = 2026,
) -> Problem:
    rng = random.Random(seed)
    people = [f"p{i}" for i in range(participants)]
    popularity = [1.0 / (rank + 1) ** 0.8 for rank in range(participants)]  # Zipf-like
    remote = {p for p in people if rng.random() < remote_share}
    slots = days * slots_per_day
    available: dict[str, frozenset[int]] = {}
    for p in people:
        # Most people come for a block of the event: a run of consecutive slots, per day.
        free: set[int] = set()
        for day in range(days):
            length = max(1, round(slots_per_day * rng.uniform(availability - 0.2, 1.0)))
            first = rng.randint(0, slots_per_day - min(length, slots_per_day))
            free |= {
                day * slots_per_day + s for s in range(first, min(first + length, slots_per_day))
            }
        available[p] = frozenset(free)
    pairs: set[tuple[str, str]] = set()
    meetings: list[MeetingSpec] = []
    while len(meetings) < requests:
        a = rng.choice(people)
        b = rng.choices(people, weights=popularity)[0]
        if a == b or (a, b) in pairs or (b, a) in pairs:
            continue
        pairs.add((a, b))
        meetings.append(
            MeetingSpec(
                meeting_id=f"m{len(meetings)}",
                a=a,
                b=b,
                weight=spec_weight(rng.randint(1, 3), rng.random() < 0.1),
                remote=a in remote or b in remote,
            )
        )
    return Problem(
        slots=slots,
        tables=tables,
        slots_per_day=slots_per_day,
        meetings=meetings,
        available=available,
    )


def changed_requests(
    participants: int,
    requests: int,
    share: float,
    seed: int = 2026,
    **event: Any,
) -> tuple[Problem, Problem]:
    """The generated event, and the same event after late changes: `share` of its requests
    withdrawn (chosen with the seed) and as many new ones from the same generator (the requests
    it draws after the first `requests`, so the two events share everything else)."""
    changed = round(requests * share)
    grown = generated_event(participants, requests + changed, seed=seed, **event)
    before = dataclasses.replace(grown, meetings=grown.meetings[:requests])
    withdrawn = set(random.Random(seed + 1).sample(range(requests), changed))
    after = dataclasses.replace(
        grown,
        meetings=[m for i, m in enumerate(before.meetings) if i not in withdrawn]
        + grown.meetings[requests:],
    )
    return before, after
