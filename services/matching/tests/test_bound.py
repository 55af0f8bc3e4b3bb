"""The proven upper bounds: the per-participant flow bound (fast at any size) never falls below
what a schedule can hold, is as tight as the LP relaxation on generated events where tables are
not short, and counts what each participant can really hold, not just how many requests or free
slots they have."""

from __future__ import annotations

import random

import pytest
from ortools.sat.python import cp_model

from services.matching.domain.bound import participant_bound, relaxation, upper_bound
from services.matching.domain.schedule_problem import MeetingSpec, Problem
from services.matching.testdata.generated import generated_event


def most_meetings(problem: Problem) -> int:
    """The true optimum, by CP-SAT on a model written here from the problem's rules (0 when
    the locks cannot all hold: then there is no schedule to beat a bound)."""
    model = cp_model.CpModel()
    placed = []
    busy: dict[tuple[str, int], list[cp_model.IntVar]] = {}
    on_site: dict[int, list[cp_model.IntVar]] = {}
    per_person: dict[str, list[cp_model.IntVar]] = {}
    for m in problem.meetings:
        own = []
        for s in range(problem.slots):
            if not (problem.can_meet(m.a, s) and problem.can_meet(m.b, s)):
                continue
            if m.locked and m.locked[0] != s:
                continue
            var = model.new_bool_var(f"{m.meeting_id}@{s}")
            own.append(var)
            for p in (m.a, m.b):
                busy.setdefault((p, s), []).append(var)
                per_person.setdefault(p, []).append(var)
            if not m.remote:
                on_site.setdefault(s, []).append(var)
        # An organiser's lock must hold: a schedule without the locked meeting is no schedule.
        model.add(sum(own) == 1) if m.locked else model.add(sum(own) <= 1)
        placed += own
    for group in busy.values():
        model.add(sum(group) <= 1)
    for group in on_site.values():
        model.add(sum(group) <= problem.tables)
    if problem.max_meetings_per_participant is not None:
        for group in per_person.values():
            model.add(sum(group) <= problem.max_meetings_per_participant)
    model.maximize(sum(placed))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 20
    status = solver.solve(model)
    assert status in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
    return round(solver.objective_value) if status == cp_model.OPTIMAL else 0


def test_a_participant_holds_no_more_meetings_than_slots_their_partners_share() -> None:
    # x is asked by a, b and c, who all come for the first slot only: x can hold one of them,
    # though x has three requests and three free slots. d and e meet too; 2 in all.
    problem = Problem(
        slots=3,
        tables=10,
        slots_per_day=3,
        meetings=[
            MeetingSpec("xa", "x", "a"),
            MeetingSpec("xb", "x", "b"),
            MeetingSpec("xc", "x", "c"),
            MeetingSpec("de", "d", "e"),
        ],
        available={p: frozenset({0}) for p in "abc"},
    )
    assert participant_bound(problem) == most_meetings(problem) == 2


def test_the_cap_and_the_tables_limit_the_bound() -> None:
    capped = Problem(
        slots=4,
        tables=10,
        slots_per_day=4,
        meetings=[MeetingSpec("xa", "x", "a"), MeetingSpec("xb", "x", "b")],
        max_meetings_per_participant=1,
    )
    assert participant_bound(capped) == 1
    one_table = Problem(
        slots=1,
        tables=1,
        slots_per_day=1,
        meetings=[
            MeetingSpec("ab", "a", "b"),
            MeetingSpec("cd", "c", "d"),
            MeetingSpec("ef", "e", "f", remote=True),
        ],
    )
    assert participant_bound(one_table) == 2


def random_event(seed: int) -> Problem:
    rng = random.Random(seed)
    people = [f"p{i}" for i in range(rng.randint(4, 9))]
    slots = rng.randint(2, 5)
    pairs = sorted({tuple(rng.sample(people, 2)) for _ in range(rng.randint(3, 16))})
    meetings = [
        MeetingSpec(f"m{i}", a, b, remote=rng.random() < 0.2) for i, (a, b) in enumerate(pairs)
    ]
    locked = rng.choice(meetings)
    meetings[meetings.index(locked)] = MeetingSpec(
        locked.meeting_id, locked.a, locked.b, locked=(rng.randrange(slots), None)
    )
    return Problem(
        slots=slots,
        tables=rng.randint(1, 3),
        slots_per_day=slots,
        meetings=meetings,
        available={
            p: frozenset(s for s in range(slots) if rng.random() < 0.7)
            for p in people
            if rng.random() < 0.6
        },
        max_meetings_per_participant=rng.choice([None, 2, 3]),
    )


@pytest.mark.parametrize("seed", range(60))
def test_no_schedule_beats_either_bound(seed: int) -> None:
    problem = random_event(seed)
    best = most_meetings(problem)
    assert best <= participant_bound(problem)
    assert best <= relaxation(problem)[0]
    assert upper_bound(problem) == min(participant_bound(problem), relaxation(problem)[0])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_participant_bound_is_as_tight_as_the_relaxation_on_generated_events(
    seed: int,
) -> None:
    # Where participants, not tables, are short (as on the benchmark's events; with few tables
    # the relaxation's per-slot table rows are tighter, and upper_bound takes it while cheap).
    problem = generated_event(participants=100, requests=1000, tables=30, seed=seed)
    assert participant_bound(problem) == relaxation(problem)[0]
