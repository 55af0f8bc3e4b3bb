"""matching service on the bus: the routes of every operation it offers."""

from __future__ import annotations

from contracts import matching as c
from mapnet.service import Runtime


def build(rt: Runtime) -> None:
    rt.not_yet(
        c.CANCEL_MEETING,
        c.FIND_PARTNERS,
        c.GET_SCHEDULE,
        c.RECORD_MEETING_OUTCOME,
        c.REQUEST_MEETING,
        c.RESPOND_MEETING,
        c.SCHEDULE_EVENT,
    )
    rt.publishes(
        c.MEETING_ACCEPTED,
        c.MEETING_CANCELLED,
        c.MEETING_DECLINED,
        c.MEETING_OUTCOME_RECORDED,
        c.MEETING_REQUESTED,
        c.SCHEDULE_PUBLISHED,
    )
