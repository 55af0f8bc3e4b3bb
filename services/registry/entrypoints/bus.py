"""registry service on the bus: the routes of every operation it offers."""

from __future__ import annotations

from contracts import registry as c
from mapnet.service import Runtime


def build(rt: Runtime) -> None:
    rt.not_yet(
        c.CHANGE_STAGE,
        c.ERASE_SME,
        c.GET_KPIS,
        c.GET_SME,
        c.PUBLISH_PROFILE,
        c.PUBLISH_SUCCESS_STORY,
        c.REGISTER_SME,
        c.SEARCH_SMES,
        c.UPDATE_SME,
        c.WITHDRAW_PROFILE,
    )
    rt.publishes(
        c.PROFILE_PUBLISHED,
        c.PROFILE_WITHDRAWN,
        c.SME_ERASED,
        c.SME_REGISTERED,
        c.SME_STAGE_CHANGED,
        c.SME_UPDATED,
        c.SUCCESS_STORY_PUBLISHED,
    )
