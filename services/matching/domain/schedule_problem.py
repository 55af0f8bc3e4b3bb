"""The bilateral meeting schedule of a brokerage event as a problem: which accepted meetings go
into which time slot and at which table. Pure data and rules, shared by the solver, the greedy
baseline and the independent validator."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MeetingSpec:
    meeting_id: str
    a: str  # participant keys ("region:sme_id")
    b: str
    weight: int = 1
    remote: bool = False
    locked: tuple[int, int | None] | None = None  # (slot, table) the organiser fixed
    previous: tuple[int, int | None] | None = None  # where the last schedule had it


@dataclass
class Problem:
    slots: int
    tables: int
    slots_per_day: int
    meetings: list[MeetingSpec]
    # Slots a participant can meet in; a participant not listed is available throughout.
    available: dict[str, frozenset[int]] = field(default_factory=dict)
    max_meetings_per_participant: int | None = None

    def can_meet(self, participant: str, slot: int) -> bool:
        free = self.available.get(participant)
        return free is None or slot in free

    def feasible_slots(self, m: MeetingSpec) -> list[int]:
        """The slots both sides are free, in order (a set intersection: this is asked for every
        meeting by every step of the solver)."""
        free = [f for f in (self.available.get(m.a), self.available.get(m.b)) if f is not None]
        if not free:
            return list(range(self.slots))
        both = free[0].intersection(*free[1:])
        return sorted(s for s in both if 0 <= s < self.slots)

    def participants(self) -> set[str]:
        return {p for m in self.meetings for p in (m.a, m.b)}


Placement = dict[str, tuple[int, int | None]]  # meeting id → (slot, table or None if remote)


def violations(problem: Problem, placement: Placement) -> list[str]:
    """Everything wrong with a schedule; written apart from the solver so it can catch it."""
    problems: list[str] = []
    by_id = {m.meeting_id: m for m in problem.meetings}
    busy: dict[tuple[str, int], str] = {}
    tables: dict[tuple[int, int], str] = {}
    on_site: defaultdict[int, int] = defaultdict(int)
    count: defaultdict[str, int] = defaultdict(int)
    for mid, (slot, table) in placement.items():
        m = by_id.get(mid)
        if m is None:
            problems.append(f"{mid}: not an accepted meeting")
            continue
        if not 0 <= slot < problem.slots:
            problems.append(f"{mid}: slot {slot} outside the event")
        for p in (m.a, m.b):
            if not problem.can_meet(p, slot):
                problems.append(f"{mid}: {p} is not available in slot {slot}")
            if (p, slot) in busy:
                problems.append(f"{mid}: {p} already meets in slot {slot} ({busy[p, slot]})")
            busy[p, slot] = mid
            count[p] += 1
        if m.remote:
            if table is not None:
                problems.append(f"{mid}: a remote meeting needs no table")
        else:
            on_site[slot] += 1
            if table is None or not 0 <= table < problem.tables:
                problems.append(f"{mid}: table {table} does not exist")
            elif (slot, table) in tables:
                problems.append(f"{mid}: table {table} in slot {slot} is taken")
            else:
                tables[slot, table] = mid
        if m.locked is not None and (slot, table) != m.locked:
            problems.append(f"{mid}: locked at {m.locked}, placed at {(slot, table)}")
    for slot, n in on_site.items():
        if n > problem.tables:
            problems.append(f"slot {slot}: {n} meetings at {problem.tables} tables")
    for m in problem.meetings:
        if m.locked is not None and m.meeting_id not in placement:
            problems.append(f"{m.meeting_id}: locked but not placed")
    cap = problem.max_meetings_per_participant
    if cap is not None:
        problems += [f"{p}: {n} meetings, cap {cap}" for p, n in count.items() if n > cap]
    return problems


def idle_gaps(problem: Problem, placement: Placement) -> int:
    """Idle slots between a participant's first and last meeting of each day, summed."""
    slots: defaultdict[tuple[str, int], list[int]] = defaultdict(list)
    by_id = {m.meeting_id: m for m in problem.meetings}
    for mid, (slot, _) in placement.items():
        m = by_id[mid]
        for p in (m.a, m.b):
            slots[p, slot // problem.slots_per_day].append(slot)
    return sum(max(s) - min(s) + 1 - len(s) for s in slots.values())
