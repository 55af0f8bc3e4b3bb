"""The SMEs' feedback: when a fact makes a survey occasion, who may answer a survey, when, and
once; what an erased SME's answers keep; and the figures of a period's answers. No I/O.

A survey is opened to the contacts of one SME of this region about one occasion; each contact
(the person, known by the SHA-256 of their address, as erasures name them) answers it once,
until its window closes. An answer keeps its words with the SME and person who gave them until
either is erased; then it keeps only what counts (rating, occasion, markets and obstacles)."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from contracts import matching as mt
from contracts import registry as rg
from contracts import reports as c
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused, conflict, forbidden_field

_NAMESPACE = uuid.UUID("5b0e6c2a-3f1d-4e8b-9a7c-2d4f6e8a0b1c")

# A meeting that did not take place asks nothing; every other outcome says it was held.
NOT_HELD: frozenset[str] = frozenset({"did_not_take_place"})
# Being identified is where the journey starts, not a stage of coaching reached.
NOT_A_STAGE_REACHED: frozenset[str] = frozenset({"identified"})


@dataclass(frozen=True)
class Opening:
    """An occasion for one SME: the survey to open if its window is still open."""

    sme: SmeRef
    occasion: c.Occasion
    # The region whose brokerage event a meeting was, when it is another region's: its meeting
    # ids are its own, so they name its surveys only together with it (see survey_id).
    host: str | None = None


def person_of(actor: Actor) -> str:
    """How an answer names its person: as an erasure of the contact names them."""
    return rg.email_digest(actor.id)


def survey_id(region: str, sme: SmeRef, occasion: c.Occasion, host: str | None = None) -> str:
    """The same occasion for the same SME is the same survey, however often its fact is told.
    A meeting at another region's event (``host``) is named with that region: another region
    telling of a meeting under this region's meeting id (which its shared schedules show) then
    opens a survey of its own, never the one this region opens for its own meeting."""
    ref = occasion.ref if host is None or host == region else f"{host}/{occasion.ref}"
    name = f"{region}|{sme.key}|{occasion.kind}|{ref}"
    return str(uuid.uuid5(_NAMESPACE, name))


# --- occasions -------------------------------------------------------------------------------


def meeting_held(meeting: mt.Meeting, region: str, at: datetime) -> list[Opening]:
    """Both sides of a meeting that took place, where they are SMEs of this region."""
    if meeting.outcome is None or meeting.outcome in NOT_HELD:
        return []
    sides = [meeting.requester, meeting.receiver]
    return _sides_met(meeting.meeting_id, meeting.event_id, sides, region, at)


def meeting_held_elsewhere(held: mt.MeetingHeld, region: str, at: datetime) -> list[Opening]:
    """The sides of a meeting held at another region's brokerage event (its shared
    meeting_held) that are SMEs of this region: their home region surveys them. Another
    region's SME gets nothing here (its own region surveys it, from its own copy)."""
    sides = held.participants
    return _sides_met(held.meeting_id, held.event_id, sides, region, at, host=held.region)


def _sides_met(
    meeting_id: str, event_id: str, sides: list[SmeRef], region: str, at: datetime,
    host: str | None = None,
) -> list[Opening]:  # fmt: skip
    occasion = c.Occasion(kind="meeting", ref=meeting_id, happened_at=at, event_id=event_id)
    own = {s.key: s for s in sides if s.region == region}
    return [Opening(sme, occasion, host) for sme in own.values()]


def attended(registration: Any, region: str, at: datetime) -> list[Opening]:
    """An SME of this region whose person attended (a session of) an event or course."""
    sme: SmeRef | None = registration.sme
    if sme is None or sme.region != region or not registration.attended_sessions:
        return []
    return [Opening(sme, c.Occasion(kind="event", ref=registration.event_id, happened_at=at))]


def stage_reached(changed: rg.SmeStageChanged, region: str) -> list[Opening]:
    """An SME of this region that reached a stage of its coaching."""
    to_stage = changed.change.to_stage
    if changed.region != region or to_stage in NOT_A_STAGE_REACHED:
        return []
    occasion = c.Occasion(
        kind="coaching_stage",
        ref=to_stage,
        happened_at=changed.change.at,
        clusters=changed.clusters[:20],
    )
    return [Opening(SmeRef(region=region, sme_id=changed.sme_id), occasion)]


def open_survey(opening: Opening, region: str, now: datetime, window: timedelta) -> c.Survey | None:
    """The survey of an occasion, open for ``window`` from when it happened; None if that has
    passed already (a fact told late, or read again from the start of its stream, mails no one
    about a survey nobody could answer)."""
    occasion = opening.occasion
    if occasion.happened_at > now:
        # Nothing has happened later than now: a time ahead (another region's clock, or its
        # word) would keep the survey open for as long as it liked.
        occasion = occasion.model_copy(update={"happened_at": now})
    closes_at = occasion.happened_at + window
    if closes_at <= now:
        return None
    return c.Survey(
        survey_id=survey_id(region, opening.sme, occasion, opening.host),
        region=region,
        sme=opening.sme,
        occasion=occasion,
        opened_at=now,
        closes_at=closes_at,
    )


# --- answering -------------------------------------------------------------------------------


def check_may_answer(survey: c.Survey, actor: Actor | None) -> str:
    """The person answering, if the survey is open to them: a contact of the survey's SME, of
    its region, as the stamped actor says; never a contact of another SME, staff or anyone
    else."""
    if actor is None or actor.role != "sme":
        role = actor.role if actor else "nobody"
        raise Refused("forbidden", f"only an SME's contact answers a survey, not {role}")
    if actor.region != survey.region or actor.sme_id != survey.sme.sme_id:
        raise forbidden_field(
            "the survey is open to the contacts of another SME",
            "data.survey_id",
            "not open to your SME",
        )
    return person_of(actor)


def check_open(survey: c.Survey, now: datetime) -> None:
    if now >= survey.closes_at:
        raise conflict(
            f"survey {survey.survey_id} closed at {survey.closes_at.isoformat()}",
            reason="closed",
            survey_id=survey.survey_id,
            closes_at=survey.closes_at.isoformat(),
        )


def already_answered(survey_id_: str, answer_id: str, answered_at: datetime) -> Refused:
    return conflict(
        f"survey {survey_id_} was answered already, at {answered_at.isoformat()}",
        reason="answered",
        survey_id=survey_id_,
        answer_id=answer_id,
        answered_at=answered_at.isoformat(),
    )


def answer_id(survey_id_: str, person: str) -> str:
    """One answer per person and survey: its id says whose and to what."""
    return str(uuid.uuid5(_NAMESPACE, f"{survey_id_}|{person}"))


def answer(survey: c.Survey, given: c.AnswerSurvey, person: str, now: datetime) -> c.SurveyAnswer:
    """The answer of a person the survey is open to (check_may_answer), while it is open."""
    check_open(survey, now)
    markets = _merged(given.markets)
    return c.SurveyAnswer(
        answer_id=answer_id(survey.survey_id, person),
        survey_id=survey.survey_id,
        region=survey.region,
        sme=survey.sme,
        occasion=survey.occasion,
        rating=given.rating,
        helped=given.helped,
        markets=markets,
        may_quote=given.may_quote,
        answered_at=now,
    )


def _merged(markets: Iterable[c.MarketObstacles]) -> list[c.MarketObstacles]:
    """One entry per market (a market named twice counts once), each obstacle once."""
    by_market: dict[str, c.MarketObstacles] = {}
    for m in markets:
        if m.market in by_market:
            before = by_market[m.market]
            text = "\n".join(t for t in (before.text, m.text) if t)
            m = c.MarketObstacles(
                market=m.market, obstacles=[*before.obstacles, *m.obstacles], text=text
            )
        obstacles = list(dict.fromkeys(m.obstacles))
        by_market[m.market] = m.model_copy(update={"obstacles": obstacles})
    return list(by_market.values())


def answered_event(a: c.SurveyAnswer) -> c.SurveyAnswered:
    """What the streams may keep of an answer: nothing an erasure would have to reach."""
    return c.SurveyAnswered(
        survey_id=a.survey_id,
        region=a.region,
        occasion_kind=a.occasion.kind,
        rating=a.rating,
        obstacles=[c.MarketObstacles(market=m.market, obstacles=m.obstacles) for m in a.markets],
        answered_at=a.answered_at,
    )


def erased(a: c.SurveyAnswer) -> c.SurveyAnswer:
    """An answer whose SME or person was erased: who gave it and their words go; the rating,
    occasion, markets and obstacles chosen stay counted."""
    return a.model_copy(
        update={
            "sme": None,
            "helped": "",
            "markets": [
                c.MarketObstacles(market=m.market, obstacles=m.obstacles) for m in a.markets
            ],
            "may_quote": False,
            "erased": True,
        }
    )


# --- who reads what --------------------------------------------------------------------------


def check_region_reader(actor: Actor | None, region: str) -> None:
    """Staff read their own region's answers and figures; steering, the operator and services
    read figures (no names) of the region they ask."""
    if actor is not None and actor.role in ("map_admin", "map_staff") and actor.region != region:
        raise forbidden_field(
            f"staff of {actor.region} read the feedback of their own region, not {region}'s",
            "actor.region",
            "another region",
        )


# --- figures ---------------------------------------------------------------------------------


def in_period(at: datetime, start: date, end: date) -> bool:
    return start <= at.date() <= end


def summarise(
    region: str,
    start: date,
    end: date,
    answers: Iterable[c.SurveyAnswer],
    surveys_opened: Iterable[c.OccasionKind],
) -> c.FeedbackSummary:
    """The figures of the answers given in a period (and of the surveys opened in it): counts,
    ratings, obstacles per market, most frequent first, and the words of answers that allowed
    quoting them, without who said them."""
    taken = [a for a in answers if in_period(a.answered_at, start, end)]
    opened = Counter(surveys_opened)
    ratings = Counter(str(a.rating) for a in taken)
    by_kind: dict[str, list[int]] = defaultdict(list)
    for a in taken:
        by_kind[a.occasion.kind].append(a.rating)
    obstacles: Counter[tuple[str, str]] = Counter(
        (m.market, o) for a in taken for m in a.markets for o in m.obstacles
    )
    return c.FeedbackSummary(
        region=region,
        from_date=start,
        to_date=end,
        surveys=sum(opened.values()),
        answers=len(taken),
        rating_mean=_mean([a.rating for a in taken]),
        ratings={str(r): ratings.get(str(r), 0) for r in range(1, 6)},
        by_occasion={
            kind: c.OccasionFigures(
                surveys=opened.get(kind, 0),
                answers=len(by_kind.get(kind, [])),
                rating_mean=_mean(by_kind.get(kind, [])),
                ratings={str(r): by_kind.get(kind, []).count(r) for r in range(1, 6)},
            )
            for kind in c.OCCASION_KINDS
        },
        obstacles=[
            c.ObstacleCount(market=market, obstacle=obstacle, count=n)
            for (market, obstacle), n in sorted(
                obstacles.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1])
            )
        ],
        quotes=quotes(taken),
    )


def quotes(answers: Iterable[c.SurveyAnswer]) -> list[c.Quote]:
    """The words of the answers that allowed quoting them (never of an erased one), newest
    first: what helped, and what was met in each market."""
    found: list[c.Quote] = []
    for a in sorted(answers, key=lambda a: a.answered_at, reverse=True):
        if not a.may_quote or a.erased:
            continue
        said: list[tuple[str | None, str]] = [(None, a.helped)]
        said += [(m.market, m.text) for m in a.markets]
        found += [
            c.Quote(
                text=text,
                market=market,
                occasion_kind=a.occasion.kind,
                rating=a.rating,
                answered_on=a.answered_at.date(),
            )
            for market, text in said
            if text
        ]
    return found


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
