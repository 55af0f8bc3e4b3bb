"""A proven upper bound on the meetings any schedule can hold: the optimum of the linear
relaxation of the scheduling model, solved with HiGHS. CP-SAT's own bound stays far above the
truth on events of realistic size; the relaxation is within a few meetings of it."""

from __future__ import annotations

import math
from collections import defaultdict

import highspy
import numpy as np

from .schedule_problem import Problem


def upper_bound(problem: Problem) -> int:
    return relaxation(problem)[0]


def relaxation(problem: Problem) -> tuple[int, dict[str, list[tuple[float, int]]]]:
    """The bound, and per meeting the fractional slots of the relaxed optimum, largest first."""
    columns: list[tuple[int, int]] = []  # (meeting index, slot)
    for i, m in enumerate(problem.meetings):
        slots = [m.locked[0]] if m.locked else problem.feasible_slots(m)
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
