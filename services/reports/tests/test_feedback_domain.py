"""The feedback's rules without servers: which facts open surveys, who may answer, when and
once, what an erasure leaves, and the figures of a period (checked against a count made here)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as c
from contracts.access import Actor, Role
from contracts.common import SmeRef
from contracts.errors import Refused
from services.reports.domain import feedback as fb

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=60)
ACME = SmeRef(region="tallinn", sme_id="acme")
OTHER = SmeRef(region="tallinn", sme_id="other")


def contact(sme: SmeRef = ACME, email: str = "kati@acme.example", **extra: object) -> Actor:
    fields: dict[str, object] = {"id": email, "role": "sme", "region": sme.region}
    fields["sme_id"] = sme.sme_id
    return Actor.model_validate(fields | extra)


def survey(kind: c.OccasionKind = "event", at: datetime = NOW, sme: SmeRef = ACME) -> c.Survey:
    opening = fb.Opening(sme, c.Occasion(kind=kind, ref="e1", happened_at=at))
    opened = fb.open_survey(opening, "tallinn", at, WINDOW)
    assert opened is not None
    return opened


def given_answer(**extra: object) -> c.AnswerSurvey:
    base: dict[str, object] = {
        "survey_id": "s",
        "rating": 4,
        "helped": "The matchmaking before the event",
        "markets": [
            {"market": "DE", "obstacles": ["tax", "finance"], "text": "VAT registration took long"}
        ],
        "may_quote": True,
    }
    return c.AnswerSurvey.model_validate(base | extra)


def meeting(outcome: mt.Outcome | None, receiver_region: str = "tallinn") -> mt.Meeting:
    return mt.Meeting(
        meeting_id="m1",
        event_id="b1",
        requester=ACME,
        receiver=SmeRef(region=receiver_region, sme_id="partner"),
        status="accepted",
        priority=1,
        remote=False,
        outcome=outcome,
    )


def test_a_meeting_held_opens_a_survey_for_each_side_of_this_region_only() -> None:
    assert fb.meeting_held(meeting(None), "tallinn", NOW) == []
    assert fb.meeting_held(meeting("did_not_take_place"), "tallinn", NOW) == []
    both = fb.meeting_held(meeting("cooperation_possible"), "tallinn", NOW)
    assert [o.sme.sme_id for o in both] == ["acme", "partner"]
    assert {o.occasion.kind for o in both} == {"meeting"}
    one = fb.meeting_held(meeting("informative_no_cooperation", "berlin"), "tallinn", NOW)
    assert [o.sme for o in one] == [ACME]


def test_a_meeting_held_at_another_regions_event_opens_surveys_of_this_regions_sides() -> None:
    berlin = SmeRef(region="berlin", sme_id="partner")

    def held(*sides: SmeRef) -> mt.MeetingHeld:
        return mt.MeetingHeld(
            meeting_id="m9", event_id="hel-b1", region="helsinki", participants=list(sides)
        )

    [ours] = fb.meeting_held_elsewhere(held(ACME, berlin), "tallinn", NOW)
    assert ours.sme == ACME
    assert (ours.occasion.kind, ours.occasion.ref, ours.occasion.event_id) == (
        "meeting",
        "m9",
        "hel-b1",
    )
    assert fb.meeting_held_elsewhere(held(ACME, berlin), "riga", NOW) == []
    [theirs] = fb.meeting_held_elsewhere(held(ACME, berlin), "berlin", NOW)
    assert theirs.sme == berlin
    both = fb.meeting_held_elsewhere(held(ACME, OTHER), "tallinn", NOW)
    assert [o.sme for o in both] == [ACME, OTHER]


def test_another_regions_meeting_held_never_takes_the_survey_of_this_regions_own_meeting() -> None:
    """Meeting ids are each host's own (and this region's show in its shared schedules):
    Helsinki telling of a meeting under the id of one held at Tallinn's own event opens a
    survey of its own, so Tallinn's survey of its meeting still opens when its outcome comes
    (before, Helsinki's copy took its id first: the real one then opened nothing). The same
    copy told again is the same survey."""
    berlin = SmeRef(region="berlin", sme_id="partner")
    local = fb.meeting_held(meeting("cooperation_possible", "berlin"), "tallinn", NOW)
    told = mt.MeetingHeld(meeting_id="m1", event_id="hel-b1", region="helsinki",
                          participants=[ACME, berlin])  # fmt: skip

    def opened(openings: list[fb.Opening]) -> str:
        found = fb.open_survey(openings[0], "tallinn", NOW, WINDOW)
        assert found is not None
        return found.survey_id

    copy = fb.meeting_held_elsewhere(told, "tallinn", NOW)
    assert opened(copy) != opened(local)
    assert opened(copy) == opened(fb.meeting_held_elsewhere(told, "tallinn", NOW))


def test_a_survey_told_of_an_occasion_ahead_of_now_closes_a_window_after_now() -> None:
    """Another region's envelope names the time of its meeting: one far ahead would otherwise
    keep the survey open (and its figures' month) for as long as it said."""
    held = mt.MeetingHeld(meeting_id="m9", event_id="hel-b1", region="helsinki",
                          participants=[ACME, SmeRef(region="berlin", sme_id="p")])  # fmt: skip
    ahead = NOW + timedelta(days=3650)
    [opening] = fb.meeting_held_elsewhere(held, "tallinn", ahead)
    found = fb.open_survey(opening, "tallinn", NOW, WINDOW)
    assert found is not None
    assert (found.occasion.happened_at, found.closes_at) == (NOW, NOW + WINDOW)


def test_a_stage_reached_opens_a_survey_but_being_identified_does_not() -> None:
    def changed(to: rg.Stage, region: str = "tallinn") -> rg.SmeStageChanged:
        change = rg.StageChange(from_stage=None, to_stage=to, actor="a", reason="r", at=NOW)
        return rg.SmeStageChanged(sme_id="acme", region=region, change=change, clusters=["ict"])

    assert fb.stage_reached(changed("identified"), "tallinn") == []
    assert fb.stage_reached(changed("trained", "berlin"), "tallinn") == []
    [opening] = fb.stage_reached(changed("trained"), "tallinn")
    assert (opening.sme, opening.occasion.ref, opening.occasion.clusters) == (
        ACME,
        "trained",
        ["ict"],
    )


def test_the_same_occasion_is_the_same_survey_and_an_old_one_is_not_opened() -> None:
    first, again = survey(), survey()
    assert first.survey_id == again.survey_id
    assert survey(sme=OTHER).survey_id != first.survey_id
    assert first.closes_at == NOW + WINDOW
    old = fb.Opening(ACME, c.Occasion(kind="event", ref="e0", happened_at=NOW - WINDOW))
    assert fb.open_survey(old, "tallinn", NOW, WINDOW) is None


@pytest.mark.parametrize("role", ["map_admin", "map_staff", "organiser", "steering", "operator",
                                  "service", "partner"])  # fmt: skip
def test_only_an_sme_contact_answers(role: Role) -> None:
    with pytest.raises(Refused) as refused:
        fb.check_may_answer(survey(), Actor(id="x@y.example", role=role, region="tallinn"))
    assert refused.value.code == "forbidden"


@pytest.mark.parametrize(
    "actor",
    [contact(OTHER), contact(SmeRef(region="berlin", sme_id="acme"))],
    ids=["another SME", "an SME of the same id in another region"],
)
def test_a_contact_of_another_sme_may_not_answer(actor: Actor) -> None:
    with pytest.raises(Refused) as refused:
        fb.check_may_answer(survey(), actor)
    assert refused.value.code == "forbidden"
    assert refused.value.details["fields"][0]["field"] == "data.survey_id"


def test_an_answer_is_its_persons_once_and_refused_once_the_window_closed() -> None:
    s = survey()
    kati, jaan = contact(), contact(email="Jaan@acme.example")
    answer = fb.answer(s, given_answer(), fb.check_may_answer(s, kati), NOW + timedelta(days=1))
    other = fb.answer(s, given_answer(), fb.check_may_answer(s, jaan), NOW + timedelta(days=1))
    assert answer.answer_id != other.answer_id  # one answer per person
    assert fb.person_of(jaan) == rg.email_digest("jaan@acme.example")
    assert answer.answer_id == fb.answer_id(s.survey_id, rg.email_digest("kati@acme.example"))
    with pytest.raises(Refused) as late:
        fb.answer(s, given_answer(), fb.person_of(kati), NOW + WINDOW)
    assert late.value.code == "conflict"
    assert late.value.details["reason"] == "closed"


def test_a_market_named_twice_counts_once() -> None:
    twice = given_answer(
        markets=[
            {"market": "DE", "obstacles": ["tax"], "text": "a"},
            {"market": "DE", "obstacles": ["tax", "other"], "text": "b"},
        ]
    )
    [de] = fb.answer(survey(), twice, "p", NOW).markets
    assert (de.obstacles, de.text) == (["tax", "other"], "a\nb")


def test_the_answer_refuses_obstacles_outside_the_list_and_ratings_outside_one_to_five() -> None:
    for bad in ({"rating": 0}, {"rating": 6},
                {"markets": [{"market": "DE", "obstacles": ["bribes"]}]},
                {"markets": [{"market": "XX", "obstacles": ["tax"]}]}):  # fmt: skip
        with pytest.raises(ValueError):
            given_answer(**bad)


def test_an_erased_answer_keeps_what_counts_and_loses_who_and_their_words() -> None:
    answer = fb.answer(survey(), given_answer(), "p", NOW)
    gone = fb.erased(answer)
    assert (gone.sme, gone.helped, gone.may_quote, gone.erased) == (None, "", False, True)
    assert [(m.market, m.obstacles, m.text) for m in gone.markets] == [
        ("DE", ["tax", "finance"], "")
    ]
    assert gone.rating == answer.rating
    assert fb.quotes([gone]) == []
    event = fb.answered_event(answer)  # what the stream keeps has no words either
    assert "VAT" not in event.model_dump_json() and "acme" not in event.model_dump_json()


answers_st = st.lists(
    st.tuples(
        st.integers(1, 5),
        st.sampled_from(c.OCCASION_KINDS),
        st.lists(st.tuples(st.sampled_from(["DE", "FI", "SE"]), st.sampled_from(c.OBSTACLES)),
                 max_size=4),
        st.booleans(),
        st.integers(0, 40),
    ),
    max_size=30,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(answers_st)
def test_the_summary_equals_a_count_made_independently(rows: list[tuple[Any, ...]]) -> None:
    start, end = date(2026, 5, 1), date(2026, 5, 20)
    answers = []
    for i, (rating, kind, obstacles, may_quote, day) in enumerate(rows):
        at = datetime(2026, 5, 1, tzinfo=UTC) + timedelta(days=day)
        s = survey(kind, at)
        markets: dict[str, list[str]] = {}
        for market, obstacle in obstacles:
            markets.setdefault(market, []).append(obstacle)
        said = [{"market": m, "obstacles": o, "text": f"in {m} {i}"} for m, o in markets.items()]
        answers.append(fb.answer(s, given_answer(rating=rating, markets=said, helped=f"h{i}",
                                                 may_quote=may_quote), f"p{i}", at))  # fmt: skip
    summary = fb.summarise("tallinn", start, end, answers, ["event", "event", "meeting"])
    inside = [a for a in answers if start <= a.answered_at.date() <= end]
    assert summary.answers == len(inside)
    assert summary.surveys == 3 and summary.by_occasion["event"].surveys == 2
    assert summary.ratings == {str(r): sum(a.rating == r for a in inside) for r in range(1, 6)}
    for kind in c.OCCASION_KINDS:  # by occasion too: the monthly figures add them up
        of_kind = [a.rating for a in inside if a.occasion.kind == kind]
        given = summary.by_occasion[kind]
        assert given.ratings == {str(r): of_kind.count(r) for r in range(1, 6)}
        assert given.answers == len(of_kind)
    expected = Counter((m.market, o) for a in inside for m in a.markets for o in set(m.obstacles))
    assert {(o.market, o.obstacle): o.count for o in summary.obstacles} == dict(expected)
    counts = [o.count for o in summary.obstacles]
    assert counts == sorted(counts, reverse=True)
    quoted = {q.text for q in summary.quotes}
    assert quoted == {t for a in inside if a.may_quote
                      for t in [a.helped, *(m.text for m in a.markets)]}  # fmt: skip
    if inside:
        mean = sum(a.rating for a in inside) / len(inside)
        assert summary.rating_mean == pytest.approx(mean, abs=0.01)
    assert "p0" not in summary.model_dump_json()  # no person, no SME
    assert "acme" not in summary.model_dump_json()
