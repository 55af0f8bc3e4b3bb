"""Proven upper bounds on the meetings any schedule can hold.

The per-participant bound (`participant_bound`) is fast at any size: two maximum flows (OR-Tools).
The optimum of the linear relaxation of the scheduling model (`relaxation`, HiGHS) is at least as
tight and also says where each meeting leans, but costs minutes on an event of 20,000 requests.
CP-SAT's own bound stays far above the truth on events of realistic size; on the generated events
both of these meet the best schedule found (the 2,000-participant one: 14,423 meetings)."""

from __future__ import annotations

import math
from collections import defaultdict

import highspy
import numpy as np
from ortools.graph.python import max_flow

from .schedule_problem import MeetingSpec, Problem

# The relaxation is solved only while it is small (columns: a meeting in one of its slots);
# above that the per-participant bound stands alone. The 5,000-request event's 104,000 columns
# take HiGHS about 10 s on an idle machine; the 20,000-request one's 624,000 over 2 minutes.
RELAXATION_COLUMNS_AT_MOST = 200_000


def upper_bound(problem: Problem) -> int:
    """The tighter of the two proven bounds (the relaxation only while it is cheap); the
    scheduler's Result.bound follows the same rule."""
    fast = participant_bound(problem)
    if candidate_columns(problem) > RELAXATION_COLUMNS_AT_MOST:
        return fast
    return min(fast, relaxation(problem)[0])


def candidate_columns(problem: Problem) -> int:
    return sum(len(slots) for slots in _candidate_slots(problem))


def _candidate_slots(problem: Problem) -> list[list[int]]:
    """Per meeting, the slots it may take: its locked one, or every slot both sides are free."""
    return [[m.locked[0]] if m.locked else problem.feasible_slots(m) for m in problem.meetings]


def participant_bound(problem: Problem) -> int:
    """A bound from each participant's own limit, in two maximum flows.

    1. A participant p holds at most c_p meetings: the largest matching of p's meetings to slots
       (each meeting into one of its candidate slots, one meeting per slot), and at most the cap.
       Any schedule places p's meetings in different candidate slots, so it is such a matching.
       One flow computes every c_p: the participants' matching graphs are disjoint, so a maximum
       flow through all of them is a maximum flow through each.
    2. Any schedule is then a set of meetings in which p appears at most c_p times: a b-matching
       of the graph whose edges are the meetings. Its fractional maximum is half the maximum flow
       through the graph doubled (every meeting a->b both as a_left->b_right and b_left->a_right,
       p_left and p_right each carrying at most c_p): a schedule's meetings, sent both ways, are
       such a flow. The floor of the half is the bound.
    3. Meetings at a table are at most tables x slots; remote ones need none.
    Only constraints are dropped or aggregated on the way, so no schedule can beat the bound."""
    return matching_bound(problem, participant_limits(problem))[0]


def participant_limits(problem: Problem) -> dict[str, int]:
    """c_p of every participant with a meeting that has a slot (step 1 of `participant_bound`):
    the scheduler also uses them to skip meetings no schedule could add."""
    placeable = _placeable(problem)
    if not placeable:
        return {}
    ids = _participant_ids(placeable)
    limits = _participant_limits(problem, placeable, ids)
    return {p: int(limits[i]) for p, i in ids.items()}


def matching_bound(problem: Problem, limits_of: dict[str, int]) -> tuple[int, dict[str, float]]:
    """Steps 2 and 3 of `participant_bound`, from the participants' limits; and per meeting its
    share of the fractional b-matching (1, 1/2 or 0), which orders a first fit well."""
    placeable = _placeable(problem)
    if not placeable:
        return 0, {}
    ids = _participant_ids(placeable)
    limits = np.array([limits_of[p] for p in ids], dtype=np.int64)
    n = len(ids)
    flow = max_flow.SimpleMaxFlow()
    source, sink = 2 * n, 2 * n + 1
    left = np.arange(n, dtype=np.int32)
    a = np.array([ids[m.a] for m, _ in placeable], dtype=np.int32)
    b = np.array([ids[m.b] for m, _ in placeable], dtype=np.int32)
    arcs = flow.add_arcs_with_capacity(
        np.concatenate([np.full(n, source, np.int32), left + n, a, b]),
        np.concatenate([left, np.full(n, sink, np.int32), b + n, a + n]),
        np.concatenate([limits, limits, np.ones(2 * len(placeable), np.int64)]),
    )
    if flow.solve(source, sink) != flow.OPTIMAL:
        raise RuntimeError("the maximum flow of the participant bound failed")
    bound = flow.optimal_flow() // 2
    remote = sum(1 for m, _ in placeable if m.remote)
    carried = np.asarray(flow.flows(arcs))[2 * n :]
    k = len(placeable)
    shares = (carried[:k] + carried[k:]) / 2
    return (
        min(bound, remote + problem.tables * problem.slots),
        {m.meeting_id: float(x) for (m, _), x in zip(placeable, shares, strict=True)},
    )


def _placeable(problem: Problem) -> list[tuple[MeetingSpec, list[int]]]:
    pairs = zip(problem.meetings, _candidate_slots(problem), strict=True)
    return [(m, slots) for m, slots in pairs if slots]


def _participant_ids(placeable: list[tuple[MeetingSpec, list[int]]]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for m, _ in placeable:
        ids.setdefault(m.a, len(ids))
        ids.setdefault(m.b, len(ids))
    return ids


def _participant_limits(
    problem: Problem, placeable: list[tuple[MeetingSpec, list[int]]], ids: dict[str, int]
) -> np.ndarray:
    """c_p for every participant: one maximum flow through the disjoint union of the
    participants' meeting-to-slot graphs (source -> (p, meeting) -> (p, slot) -> sink).
    Built with numpy: an event of 20,000 requests has over a million arcs."""
    n, slots = len(ids), problem.slots
    count = np.array([len(c) for _, c in placeable], dtype=np.int64)
    column_slot = np.fromiter((s for _, c in placeable for s in c), np.int64, int(count.sum()))
    column_meeting = np.repeat(np.arange(len(placeable)), count)
    source, sink = 0, 1
    slot_node = 2  # n x slots nodes: (p, s) at 2 + p * slots + s
    meeting_node = slot_node + n * slots  # two per meeting: its a side, then its b side
    tails, heads, owners = [], [], []
    for side, people in enumerate(
        (
            np.array([ids[m.a] for m, _ in placeable], dtype=np.int64),
            np.array([ids[m.b] for m, _ in placeable], dtype=np.int64),
        )
    ):
        nodes = meeting_node + 2 * np.arange(len(placeable)) + side
        tails += [np.full(len(placeable), source), nodes[column_meeting]]
        heads += [nodes, slot_node + people[column_meeting] * slots + column_slot]
        owners.append(people)
    grid = np.arange(slot_node, meeting_node)
    tails.append(grid)
    heads.append(np.full(len(grid), sink))
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(
        np.concatenate(tails).astype(np.int32),
        np.concatenate(heads).astype(np.int32),
        np.ones(sum(len(t) for t in tails), dtype=np.int64),
    )
    if flow.solve(source, sink) != flow.OPTIMAL:
        raise RuntimeError("the maximum flow of the participants' limits failed")
    # The arcs from the source come first for each side: a side's meetings it carried.
    carried = np.asarray(flow.flows(np.arange(flow.num_arcs())))
    first_b = len(placeable) + len(column_meeting)
    limits = np.bincount(owners[0], weights=carried[: len(placeable)], minlength=n) + np.bincount(
        owners[1], weights=carried[first_b : first_b + len(placeable)], minlength=n
    )
    cap = problem.max_meetings_per_participant
    if cap is not None:
        limits = np.minimum(limits, cap)
    return np.rint(limits).astype(np.int64)


def relaxation(
    problem: Problem, time_limit_s: float | None = None
) -> tuple[int, dict[str, list[tuple[float, int]]]]:
    """The bound, and per meeting the fractional slots of the relaxed optimum, largest first.
    Stopped by the time limit, the bound still holds (weak duality), only looser."""
    columns: list[tuple[int, int]] = []  # (meeting index, slot)
    for i, slots in enumerate(_candidate_slots(problem)):
        columns += [(i, s) for s in slots]
    if not columns:
        return 0, {}
    rows: defaultdict[tuple[str, object], list[int]] = defaultdict(list)
    cap = problem.max_meetings_per_participant
    for col, (i, s) in enumerate(columns):
        m = problem.meetings[i]
        rows["meeting", i].append(col)
        rows["busy", (m.a, s)].append(col)
        rows["busy", (m.b, s)].append(col)
        if not m.remote:
            rows["tables", s].append(col)
        if cap is not None:
            rows["cap", m.a].append(col)
            rows["cap", m.b].append(col)
    limits = {"meeting": 1, "busy": 1, "tables": problem.tables, "cap": cap or 0}

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # Interior point without crossover: the simplex takes minutes on an event of 5,000 requests.
    # The bound is then computed from the row duals by weak duality (see _dual_bound), so it
    # holds however inexact the solver's answer is.
    h.setOptionValue("solver", "ipm")
    h.setOptionValue("run_crossover", "off")
    if time_limit_s is not None:
        h.setOptionValue("time_limit", max(0.1, time_limit_s))
    n = len(columns)
    lower = np.array(
        [1.0 if problem.meetings[i].locked else 0.0 for i, _ in columns], dtype=np.float64
    )
    h.addVars(n, lower, np.ones(n))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), np.ones(n))
    kept = [
        (kind, cols)
        for (kind, _), cols in rows.items()
        if len(cols) > limits[kind] or kind == "meeting"
    ]
    starts: list[int] = []
    index: list[int] = []
    for _, cols in kept:
        starts.append(len(index))
        index += cols
    h.addRows(
        len(kept),
        np.full(len(kept), -highspy.kHighsInf),
        np.array([float(limits[kind]) for kind, _ in kept]),
        len(index),
        np.array(starts, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.ones(len(index)),
    )
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    solution = h.getSolution()
    limits_of_rows = np.array([float(limits[kind]) for kind, _ in kept])
    row_of_entry = np.repeat(np.arange(len(kept)), [len(cols) for _, cols in kept])
    value = _dual_bound(
        np.asarray(solution.row_dual), limits_of_rows, row_of_entry, np.array(index), lower
    )
    fractions: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for (i, s), x in zip(columns, solution.col_value, strict=True):
        if x > 1e-3:
            fractions[problem.meetings[i].meeting_id].append((x, s))
    for ranked in fractions.values():
        ranked.sort(reverse=True)
    return math.floor(value + 1e-3), dict(fractions)


def _dual_bound(
    row_dual: np.ndarray,
    b: np.ndarray,
    row_of_entry: np.ndarray,
    column_of_entry: np.ndarray,
    lower: np.ndarray,
) -> float:
    """max 1·x s.t. Ax <= b, lower <= x <= 1 is at most b·y + Σ max over x_j of (1 - Aᵀy)_j x_j
    for any y >= 0. The solver's duals give a y that makes this tight; whatever their sign
    convention or error, the smaller of the two readings is a valid bound."""
    bounds = []
    for y in (np.maximum(row_dual, 0.0), np.maximum(-row_dual, 0.0)):
        reduced = np.ones(len(lower))
        np.subtract.at(reduced, column_of_entry, y[row_of_entry])
        best_x = np.where(reduced > 0, 1.0, lower)
        bounds.append(float(b @ y + reduced @ best_x))
    return min(bounds)
