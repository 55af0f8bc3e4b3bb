"""A service process's probes on MAPNET_METRICS_PORT, on real servers: /healthz while it runs,
/readyz true once its services are ok, false while its database is stopped and true again
after, and /metrics in Prometheus's format with FastStream's per-handler series after some
traffic."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import registry as rg
from contracts.errors import Refused
from mapnet.ops.servers import free_port, mongo_server, start_and_wait
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.registry.tests.test_registry_bus import new_sme
from tests.helpers import eventually


async def test_probes_say_alive_ready_and_count_what_was_handled(
    settings: Settings, region: str, client: BusClient, tmp_path: Path
) -> None:
    mongo_port = free_port()
    database = mongo_server(region, mongo_port, tmp_path)  # its own, to stop it
    start_and_wait(database, mongo_port)
    own = settings.model_copy(
        update={"metrics_port": 0, "mongo_url": f"mongodb://127.0.0.1:{mongo_port}"}
    )
    try:
        async with Assembly(own, ["registry"], [region]) as app:
            assert app.probes is not None and app.probes.url is not None
            async with httpx.AsyncClient(base_url=app.probes.url) as http:
                assert (await http.get("/healthz")).json() == {"status": "alive"}
                ready = await http.get("/readyz")
                assert ready.status_code == 200, ready.text
                assert ready.json()["services"][f"{region}/registry"]["status"] == "ok"

                await client.call(rg.REGISTER_SME, new_sme(), region)
                families = {
                    f.name: f
                    for f in text_string_to_metric_families((await http.get("/metrics")).text)
                }
                handled = [s for s in families["faststream_received_messages"].samples
                           if s.labels.get("handler", "").endswith("register_sme")]  # fmt: skip
                assert handled and handled[0].value >= 1, families["faststream_received_messages"]
                # MAPnet's own: the request by its operation and outcome, a refusal by its code.
                asked = {(s.labels["operation"], s.labels["code"]): s.value
                         for s in families["mapnet_request_seconds"].samples
                         if s.name == "mapnet_request_seconds_count"}  # fmt: skip
                assert asked[("register_sme", "ok")] == 1, asked
                with pytest.raises(Refused):
                    await client.call(rg.GET_SME, rg.GetSme(sme_id="nobody"), region)
                scraped = (await http.get("/metrics")).text
                families = {f.name: f for f in text_string_to_metric_families(scraped)}
                asked = {(s.labels["operation"], s.labels["code"]): s.value
                         for s in families["mapnet_request_seconds"].samples
                         if s.name == "mapnet_request_seconds_count"}  # fmt: skip
                assert asked[("get_sme", "not_found")] == 1, asked
                published = families["mapnet_outbox_published"].samples
                assert [s.value for s in published if s.name.endswith("_total")] == [1.0]
                # The registry's consumers (of the events service's calendar), from JetStream.
                pending = families["mapnet_consumer_pending"].samples
                assert any(s.labels["consumer"].startswith("registry__") for s in pending)
                ready_series = families["mapnet_service_ready"].samples
                assert [(s.labels["service"], s.value) for s in ready_series] == [("registry", 1.0)]

                database.stop()
                gone = await eventually(
                    lambda: http.get("/readyz"), until=lambda r: r.status_code == 503,
                    timeout_s=30,
                )  # fmt: skip
                assert gone.json()["services"][f"{region}/registry"]["mongo"] is False
                assert (await http.get("/healthz")).status_code == 200  # alive all the same
                start_and_wait(database, mongo_port)
                await eventually(
                    lambda: http.get("/readyz"), until=lambda r: r.status_code == 200,
                    timeout_s=30,
                )  # fmt: skip
    finally:
        database.stop()
