"""The reports on the bus, on real NATS and the MongoDB-compatible server: who may ask for
which report. SMEs, organisers and partners are refused by the runtime; staff get their own
region's report and the network's, never another region's."""

from __future__ import annotations

from datetime import date

import pytest

from contracts import reports as c
from contracts.access import Actor, Role
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient

pytestmark = pytest.mark.usefixtures("region_app")

YEAR = {"period_from": date(2026, 1, 1), "period_to": date(2026, 12, 31)}


def someone(region: str, role: Role) -> Actor:
    extra: dict[str, object] = {}
    if role == "sme":
        extra["sme_id"] = "s1"
    if role == "organiser":
        extra["event_ids"] = ["e1"]
    return Actor.model_validate(
        {"id": f"{role}@example.org", "role": role, "region": region} | extra
    )


@pytest.mark.parametrize("role", ["sme", "organiser", "partner"])
@pytest.mark.parametrize("network", [False, True])
async def test_smes_organisers_and_partners_are_refused(
    client: BusClient, region: str, role: Role, network: bool
) -> None:
    for op, query in (
        (c.GET_MONITORING_REPORT, c.GetMonitoringReport(network=network, **YEAR)),
        (c.GET_CLUSTER_REPORT, c.GetClusterReport(cluster="photonics", network=network, **YEAR)),
    ):
        with pytest.raises(Refused) as refused:
            await client.call(op, query, region, actor=someone(region, role))
        assert refused.value.code == "forbidden"


@pytest.mark.parametrize("role", ["map_staff", "map_admin"])
async def test_staff_report_on_their_own_region_and_the_network_not_another_region(
    client: BusClient, region: str, role: Role
) -> None:
    """Issue 30 item 3: any region reports on the whole network from its own copies (counts
    only; the feedback in it is the asking region's own). Another region's report alone is the
    steering group's, and so is the network's asked of another region's service (whose
    feedback and quotes it would hold)."""
    staff = someone(region, role)
    network = await client.call(
        c.GET_MONITORING_REPORT, c.GetMonitoringReport(network=True, **YEAR), region, actor=staff
    )
    assert network.region is None and network.format == "html" and network.text
    cluster = c.GetClusterReport(cluster="photonics", network=True, **YEAR)
    assert (await client.call(c.GET_CLUSTER_REPORT, cluster, region, actor=staff)).region is None
    elsewhere = someone("berlin" if region != "berlin" else "riga", role)
    for query, actor in (
        (c.GetMonitoringReport(region=elsewhere.region, **YEAR), staff),
        (c.GetMonitoringReport(network=True, **YEAR), elsewhere),
    ):
        with pytest.raises(Refused) as refused:
            await client.call(c.GET_MONITORING_REPORT, query, region, actor=actor)
        assert refused.value.code == "forbidden"
        assert "own region" in refused.value.message


async def test_a_period_that_ends_before_it_starts_is_named(client: BusClient, region: str) -> None:
    query = c.GetMonitoringReport(period_from=date(2026, 2, 1), period_to=date(2026, 1, 1))
    with pytest.raises(Refused) as refused:
        await client.call(c.GET_MONITORING_REPORT, query, region, actor=someone(region, "steering"))
    assert refused.value.code == "validation_failed"
    assert refused.value.details["fields"][0]["field"] == "data.period_to"
