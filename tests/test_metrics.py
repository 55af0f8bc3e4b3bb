"""/metrics after some traffic, on real servers: a process of Tallinn running registry and notify
in a network of two regions (Helsinki shares with it) serves each series the README lists with
its labels: requests by operation and code, the consumers' counts and dead letters, the outbox's
backlog and the age of its oldest unsent event, the copy of Helsinki's events, notify's queue
and failed sends, FastStream's per handler. The Grafana dashboard in deploy/ draws those series
and only those."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import notify as c
from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.dev.localnet import LocalNetwork
from mapnet.ops.servers import free_port, service_login_url
from mapnet.runner import Assembly
from mapnet.runtime import logs, mongo
from services.notify.settings import NotifySettings
from services.registry.adapters.stories import COLLECTION as STORIES
from services.registry.tests.test_registry_bus import new_sme
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(180)

T, H = "tallinn", "helsinki"
DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "mapnet.json"
# A record whose event never goes out (no stream takes its subject), written ten minutes ago
# by an instance that crashed: the relay's start-up scan finds it.
STUCK_FOR_S = 600.0

# Each series the scrape must carry, with the labels each of its samples has.
SERIES: dict[str, set[str]] = {
    "mapnet_request_seconds": {"region", "service", "operation", "code"},
    "mapnet_service_ready": {"region", "service"},
    "mapnet_consumer_pending": {"region", "consumer"},
    "mapnet_consumer_ack_pending": {"region", "consumer"},
    "mapnet_consumer_redelivered": {"region", "consumer"},
    "mapnet_dead_letters": {"region", "consumer"},
    "mapnet_outbox_published": {"region", "service"},
    "mapnet_outbox_waiting": {"region", "service"},
    "mapnet_outbox_oldest_seconds": {"region", "service"},
    "mapnet_federation_lag_messages": {"region", "origin"},
    "mapnet_federation_source_active_seconds": {"region", "origin"},
    "mapnet_notify_queue": {"region", "service", "state"},
    "mapnet_notify_failures": {"region", "service", "channel", "reason"},
    "mapnet_notify_given_up": {"region", "service", "channel"},
    "faststream_received_messages": {"app_name", "broker", "handler"},
    "faststream_received_processed_messages": {"app_name", "broker", "handler", "status"},
    "faststream_received_processed_messages_duration_seconds": {"app_name", "broker", "handler"},
    "faststream_received_messages_in_process": {"app_name", "broker", "handler"},
}


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    home = Path(tmp_path_factory.mktemp("metrics-net"))
    async with LocalNetwork(home, [T, H], ("registry",)) as network:
        await network.stop_services(T)  # Tallinn's services run in the measured processes
        yield network


@pytest.fixture(scope="module")
async def scraped(net: LocalNetwork) -> AsyncIterator[dict[str, Any]]:
    """The families of one scrape of Tallinn's registry+notify process after some traffic."""
    stories = mongo.database(mongo.client(net.regions[T].mongo_url), T, "registry")[STORIES]
    written = datetime.now(UTC) - timedelta(seconds=STUCK_FOR_S)
    await stories.insert_one({
        "_id": "stuck", "outbox_pending": 1,
        "outbox": {"evt-stuck": {
            "seq": 0, "subject": f"mapnet.{T}.nowhere.event.lost",
            "payload": json.dumps({"time": written.isoformat()}),
        }},
    })  # fmt: skip
    nowhere = scraped_settings()
    own = net.settings(T).model_copy(update={"metrics_port": 0})
    async with Assembly(own, ["registry", "notify"], [T], configs={"notify": nowhere}) as app:
        assert app.probes is not None and app.probes.url is not None
        tallinn, helsinki = await net.client(T), await net.client(H)
        await tallinn.call(rg.REGISTER_SME, new_sme(), T)
        await helsinki.call(rg.REGISTER_SME, new_sme(), H)
        with pytest.raises(Refused):
            await tallinn.call(rg.GET_SME, rg.GetSme(sme_id="nobody"), T)
        invite = c.SendAccountMail(
            kind="invitation", email="kadri@example.ee", name="Kadri",
            link="https://map.example/welcome/abc", region=T,
            expires_at=datetime.now(UTC) + timedelta(days=7),
        )  # fmt: skip
        portal = Actor(id=f"portal/{T}", role="service", region=T)
        await tallinn.call(c.SEND_ACCOUNT_MAIL, invite, T, actor=portal)

        async with httpx.AsyncClient(base_url=app.probes.url) as http:

            async def scrape() -> dict[str, Any]:
                text = (await http.get("/metrics")).text
                return {f.name: f for f in text_string_to_metric_families(text)}

            def complete(families: dict[str, Any]) -> bool:
                failed = [s.value for s in families["mapnet_notify_failures"].samples
                          if s.labels["channel"] == "email"]  # fmt: skip
                active = families.get("mapnet_federation_source_active_seconds")
                # The relay sent the new SME's event (it waits a moment after a failure).
                sent = families["mapnet_outbox_published"].samples
                return (
                    sum(failed) >= 1
                    and bool(active and active.samples)
                    and any(s.value == 1 and s.labels["service"] == "registry" for s in sent)
                )

            yield await eventually(scrape, until=complete, timeout_s=60)


def scraped_settings() -> NotifySettings:
    """Notify's, with a mail server that is not there."""
    return NotifySettings.model_validate(
        {"SMTP_URL": f"smtp://127.0.0.1:{free_port()}", "MAPNET_RETRY_BASE_S": 0.2}
    )


def samples(families: dict[str, Any], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in families[name].samples
        if s.name in (name, f"{name}_total", f"{name}_count")
    }


async def test_metrics_carry_the_named_series_with_their_labels(scraped: dict[str, Any]) -> None:
    for name, labels in SERIES.items():
        assert name in scraped and scraped[name].samples, name
        for sample in scraped[name].samples:
            assert labels <= set(sample.labels), (name, sample)
    asked = {(dict(k)["operation"], dict(k)["code"]): v
             for k, v in samples(scraped, "mapnet_request_seconds").items()}  # fmt: skip
    assert asked[("register_sme", "ok")] == 1 and asked[("get_sme", "not_found")] == 1, asked
    # The stuck event: waiting, as old as its envelope says (found by the start-up scan).
    oldest = {
        dict(k)["service"]: v for k, v in samples(scraped, "mapnet_outbox_oldest_seconds").items()
    }
    assert STUCK_FOR_S <= oldest["registry"] < STUCK_FOR_S + 120, oldest
    waiting = {dict(k)["service"]: v for k, v in samples(scraped, "mapnet_outbox_waiting").items()}
    assert waiting["registry"] == 1, waiting
    # Tallinn's copy of what Helsinki shares, by its origin.
    lag = samples(scraped, "mapnet_federation_lag_messages")
    assert {(dict(k)["region"], dict(k)["origin"]) for k in lag} == {(T, H)}
    active = samples(scraped, "mapnet_federation_source_active_seconds")
    assert all(0 <= v < 60 for v in active.values()), active
    # Notify: the mail that could not be sent, by why, and its queue.
    failed = {(dict(k)["channel"], dict(k)["reason"]): v
              for k, v in samples(scraped, "mapnet_notify_failures").items()}  # fmt: skip
    assert failed[("email", "error")] >= 1 and failed[("webhook", "error")] == 0, failed
    queue = {dict(k)["state"] for k in samples(scraped, "mapnet_notify_queue")}
    assert queue == {"sending", "retrying"}
    handlers = {s.labels["handler"] for s in scraped["faststream_received_messages"].samples}
    assert f"mapnet.{T}.notify.cmd.send_account_mail" in handlers, handlers


async def test_a_service_logged_in_as_itself_reads_its_own_consumers_and_the_copy(
    net: LocalNetwork, scraped: dict[str, Any]
) -> None:
    """As `mapnet serve notify` runs it (its own NATS user, which may read only its own
    consumers, its dead letters and its region's network stream): its consumers' counts and
    the copy of Helsinki's events are on its /metrics, and the server saw no request it may
    not send."""
    r = net.regions[T]
    own = net.settings(T).model_copy(update={
        "nats_url": service_login_url(T, r.nats_port, r.home, "notify"), "metrics_port": 0,
    })  # fmt: skip
    async with Assembly(own, ["notify"], [T], configs={"notify": scraped_settings()}) as app:
        assert app.own_user_of == "notify" and app.probes is not None
        async with httpx.AsyncClient(base_url=str(app.probes.url)) as http:

            async def scrape() -> dict[str, Any]:
                text = (await http.get("/metrics")).text
                return {f.name: f for f in text_string_to_metric_families(text)}

            families = await eventually(
                scrape, until=lambda f: bool(f["mapnet_federation_lag_messages"].samples)
            )
    consumers = {s.labels["consumer"] for s in families["mapnet_consumer_pending"].samples}
    assert "notify__events_registration_confirmed" in consumers, consumers
    assert "notify__net_registry_sme_erased" in consumers, consumers
    assert all(c.startswith("notify__") for c in consumers), consumers
    dead = {s.labels["consumer"] for s in families["mapnet_dead_letters"].samples}
    assert dead == consumers
    assert {s.labels["origin"] for s in families["mapnet_federation_lag_messages"].samples} == {H}
    log = r.nats.log_path.read_text(errors="replace")
    assert not [line for line in log.splitlines() if "Violation" in line and "notify" in line]


# --- the dashboard -------------------------------------------------------------------------------

# A series' name in PromQL (MAPnet's and FastStream's all start so), with its label matchers.
_SELECTOR = re.compile(r"\b((?:mapnet|faststream)_[a-z0-9_]+)(?:\{([^}]*)\})?")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_the_dashboard_is_a_grafana_model_on_a_prometheus_input_with_a_region_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["region"]["type"] == "query" and variables["region"]["multi"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"id", "type", "title", "gridPos"} <= set(panel), panel
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["refId"] and target["expr"], panel["title"]


async def test_every_panel_draws_scraped_series_and_every_series_has_a_panel(
    scraped: dict[str, Any],
) -> None:
    """The panels' PromQL names only series a real scrape carries (a histogram by its
    ``_bucket``/``_count``, a counter by its ``_total``), matching only labels those carry;
    and every series this test scrapes for is drawn on some panel."""
    exported = {
        sample.name: set(sample.labels) | {"le"}
        for family in scraped.values()
        for sample in family.samples
    }
    drawn = set()
    for title, expr in panel_queries(json.loads(DASHBOARD.read_text())):
        for name, matchers in _SELECTOR.findall(expr):
            assert name in exported, (title, name)
            matched = set(_MATCHER.findall(matchers))
            assert matched <= exported[name], (title, name, matched - exported[name])
            drawn.add(name)
    for series in SERIES:
        assert drawn & {series, f"{series}_total", f"{series}_count", f"{series}_bucket"}, series


def test_series_every_process_reads_alike_are_counted_once() -> None:
    """Each process of a region reads the same consumers' and copies' counts from JetStream: a
    panel adds them up only after taking one per consumer (or origin), else four notify pods
    show four times the dead letters."""
    exprs = [
        target["expr"]
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel.get("targets", [])
    ]
    alike = ("mapnet_consumer_", "mapnet_dead_letters", "mapnet_federation_")
    for expr in exprs:
        if any(series in expr for series in alike):
            assert "max by (region, consumer)" in expr or "max by (region, origin)" in expr, expr
