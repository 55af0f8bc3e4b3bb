"""Building the schedule: starts from first fit, from first fit in the order of the per-participant
bound's b-matching and (on events small enough) from the rounded LP relaxation (HiGHS), each
improved by moving the meetings that block an unplaced one; CP-SAT (OR-Tools) to hold as many
meetings as possible weighted by priority and mutual interest (on events small enough for its
model to be built in time); tables assigned per slot; then a local search that closes idle gaps
between a participant's meetings. The bounds (bound.py) prove how many meetings any schedule
could hold.

Re-runs after late changes keep meetings where they were: first fit puts every meeting of the
previous schedule back in its slot before any other, augmenting moves one only to place another
meeting, and in CP-SAT keeping a meeting's previous slot earns a bonus too small to ever cost a
meeting, but large enough to decide between equal schedules."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .bound import (
    RELAXATION_COLUMNS_AT_MOST,
    candidate_columns,
    matching_bound,
    participant_limits,
    relaxation,
)
from .schedule_problem import MeetingSpec, Placement, Problem


@dataclass
class Result:
    placement: Placement
    greedy: int
    status: str
    seconds: float
    moved: int  # meetings of the previous schedule now in another slot or dropped
    bound: int | None = None  # proven: no schedule of the problem holds more meetings


# CP-SAT's model is built (in Python) only up to this many columns (a meeting in one of its
# slots): the 5,000-request event's 104,000 take seconds, the 20,000-request one's 624,000 over
# two minutes on a loaded machine, longer than the whole schedule may take. Above it the starts,
# augmented, are the schedule.
MODEL_COLUMNS_AT_MOST = 200_000


def greedy(problem: Problem, shares: dict[str, float] | None = None) -> dict[str, int]:
    """First fit: locked meetings, then those of the previous schedule (in their old slot if it
    is still free), then the rest by weight, each into its earliest free slot. Given the
    b-matching's shares (bound.matching_bound), the rest go by share first: the meetings of the
    participants in most demand that the bound counts on come before those it leaves out."""
    share = shares or {}
    order = sorted(
        problem.meetings,
        key=lambda m: (
            m.locked is None,
            m.previous is None,
            -share.get(m.meeting_id, 0.0),
            -m.weight,
        ),
    )
    plan = []
    for m in order:
        candidates = [m.locked[0]] if m.locked else problem.feasible_slots(m)
        if m.previous is not None and m.previous[0] in candidates and not m.locked:
            candidates = [m.previous[0], *candidates]
        plan.append((m, candidates))
    return _first_fit(problem, plan)


def rounded(problem: Problem, fractions: dict[str, list[tuple[float, int]]]) -> dict[str, int]:
    """The relaxed optimum made whole: meetings by how sure the relaxation is of them, each into
    its most fractional slot that is still free."""
    by_id = {m.meeting_id: m for m in problem.meetings}
    order = sorted(
        fractions, key=lambda mid: (by_id[mid].locked is None, -fractions[mid][0][0], mid)
    )
    return _first_fit(problem, [(by_id[mid], [s for _, s in fractions[mid]]) for mid in order])


def _first_fit(problem: Problem, plan: list[tuple[MeetingSpec, list[int]]]) -> dict[str, int]:
    """Each meeting in turn into the first of its candidate slots where both participants are
    free, a table is free (unless remote) and neither is at the cap (unless it is locked)."""
    busy: set[tuple[str, int]] = set()
    on_site: defaultdict[int, int] = defaultdict(int)
    count: defaultdict[str, int] = defaultdict(int)
    cap = problem.max_meetings_per_participant
    chosen: dict[str, int] = {}
    for m, candidates in plan:
        if cap is not None and (count[m.a] >= cap or count[m.b] >= cap) and not m.locked:
            continue
        for s in candidates:
            if (m.a, s) in busy or (m.b, s) in busy:
                continue
            if not m.remote and on_site[s] >= problem.tables:
                continue
            chosen[m.meeting_id] = s
            busy |= {(m.a, s), (m.b, s)}
            on_site[s] += 0 if m.remote else 1
            count[m.a] += 1
            count[m.b] += 1
            break
    return chosen


def augment(
    problem: Problem,
    slots_of: dict[str, int],
    deadline: float,
    limits: dict[str, int] | None = None,
) -> dict[str, int]:
    """Place meetings the first fit left out by moving the (at most two) meetings that block
    them in a slot to other slots: a cheap improvement that gives CP-SAT a much better start.
    A meeting of a participant already holding as many meetings as they can (`limits`, see
    bound.participant_limits) is not tried: on large events those are most of the waiting ones."""
    slots_of = dict(slots_of)
    by_id = {m.meeting_id: m for m in problem.meetings}
    busy: dict[tuple[str, int], str] = {}
    on_site: defaultdict[int, int] = defaultdict(int)
    count: defaultdict[str, int] = defaultdict(int)
    cap = problem.max_meetings_per_participant
    for mid, s in slots_of.items():
        m = by_id[mid]
        busy[m.a, s] = busy[m.b, s] = mid
        on_site[s] += 0 if m.remote else 1
        count[m.a] += 1
        count[m.b] += 1
    feasible = {m.meeting_id: problem.feasible_slots(m) for m in problem.meetings}

    def fits(m: MeetingSpec, s: int, ignoring: set[str]) -> bool:
        for p in (m.a, m.b):
            holder = busy.get((p, s))
            if holder is not None and holder not in ignoring:
                return False
        if m.remote:
            return True
        leaving = sum(1 for mid in ignoring if slots_of.get(mid) == s and not by_id[mid].remote)
        return on_site[s] - leaving < problem.tables

    def move(mid: str, to: int | None) -> None:
        m = by_id[mid]
        if (old := slots_of.pop(mid, None)) is not None:
            del busy[m.a, old], busy[m.b, old]
            on_site[old] -= 0 if m.remote else 1
        if to is not None:
            slots_of[mid] = to
            busy[m.a, to] = busy[m.b, to] = mid
            on_site[to] += 0 if m.remote else 1

    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        waiting = [m for m in problem.meetings if m.meeting_id not in slots_of and not m.locked]
        for m in sorted(waiting, key=lambda m: -m.weight):
            if time.monotonic() > deadline:
                break
            if cap is not None and (count[m.a] >= cap or count[m.b] >= cap):
                continue
            if limits is not None and any(count[p] >= limits.get(p, 0) for p in (m.a, m.b)):
                continue
            for s in feasible[m.meeting_id]:
                blockers = {busy[p, s] for p in (m.a, m.b) if (p, s) in busy}
                if any(by_id[b].locked for b in blockers) or not fits(m, s, blockers):
                    continue
                relocation: dict[str, int] = {}
                for b in blockers:
                    spec = by_id[b]
                    target = next(
                        (
                            t
                            for t in feasible[b]
                            if t != s and t not in relocation.values() and fits(spec, t, {b})
                        ),
                        None,
                    )
                    if target is None:
                        break
                    relocation[b] = target
                else:
                    for b, t in relocation.items():
                        move(b, t)
                    move(m.meeting_id, s)
                    count[m.a] += 1
                    count[m.b] += 1
                    improved = True
                    break
    return slots_of


def solve(
    problem: Problem, time_limit_s: float = 20.0, workers: int = 2, **params: object
) -> Result:
    """The schedule within about time_limit_s. `workers`: CP-SAT's threads (the machine's
    cores; fewer when it is shared)."""
    started = time.monotonic()
    limits = participant_limits(problem)
    bound, shares = matching_bound(problem, limits)
    columns = candidate_columns(problem)
    # Without CP-SAT to follow (too large a model), augmenting the starts may take most of the
    # time: on the 20,000-request event it is what brings the schedule to the bound.
    augmenting_s = time_limit_s / 6 if columns <= MODEL_COLUMNS_AT_MOST else time_limit_s * 0.4
    # First fit in the bound's order: far better on large events. It puts every meeting of a
    # previous schedule back first, as plain first fit does, so a re-run starts from it too.
    start = augment(problem, greedy(problem, shares), time.monotonic() + augmenting_s, limits)
    first_fit = greedy(problem)
    if len(start) < bound:
        plain = augment(problem, first_fit, time.monotonic() + augmenting_s, limits)
        if len(plain) > len(start):
            start = plain
    # A re-run starts from the previous schedule alone, to keep it; a first run also tries the
    # rounded relaxation.
    rerun = any(m.previous for m in problem.meetings)
    if columns <= RELAXATION_COLUMNS_AT_MOST:
        lp_bound, fractions = relaxation(problem, time_limit_s * 0.4)
        bound = min(bound, lp_bound)
        if not rerun and len(start) < bound:
            from_lp = augment(
                problem, rounded(problem, fractions), time.monotonic() + time_limit_s / 6, limits
            )
            if len(from_lp) > len(start):
                start = from_lp
    every_one_kept = all(
        m.previous is None or start.get(m.meeting_id) == m.previous[0] for m in problem.meetings
    )
    if len(start) == len(problem.meetings) and every_one_kept:
        slots_of, status = start, "OPTIMAL"  # all placed, none moved: nothing left to gain
    elif columns > MODEL_COLUMNS_AT_MOST:
        slots_of, status = start, "FEASIBLE"
    else:
        slots_of, status = _improved(problem, start, started, time_limit_s, workers, params)
    polish_s = min(1.5, time_limit_s / 10)
    slots_of = compact(problem, slots_of, deadline=time.monotonic() + polish_s)
    placement = assign_tables(problem, slots_of)
    moved = sum(
        1
        for m in problem.meetings
        if m.previous is not None and slots_of.get(m.meeting_id) != m.previous[0]
    )
    return Result(
        placement=placement,
        greedy=len(first_fit),
        status=status,
        seconds=time.monotonic() - started,
        moved=moved,
        bound=bound,
    )


def _improved(
    problem: Problem,
    start: dict[str, int],
    started: float,
    time_limit_s: float,
    workers: int,
    params: dict[str, object],
) -> tuple[dict[str, int], str]:
    """CP-SAT over the whole event from the start, within what is left of the time limit."""
    model = cp_model.CpModel()
    x: dict[tuple[str, int], cp_model.IntVar] = {}
    by_participant_slot: defaultdict[tuple[str, int], list[cp_model.IntVar]] = defaultdict(list)
    by_participant: defaultdict[str, list[cp_model.IntVar]] = defaultdict(list)
    on_site: defaultdict[int, list[cp_model.IntVar]] = defaultdict(list)
    kept_before = sum(1 for m in problem.meetings if m.previous is not None)
    scale = kept_before + 1  # one meeting more always beats keeping every previous slot
    objective = []
    # Building the model in Python takes seconds per 100,000 columns, far more on a loaded
    # machine: a model that could not be searched for at least a fifth of the time limit is
    # abandoned and the start stands.
    polish_s = min(1.5, time_limit_s / 10)
    built_by = started + time_limit_s - polish_s - time_limit_s / 5
    for i, m in enumerate(problem.meetings):
        if i % 500 == 0 and time.monotonic() > built_by:
            return start, "FEASIBLE"
        slots = [m.locked[0]] if m.locked else problem.feasible_slots(m)
        own = []
        for s in slots:
            var = model.new_bool_var(f"x_{m.meeting_id}_{s}")
            x[m.meeting_id, s] = var
            own.append(var)
            by_participant_slot[m.a, s].append(var)
            by_participant_slot[m.b, s].append(var)
            by_participant[m.a].append(var)
            by_participant[m.b].append(var)
            if not m.remote:
                on_site[s].append(var)
            keep = 1 if m.previous is not None and m.previous[0] == s else 0
            objective.append((m.weight * scale + keep) * var)
            model.add_hint(var, start.get(m.meeting_id) == s)
        if m.locked:
            model.add(own[0] == 1)
        elif own:
            model.add_at_most_one(own)
    for group in by_participant_slot.values():
        if len(group) > 1:
            model.add_at_most_one(group)
    for group in on_site.values():
        if len(group) > problem.tables:
            model.add(sum(group) <= problem.tables)
    cap = problem.max_meetings_per_participant
    if cap is not None:
        for group in by_participant.values():
            if len(group) > cap:
                model.add(sum(group) <= cap)
    model.maximize(sum(objective))
    solver = cp_model.CpSolver()
    # The last part of the budget is for closing idle gaps.
    remaining = time_limit_s - polish_s - (time.monotonic() - started)
    solver.parameters.max_time_in_seconds = max(0.2, remaining)
    solver.parameters.num_workers = workers
    # On events of realistic size, neighbourhood search from the augmented start finds far
    # better schedules within the time limit than CP-SAT's default portfolio on two workers.
    solver.parameters.use_lns_only = True
    # The start (the hint) is taken only after presolve, whose probing and symmetry detection
    # took all of a 25 s budget on the 5,000-request event on a loaded machine (status UNKNOWN:
    # not even the start back); without them the search starts after about 5 s.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    for name, value in params.items():
        setattr(solver.parameters, name, value)
    status = solver.solve(model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {mid: s for (mid, s), var in x.items() if solver.value(var)}, solver.status_name(
            status
        )
    # No solution in time (or locks that cannot all hold): the start stands.
    return start, solver.status_name(status)


def compact(problem: Problem, slots_of: dict[str, int], deadline: float) -> dict[str, int]:
    """Move meetings into free slots where that shortens their participants' idle gaps. Locked
    meetings and meetings kept from the previous schedule stay where they are."""
    slots_of = dict(slots_of)
    by_id = {m.meeting_id: m for m in problem.meetings}
    busy: dict[tuple[str, int], str] = {}
    on_site: defaultdict[int, int] = defaultdict(int)
    day_slots: defaultdict[tuple[str, int], list[int]] = defaultdict(list)
    for mid, s in slots_of.items():
        m = by_id[mid]
        busy[m.a, s] = busy[m.b, s] = mid
        on_site[s] += 0 if m.remote else 1
        for p in (m.a, m.b):
            day_slots[p, s // problem.slots_per_day].append(s)

    def gap(p: str, day: int) -> int:
        s = day_slots[p, day]
        return max(s) - min(s) + 1 - len(s) if s else 0

    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for mid, s in list(slots_of.items()):
            m = by_id[mid]
            if m.locked or (m.previous is not None and m.previous[0] == s):
                continue
            day = s // problem.slots_per_day
            for t in range(day * problem.slots_per_day, (day + 1) * problem.slots_per_day):
                if t == s or (m.a, t) in busy or (m.b, t) in busy:
                    continue
                if not (problem.can_meet(m.a, t) and problem.can_meet(m.b, t)):
                    continue
                if not m.remote and on_site[t] >= problem.tables:
                    continue
                before = gap(m.a, day) + gap(m.b, day)
                for p in (m.a, m.b):
                    day_slots[p, day].remove(s)
                    day_slots[p, day].append(t)
                if gap(m.a, day) + gap(m.b, day) < before:
                    del busy[m.a, s], busy[m.b, s]
                    busy[m.a, t] = busy[m.b, t] = mid
                    if not m.remote:
                        on_site[s] -= 1
                        on_site[t] += 1
                    slots_of[mid] = s = t
                    improved = True
                else:
                    for p in (m.a, m.b):
                        day_slots[p, day].remove(t)
                        day_slots[p, day].append(s)
    return slots_of


def assign_tables(problem: Problem, slots_of: dict[str, int]) -> Placement:
    """Locked meetings take their table, others keep their previous table when it is free, the
    rest get the lowest free one. Remote meetings need none."""
    by_id = {m.meeting_id: m for m in problem.meetings}
    taken: defaultdict[int, set[int]] = defaultdict(set)
    placement: Placement = {}
    ordered = sorted(
        slots_of.items(),
        key=lambda item: (by_id[item[0]].locked is None, by_id[item[0]].previous is None),
    )
    for mid, s in ordered:
        m = by_id[mid]
        if m.remote:
            placement[mid] = (s, None)
            continue
        wanted = [pos[1] for pos in (m.locked, m.previous) if pos is not None and pos[0] == s]
        table = next((t for t in wanted if t is not None and t not in taken[s]), None)
        if table is None:
            table = next(t for t in range(problem.tables) if t not in taken[s])
        taken[s].add(table)
        placement[mid] = (s, table)
    return placement


def spec_weight(priority: int, mutual: bool) -> int:
    """Holding a meeting counts most; priority (1-3) and mutual interest decide between them."""
    return 20 + 2 * priority + (3 if mutual else 0)
