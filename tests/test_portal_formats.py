"""Dates and numbers on the pages, as the pages' language writes them, and the page's `lang`
naming that language (issue 31 item 6): English as written in Europe; a language asked for
without a catalogue is English throughout, not English words with Finnish dates."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from pydantic_settings import BaseSettings

from contracts import events as ev
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from services.events.tests.test_events_bus import entry
from services.portal.settings import PortalSettings
from tests.test_portal import portal_url

DAY = date(2027, 3, 9)


@pytest.fixture(params=["en", "fi"])
def service_configs(request: pytest.FixtureRequest) -> dict[str, BaseSettings]:
    return {"portal": PortalSettings.model_validate({"MAPNET_PORTAL_LANGUAGE": request.param})}


async def test_the_calendar_writes_dates_in_the_pages_language(
    region_app: Assembly, client: BusClient, region: str
) -> None:
    fair = entry("fair", title="Photonics Fair", starts_at=f"{DAY}T16:05:00",
                 ends_at=f"{DAY}T18:00:00")  # fmt: skip
    await client.call(ev.PUBLISH_EVENT, fair, region)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        page = (await http.get("/calendar")).text
    assert '<html lang="en">' in page  # no Finnish catalogue yet: English throughout
    assert "9 Mar 2027, 16:05" in page, page  # day first, a 24-hour clock
    assert "Mar 9, 2027" not in page and "4:05" not in page
