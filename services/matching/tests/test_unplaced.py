"""Why an accepted meeting got no slot, and what would place it: from the problem's data alone,
each remedy checked by the schedule validator. No servers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.domain.schedule_problem import MeetingSpec, Placement, Problem, violations
from services.matching.domain.scheduler import assign_tables, greedy, solve
from services.matching.domain.unplaced import Miss, changed, explain, placing_problems


def meeting(mid: str, a: str, b: str, **extra: object) -> MeetingSpec:
    return MeetingSpec(meeting_id=mid, a=a, b=b, **extra)  # type: ignore[arg-type]


def by_id(misses: list[Miss]) -> dict[str, Miss]:
    return {m.meeting_id: m for m in misses}


def placed_by_first_fit(problem: Problem) -> Placement:
    return assign_tables(problem, greedy(problem))


def test_each_reason_is_told_from_the_events_data() -> None:
    problem = Problem(
        slots=2,
        tables=1,
        slots_per_day=2,
        meetings=[
            meeting("ab", "a", "b"),  # placed in slot 0, table 0
            meeting("cd", "c", "d"),  # placed in slot 1, table 0: the only table
            meeting("ef", "e", "f"),  # no table left in either slot
            meeting("ac", "a", "c"),  # a is at the cap of 1
            meeting("gh", "g", "h"),  # g and h share no free slot
        ],
        available={"g": frozenset({0}), "h": frozenset({1})},
        max_meetings_per_participant=1,
    )
    placement: Placement = {"ab": (0, 0), "cd": (1, 0)}
    assert violations(problem, placement) == []
    misses = by_id(explain(problem, placement))
    assert set(misses) == {"ef", "ac", "gh"}
    assert misses["ef"].reasons == ("no_table",)
    assert [r.changes for r in misses["ef"].remedies] == [("one_more_table",), ("one_more_slot",)]
    assert misses["ac"].reasons == ("cap_reached", "agendas_full")
    assert misses["ac"].at_cap == ("a", "c")
    assert [r.changes for r in misses["ac"].remedies] == [("lift_cap", "one_more_slot")]
    assert misses["gh"].reasons == ("no_common_slot",)
    assert misses["gh"].common_slots == 0
    assert [r.changes for r in misses["gh"].remedies] == [("one_more_slot",)]


def test_a_meeting_the_solver_left_out_with_room_for_it_says_run_again() -> None:
    problem = Problem(slots=2, tables=1, slots_per_day=2, meetings=[meeting("ab", "a", "b")])
    [miss] = explain(problem, {})
    assert miss.reasons == ("run_again",)
    assert [(r.changes, r.slot, r.table) for r in miss.remedies] == [(("run_again",), 0, 0)]


def test_a_remote_meeting_needs_no_table_and_a_lock_that_cannot_hold_is_named() -> None:
    problem = Problem(
        slots=1,
        tables=1,
        slots_per_day=1,
        meetings=[
            meeting("ab", "a", "b"),
            meeting("cd", "c", "d", remote=True),
            meeting("ef", "e", "f", locked=(0, 0)),
        ],
    )
    misses = by_id(explain(problem, {"ab": (0, 0)}))
    assert misses["cd"].reasons == ("run_again",) and misses["cd"].remedies[0].table is None
    assert misses["ef"].reasons == ("locked_clash",) and misses["ef"].remedies == ()


def test_the_real_schedulers_misses_are_explained() -> None:
    """Three participants who all want to meet each other, two slots: one meeting stays out,
    and the explanation says their agendas are full and one more slot would hold it."""
    problem = Problem(
        slots=2,
        tables=3,
        slots_per_day=2,
        meetings=[meeting("ab", "a", "b"), meeting("bc", "b", "c"), meeting("ac", "a", "c")],
    )
    result = solve(problem, time_limit_s=1)
    [miss] = explain(problem, result.placement)
    assert miss.reasons == ("agendas_full",)
    [remedy] = miss.remedies
    assert remedy.changes == ("one_more_slot",)
    assert len(result.placement) == 2  # a triangle in two slots: no schedule holds all three


# --- properties --------------------------------------------------------------------------------

PEOPLE = ["a", "b", "c", "d", "e", "f"]


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    slots = draw(st.integers(1, 5))
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(PEOPLE), st.sampled_from(PEOPLE)).filter(
                lambda p: p[0] != p[1]
            ),
            max_size=14,
        )
    )
    meetings = [
        meeting(f"m{i}", a, b, remote=draw(st.booleans()), weight=draw(st.integers(1, 5)))
        for i, (a, b) in enumerate(pairs)
    ]
    limited = draw(st.lists(st.sampled_from(PEOPLE), unique=True, max_size=3))
    available = {
        p: frozenset(draw(st.lists(st.integers(0, slots - 1), unique=True))) for p in limited
    }
    return Problem(
        slots=slots,
        tables=draw(st.integers(1, 3)),
        slots_per_day=slots,
        meetings=meetings,
        available=available,
        max_meetings_per_participant=draw(st.none() | st.integers(1, 3)),
    )


@settings(max_examples=300, deadline=None)
@given(problems())
def test_every_unplaced_meeting_gets_a_reason_and_every_remedy_places_it(
    problem: Problem,
) -> None:
    placement = placed_by_first_fit(problem)
    assert violations(problem, placement) == []
    misses = explain(problem, placement)
    assert {m.meeting_id for m in misses} == {
        m.meeting_id for m in problem.meetings
    } - placement.keys()
    specs = {m.meeting_id: m for m in problem.meetings}
    for miss in misses:
        assert miss.reasons
        spec = specs[miss.meeting_id]
        assert ("no_common_slot" in miss.reasons) == (problem.feasible_slots(spec) == [])
        assert miss.remedies, miss  # nothing locked here: something always places it
        for remedy in miss.remedies:
            after = changed(problem, remedy, spec)
            extended = placement | {miss.meeting_id: (remedy.slot, remedy.table)}
            assert violations(after, extended) == [], (miss, remedy)
        # A remedy that changes nothing of the event is offered only when the event as it is
        # holds the meeting too.
        for remedy in miss.remedies:
            if remedy.changes == ("run_again",):
                extended = placement | {miss.meeting_id: (remedy.slot, remedy.table)}
                assert violations(problem, extended) == []


@settings(max_examples=200, deadline=None)
@given(problems())
def test_a_cap_named_as_the_reason_is_really_reached(problem: Problem) -> None:
    placement = placed_by_first_fit(problem)
    held: dict[str, int] = {}
    specs = {m.meeting_id: m for m in problem.meetings}
    for mid in placement:
        for p in (specs[mid].a, specs[mid].b):
            held[p] = held.get(p, 0) + 1
    for miss in explain(problem, placement):
        cap = problem.max_meetings_per_participant
        assert ("cap_reached" in miss.reasons) == bool(miss.at_cap)
        for p in miss.at_cap:
            assert cap is not None and held.get(p, 0) >= cap


@settings(max_examples=200, deadline=None)
@given(problems(), st.data())
def test_placing_by_hand_is_refused_exactly_when_the_schedule_would_break(
    problem: Problem, data: st.DataObject
) -> None:
    """Adding a left-out meeting, or moving a placed one, by hand: refused with reasons exactly
    when the validator finds the schedule wrong with it there."""
    placement = placed_by_first_fit(problem)
    if not problem.meetings:
        return
    m = data.draw(st.sampled_from(problem.meetings))
    slot = data.draw(st.integers(0, problem.slots))  # one past the end too
    table = None if m.remote else data.draw(st.integers(0, problem.tables))
    found = placing_problems(problem, placement, m.meeting_id, slot, table)
    moved = {k: v for k, v in placement.items() if k != m.meeting_id} | {
        m.meeting_id: (slot, table)
    }
    assert (found == []) == (violations(problem, moved) == [])
    assert all(m.meeting_id in p or p.split(":")[0] in (m.a, m.b) or p.startswith("slot")
               for p in found)  # fmt: skip


def test_placing_by_hand_names_what_it_would_break() -> None:
    problem = Problem(
        slots=2,
        tables=1,
        slots_per_day=2,
        meetings=[meeting("ab", "a", "b"), meeting("cd", "c", "d"), meeting("ac", "a", "c")],
        available={"d": frozenset({0})},
    )
    placement: Placement = {"ab": (0, 0), "cd": (1, 0)}  # d cannot meet in slot 1 any more
    assert placing_problems(problem, placement, "ac", 0, 0) == [
        "ac: a already meets in slot 0 (ab)",
        "ac: table 0 in slot 0 is taken",
        "slot 0: 2 meetings at 1 tables",
    ]
    assert placing_problems(problem, placement, "ab", 1, 0) == [
        "ab: table 0 in slot 1 is taken",
        "slot 1: 2 meetings at 1 tables",
    ]
    assert placing_problems(problem, placement, "ab", 1, None)[0] == "ab: table None does not exist"
    # The schedule's own fault (d in slot 1) is not this change's.
    assert placing_problems(problem, {"cd": (1, 0)}, "ab", 0, 0) == []
