"""Commands and queries over real NATS: health, typed errors for bad input, routes that exist."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts import CATALOGUE
from contracts.health import HealthCheck, health_query
from contracts.registry import REGISTER_SME, RegisterSme
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope

pytestmark = pytest.mark.usefixtures("region_app")


async def raw_request(client: BusClient, subject: str, body: bytes) -> dict[str, Any]:
    msg = await client.nc.request(subject, body, timeout=5)
    doc: dict[str, Any] = json.loads(msg.data)
    return doc


@pytest.mark.parametrize("service", ["registry", "events", "matching", "notify"])
async def test_health_answers_a_plain_client(client: BusClient, region: str, service: str) -> None:
    doc = await raw_request(client, f"mapnet.{region}.{service}.query.health", b"")
    assert doc["type"] == f"eu.mapnet.{service}.health.reply.v1"
    data = doc["data"]
    assert data["service"] == service and data["region"] == region
    assert data["status"] == "ok" and data["nats"]["ok"] and data["mongo"]["ok"]
    assert data["version"]


async def test_health_with_an_envelope(client: BusClient, region: str) -> None:
    status = await client.call(health_query("events"), HealthCheck(), region)
    assert status.service == "events"


def valid_register(region: str) -> dict[str, Any]:
    data = RegisterSme(legal_name="Nordic Nano AS", registration_number="14000009", country="EE")
    env = make_envelope(REGISTER_SME, data, region=region, source="test")
    doc: dict[str, Any] = json.loads(encode(env))
    return doc


async def test_malformed_json_gets_invalid_json(client: BusClient, region: str) -> None:
    doc = await raw_request(client, REGISTER_SME.subject(region), b'{"id": "1", ')
    assert doc["type"] == "eu.mapnet.error.v1"
    assert doc["data"]["error"]["code"] == "invalid_json"
    assert doc["region"] == region


async def test_unknown_type_gets_unknown_type(client: BusClient, region: str) -> None:
    body = valid_register(region)
    body["type"] = "eu.mapnet.registry.register_spaceship.v1"
    doc = await raw_request(client, REGISTER_SME.subject(region), json.dumps(body).encode())
    error = doc["data"]["error"]
    assert error["code"] == "unknown_type"
    assert [f["field"] for f in error["details"]["fields"]] == ["type"]
    assert doc["correlationid"] == body["correlationid"]


async def test_missing_and_wrong_fields_are_named(client: BusClient, region: str) -> None:
    body = valid_register(region)
    del body["data"]["legal_name"]
    body["data"]["founded_on"] = "not a date"
    doc = await raw_request(client, REGISTER_SME.subject(region), json.dumps(body).encode())
    error = doc["data"]["error"]
    assert error["code"] == "validation_failed"
    fields = {f["field"] for f in error["details"]["fields"]}
    assert fields == {"data.legal_name", "data.founded_on"}


@pytest.mark.parametrize("body", [b"", b"[]", b'"text"', b"null", b"{}"])
async def test_any_non_envelope_gets_a_typed_error(
    client: BusClient, region: str, body: bytes
) -> None:
    doc = await raw_request(client, REGISTER_SME.subject(region), body)
    assert doc["data"]["error"]["code"] in {"invalid_json", "validation_failed"}


async def test_every_catalogued_route_answers(
    client: BusClient, region: str, region_app: Assembly
) -> None:
    """No command or query subject is left unanswered: each replies with a result or an error."""
    for op in CATALOGUE.values():
        if op.kind == "event":
            continue
        doc = await raw_request(client, op.subject(region), b"{}")
        assert doc["type"] in {op.reply_type, "eu.mapnet.error.v1"}, op.name


async def test_json_nested_thousands_deep_gets_a_typed_error_on_every_subject(
    client: BusClient, region: str
) -> None:
    """A body nested deeper than any parser should follow is malformed input like any other:
    every command and query of every service answers it, and stays up."""
    deep = b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    requests = [op for op in CATALOGUE.values() if op.kind != "event"]
    assert len(requests) > 30
    for op in requests:
        doc = await raw_request(client, op.subject(region), deep)
        assert doc["type"] == "eu.mapnet.error.v1", op.name
        assert doc["data"]["error"]["code"] in {"invalid_json", "validation_failed"}, op.name
    status = await client.call(health_query("registry"), HealthCheck(), region)
    assert status.status == "ok"


async def test_health_says_starting_until_every_route_is_subscribed(
    settings: Any, client: BusClient
) -> None:
    """A service answers health as soon as its health route is subscribed, which may be before
    its commands are: until the process holds every subscription it answers "starting", so that
    whoever waits for "ok" (mapnet up, the benchmarks, the local network) never sends a command
    that meets "no responders" (bench/resume met it in a restart round)."""
    region = "startingtest"
    assembly = Assembly(settings, ["events"], [region])
    await assembly.prepare()
    await assembly.broker.start()
    try:
        early = await client.call(health_query("events"), HealthCheck(), region)
        assert early.status == "starting"
        await assembly.ready()
        status = await client.call(health_query("events"), HealthCheck(), region)
        assert status.status == "ok"
    finally:
        await assembly.__aexit__(None, None, None)
