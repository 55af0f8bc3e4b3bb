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
    # Its dual objective bounds the optimum from above (weak duality) up to tolerance 1e-7.
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
    info = h.getInfo()
    value = max(info.objective_function_value, getattr(info, "dual_objective_value", 0.0) or 0.0)
    fractions: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for (i, s), x in zip(columns, h.getSolution().col_value, strict=True):
        if x > 1e-3:
            fractions[problem.meetings[i].meeting_id].append((x, s))
    for ranked in fractions.values():
        ranked.sort(reverse=True)
    return math.floor(value + 1e-3), dict(fractions)
