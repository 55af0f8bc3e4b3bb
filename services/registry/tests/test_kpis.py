"""Success stories and the seed's KPIs over real servers."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import nats
import pytest

from contracts import registry as c
from contracts.common import SmeRef
from contracts.errors import Refused
from contracts.subjects import stream_name
from mapnet.runtime.bus import BusClient
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("region_app")


def story(region: str, sme_id: str, consent: bool, title: str) -> c.PublishSuccessStory:
    return c.PublishSuccessStory(
        title=title,
        text="Met at the Helsinki brokerage event; signed a licence.",
        smes=[SmeRef(region=region, sme_id=sme_id), SmeRef(region="berlin", sme_id="b-1")],
        agreement_type="licence",
        happened_on=date.today(),
        clusters=["photonics"],
        publication_consent=consent,
    )


async def test_kpis_count_stages_and_stories_by_cluster(
    servers: Servers, client: BusClient, region: str
) -> None:
    photon = await client.call(c.REGISTER_SME, new_sme(), region)
    code = await client.call(
        c.REGISTER_SME,
        new_sme(reg="14000015", name="Baltic Code OÜ", nace_codes=["62.01"], clusters=["ict"]),
        region,
    )
    for stage in ("selected", "trained"):
        await client.call(
            c.CHANGE_STAGE,
            c.ChangeStage(sme_id=photon.sme_id, to_stage=stage, actor="anna", reason="r"),
            region,
        )
    await client.call(
        c.CHANGE_STAGE,
        c.ChangeStage(sme_id=code.sme_id, to_stage="selected", actor="anna", reason="r"),
        region,
    )
    public = await client.call(
        c.PUBLISH_SUCCESS_STORY, story(region, photon.sme_id, True, "Lasers to Berlin"), region
    )
    await client.call(
        c.PUBLISH_SUCCESS_STORY, story(region, photon.sme_id, False, "Quiet deal"), region
    )

    today = date.today()
    kpis = await client.call(
        c.GET_KPIS,
        c.GetKpis(period_from=today - timedelta(days=1), period_to=today + timedelta(days=1)),
        region,
    )
    assert (kpis.total.identified, kpis.total.selected, kpis.total.trained) == (2, 2, 1)
    assert kpis.total.success_stories == 2
    assert kpis.by_cluster["photonics"].trained == 1
    assert kpis.by_cluster["photonics"].success_stories == 2
    assert kpis.by_cluster["ict"].selected == 1 and kpis.by_cluster["ict"].trained == 0
    last_year = await client.call(
        c.GET_KPIS, c.GetKpis(period_from=date(2020, 1, 1), period_to=date(2020, 12, 31)), region
    )
    assert last_year.total == c.KpiCounts()
    # Asked again after more changes (read incrementally): the new ones count, the erased not.
    await client.call(
        c.CHANGE_STAGE,
        c.ChangeStage(sme_id=code.sme_id, to_stage="trained", actor="anna", reason="r"),
        region,
    )
    await client.call(c.ERASE_SME, c.EraseSme(sme_id=photon.sme_id, reason="asked"), region)
    again = await client.call(
        c.GET_KPIS,
        c.GetKpis(period_from=today - timedelta(days=1), period_to=today + timedelta(days=1)),
        region,
    )
    assert (again.total.identified, again.total.selected, again.total.trained) == (1, 1, 1)
    assert again.by_cluster["ict"].trained == 1

    # Only the story with publication consent leaves the registry as an event.
    nc = await nats.connect(servers.nats_url)
    js = nc.jetstream()

    async def published() -> Any:
        info = await js.stream_info(
            stream_name(region, "registry"),
            subjects_filter=c.SUCCESS_STORY_PUBLISHED.subject(region),
        )
        return info.state.subjects or {}

    subjects = await eventually(
        published, until=lambda s: c.SUCCESS_STORY_PUBLISHED.subject(region) in s
    )
    assert subjects[c.SUCCESS_STORY_PUBLISHED.subject(region)] == 1
    msg = await js.get_last_msg(
        stream_name(region, "registry"), c.SUCCESS_STORY_PUBLISHED.subject(region)
    )
    assert json.loads(msg.data or b"{}")["data"]["story_id"] == public.story_id
    await nc.close()


async def test_a_period_that_ends_before_it_starts_is_refused(
    client: BusClient, region: str
) -> None:
    with pytest.raises(Refused) as refused:
        await client.call(
            c.GET_KPIS, c.GetKpis(period_from=date(2026, 2, 1), period_to=date(2026, 1, 1)), region
        )
    assert refused.value.code == "validation_failed"
