"""events service on the bus: the routes of every operation it offers."""

from __future__ import annotations

from contracts import events as c
from mapnet.service import Runtime


def build(rt: Runtime) -> None:
    rt.not_yet(
        c.CANCEL_EVENT,
        c.CANCEL_REGISTRATION,
        c.GET_EVENT,
        c.GET_ICAL,
        c.LIST_CALENDAR,
        c.LIST_REGISTRATIONS,
        c.PUBLISH_EVENT,
        c.RECORD_ATTENDANCE,
        c.REGISTER_PARTICIPANT,
    )
    rt.publishes(
        c.ATTENDANCE_RECORDED,
        c.EVENT_CANCELLED,
        c.EVENT_PUBLISHED,
        c.REGISTRATION_CANCELLED,
        c.REGISTRATION_CONFIRMED,
        c.REGISTRATION_WAITLISTED,
        c.TRAINING_COMPLETED,
    )
