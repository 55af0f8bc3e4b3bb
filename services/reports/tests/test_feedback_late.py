"""A late answer, for real: a region whose surveys take answers for four seconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pydantic_settings import BaseSettings

from contracts import reports as c
from mapnet.runtime.bus import BusClient
from services.reports.settings import ReportsSettings

from .test_feedback_bus import answer, contact_of, open_surveys, reach_stage, refusal, register

pytestmark = pytest.mark.usefixtures("region_app")


@pytest.fixture
def service_configs() -> dict[str, BaseSettings]:
    return {"reports": ReportsSettings.model_validate({"MAPNET_SURVEY_ANSWER_DAYS": 4 / 86400})}


async def test_a_late_answer_is_refused_and_the_survey_is_no_longer_listed(
    client: BusClient, region: str
) -> None:
    acme = await register(client, region, "Late Lasers", "kati@late.example")
    kati = contact_of(acme, "kati@late.example")
    await reach_stage(client, acme, "selected")
    [survey] = await open_surveys(client, kati)
    await asyncio.sleep(max(0.0, (survey.closes_at - datetime.now(UTC)).total_seconds()) + 0.1)
    refused = await refusal(client, c.ANSWER_SURVEY, answer(survey), region, kati)
    assert refused.code == "conflict" and refused.details["reason"] == "closed"
    assert refused.details["closes_at"] == survey.closes_at.isoformat()
    gone = await client.call(c.LIST_OPEN_SURVEYS, c.ListOpenSurveys(), region, actor=kati)
    assert gone.items == []
