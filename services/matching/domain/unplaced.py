"""Why an accepted meeting got no slot in a schedule, and what would place it.

Read from the problem's own data (the participants' free slots, the tables, the cap) and the
placement, never from the solver's insides: so the explanation holds for any schedule, and each
remedy is checked the way the validator checks a schedule (``violations``). A remedy keeps every
placed meeting where it is and names the one change of the event (or the few) after which the
meeting fits at a given slot and table.

Breaks take no slot (slots are numbered across a day without them), so a break is never why a
meeting is missing; "one more slot" is where a break could give one."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Literal

from .schedule_problem import MeetingSpec, Placement, Problem, violations

Reason = Literal[
    "no_common_slot",  # the two share no slot both can meet in
    "cap_reached",  # one of them (or both) holds the event's most meetings per participant
    "agendas_full",  # in every slot both can meet in, one of them meets someone else
    "no_table",  # in a slot both are free, every table is taken
    "locked_clash",  # fixed by the organiser where it cannot be held
    "run_again",  # a slot, a table and room under the cap are free: the solver missed it
]
Change = Literal["run_again", "lift_cap", "one_more_table", "one_more_slot"]


@dataclass(frozen=True)
class Remedy:
    """Changes after which the meeting fits at (slot, table), every other meeting unmoved. An
    added slot is numbered ``problem.slots`` (one past the event's last)."""

    changes: tuple[Change, ...]
    slot: int
    table: int | None


@dataclass(frozen=True)
class Miss:
    meeting_id: str
    reasons: tuple[Reason, ...]
    at_cap: tuple[str, ...] = ()  # the participants whose cap is reached
    common_slots: int = 0  # slots both can meet in
    remedies: tuple[Remedy, ...] = field(default=())


def changed(problem: Problem, remedy: Remedy, m: MeetingSpec) -> Problem:
    """The problem as the remedy changes it (an added slot is one both of m's sides can meet
    in: the organiser adds it with them)."""
    tables, slots, cap = problem.tables, problem.slots, problem.max_meetings_per_participant
    available = dict(problem.available)
    if "one_more_table" in remedy.changes:
        tables += 1
    if "lift_cap" in remedy.changes and cap is not None:
        cap += 1
    if "one_more_slot" in remedy.changes:
        slots += 1
        for p in (m.a, m.b):
            if p in available:
                available[p] = available[p] | {problem.slots}
    return replace(problem, tables=tables, slots=slots, available=available,
                   max_meetings_per_participant=cap)  # fmt: skip


def explain(problem: Problem, placement: Placement) -> list[Miss]:
    """Every meeting of the problem the placement leaves out, with why and what would place it,
    in the problem's order."""
    busy: set[tuple[str, int]] = set()
    tables_taken: defaultdict[int, set[int]] = defaultdict(set)
    count: defaultdict[str, int] = defaultdict(int)
    by_id = {m.meeting_id: m for m in problem.meetings}
    for mid, (slot, table) in placement.items():
        placed = by_id.get(mid)
        if placed is None:
            continue
        busy |= {(placed.a, slot), (placed.b, slot)}
        count[placed.a] += 1
        count[placed.b] += 1
        if table is not None:
            tables_taken[slot].add(table)
    cap = problem.max_meetings_per_participant
    misses = []
    for m in problem.meetings:
        if m.meeting_id in placement:
            continue
        at_cap = tuple(p for p in (m.a, m.b) if cap is not None and count[p] >= cap)
        if m.locked is not None:
            # Unlocking lets the scheduler weigh it again; no other change is named for it.
            misses.append(Miss(m.meeting_id, ("locked_clash",), at_cap))
            continue
        common = problem.feasible_slots(m)
        free_table: dict[int, int | None] = {}  # slot both are free in → a table (None: remote)
        tableless: list[int] = []
        agendas_full = False
        for s in common:
            if (m.a, s) in busy or (m.b, s) in busy:
                agendas_full = True
                continue
            if m.remote:
                free_table[s] = None
                continue
            table = next((t for t in range(problem.tables) if t not in tables_taken[s]), None)
            if table is None:
                tableless.append(s)
            else:
                free_table[s] = table
        reasons: list[Reason] = []
        if not common:
            reasons.append("no_common_slot")
        if at_cap:
            reasons.append("cap_reached")
        if common and not free_table:
            if agendas_full:
                reasons.append("agendas_full")
            if tableless:
                reasons.append("no_table")
        if not reasons:
            reasons.append("run_again")
        needs: tuple[Change, ...] = ("lift_cap",) if at_cap else ()
        remedies: list[Remedy] = []
        if free_table:
            slot = min(free_table)
            remedies.append(Remedy(needs or ("run_again",), slot, free_table[slot]))
        elif tableless:
            remedies.append(Remedy((*needs, "one_more_table"), tableless[0], problem.tables))
        if not free_table:
            remedies.append(
                Remedy((*needs, "one_more_slot"), problem.slots, None if m.remote else 0)
            )
        misses.append(Miss(m.meeting_id, tuple(reasons), at_cap, len(common), tuple(remedies)))
    return misses


def placing_problems(
    problem: Problem, placement: Placement, meeting_id: str, slot: int, table: int | None
) -> list[str]:
    """What placing one meeting by hand at (slot, table) would break, every other meeting where
    it is: the validator's findings with it placed, less those the schedule had already (a
    participant's free slots may have changed since it was built; that is no reason to refuse
    this change)."""
    others = {mid: pos for mid, pos in placement.items() if mid != meeting_id}
    before = set(violations(problem, others))
    return [p for p in violations(problem, others | {meeting_id: (slot, table)}) if p not in before]
