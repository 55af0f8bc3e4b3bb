"""notify service on the bus: the routes of every operation it offers."""

from __future__ import annotations

from contracts import notify as c
from mapnet.service import Runtime


def build(rt: Runtime) -> None:
    rt.not_yet(c.LIST_DELIVERIES, c.SET_PREFERENCES, c.SUBSCRIBE_WEBHOOK, c.UNSUBSCRIBE_WEBHOOK)
    rt.publishes(c.NOTIFICATION_FAILED, c.NOTIFICATION_SENT)
