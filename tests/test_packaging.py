"""What cannot run here without Docker is at least checked for structure: the compose file, the
committed AsyncAPI document and schemas, and the CLI commands the containers call."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from contracts import CATALOGUE
from mapnet.ops.cli import app
from mapnet.ops.spec import CONTRACTS_DIR, rendered
from services.portal.entrypoints.web import checked
from services.portal.settings import PortalSettings

ROOT = Path(__file__).resolve().parent.parent


def test_committed_contracts_are_up_to_date() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in rendered(CONTRACTS_DIR).items()
        if not path.exists() or path.read_text() != text
    ]
    extra = {p for p in (CONTRACTS_DIR / "schemas").glob("*.json")} - set(rendered(CONTRACTS_DIR))
    assert not stale and not extra, f"run `make contracts`: stale {stale}, extra {sorted(extra)}"


def test_asyncapi_lists_every_operation_with_its_payload() -> None:
    import json

    doc = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    addresses = {channel["address"] for channel in doc["channels"].values()}
    for op in CATALOGUE.values():
        assert f"mapnet.{{region}}.{op.service}.{op.kind}.{op.name}" in addresses, op.name
    for message in doc["components"]["messages"].values():
        assert message["payload"].get("$ref"), message


def test_asyncapi_says_the_correlation_id_is_in_the_envelope() -> None:
    import json

    doc = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    for name, message in doc["components"]["messages"].items():
        assert message["correlationId"]["location"] == "$message.payload#/correlationid", name


def test_asyncapi_lists_the_roles_of_every_command_and_query() -> None:
    import json

    doc = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    described = {ch["address"]: ch.get("description", "") for ch in doc["channels"].values()}
    for op in CATALOGUE.values():
        if op.kind == "event":
            continue
        address = f"mapnet.{{region}}.{op.service}.{op.kind}.{op.name}"
        assert op.roles, op.name
        assert f"Roles that may send it: {', '.join(op.roles)}." in described[address], op.name


def test_every_command_and_query_declares_its_reply_and_error_codes() -> None:
    import json
    from typing import get_args

    from contracts.envelope import ERROR_TYPE, ErrorCode

    doc = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    requests = [op for op in CATALOGUE.values() if op.kind != "event"]
    assert len(requests) > 40
    for op in requests:
        key = f"{op.service}.{op.kind}.{op.name}"
        operation = doc["operations"][key]
        (reply_ref,) = operation["reply"]["messages"]
        channel_name, _, message_name = (
            reply_ref["$ref"].removeprefix("#/channels/").partition("/messages/")
        )
        channel = doc["channels"][channel_name]
        assert channel["address"] is None  # the requester's inbox
        message_ref = channel["messages"][message_name]["$ref"]
        message = doc["components"]["messages"][message_ref.removeprefix("#/components/messages/")]
        schema_name = message["payload"]["$ref"].removeprefix("#/components/schemas/")
        schema = doc["components"]["schemas"][schema_name]
        assert set(schema["properties"]["type"]["enum"]) == {op.reply_type, ERROR_TYPE}, key
        codes = operation["x-error-codes"]
        assert {"invalid_json", "validation_failed", "forbidden", "internal"} <= set(codes), key
        assert set(codes) <= set(get_args(ErrorCode)), key
        assert all(meaning for meaning in codes.values()), key
        if op.kind == "cmd":
            assert "id_reused" in codes, key
        if "cursor" in op.data.model_fields:
            assert "invalid_cursor" in codes, key
        for code in codes:
            assert f"`{code}`" in operation["description"], key
    assert "not_found" in doc["operations"]["registry.cmd.update_sme"]["x-error-codes"]
    # Every $ref in the document points at something that is there.
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = doc
        for part in ref.split("/"):
            node = node[part]


def test_compose_runs_one_region_with_official_images_and_each_service() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    # One release, not a floating tag: the partners' stamp needs 2.12.6 or later.
    pinned = re.fullmatch(r"nats:(\d+)\.(\d+)\.(\d+)(-alpine)?", services["nats"]["image"])
    assert pinned and tuple(map(int, pinned.groups()[:3])) >= (2, 12, 6), services["nats"]
    for volume in services["nats"]["volumes"]:
        if volume.startswith("./"):  # every file the server's configuration reads is there
            assert (ROOT / volume.split(":")[0]).exists(), volume
    assert services["mongo"]["image"].startswith("mongo:")
    conf = services["nats"]["volumes"][0].split(":")[0]
    assert (ROOT / conf).exists()
    assert "jetstream" in (ROOT / conf).read_text()
    assert "$MAPNET_SERVICE_PASSWORD" in (ROOT / conf).read_text()
    assert "MAPNET_SERVICE_PASSWORD" in services["nats"]["environment"]
    runner = CliRunner()
    from mapnet.runtime.declaration import service_names

    for name in service_names():  # every declared service has its container
        svc = services[name]
        assert svc["command"] == ["serve", name]
        assert svc["healthcheck"]["test"]
        # No anonymous connection: each service logs in as its own user, with its own password
        # (the server reads it from the same variable).
        variable = f"MAPNET_SERVICE_PASSWORD_{name.upper()}"
        assert svc["environment"]["NATS_URL"].startswith(f"nats://mapnet.{name}:${{{variable}:")
        assert variable in services["nats"]["environment"]
        assert f"${variable}" in (ROOT / conf).read_text()
        result = runner.invoke(app, [*svc["command"], "--help"])
        assert result.exit_code == 0, result.output
    for name, svc in services.items():
        assert "healthcheck" in svc, name
    assert services["portal"]["ports"] == ["8080:8080"]
    assert services["portal"]["environment"]["MAPNET_HTTP_HOST"] == "0.0.0.0"
    # The portal starts with the settings compose gives it (beyond loopback it needs its
    # public address, which compose requires and never defaults to localhost).
    given = services["portal"]["environment"]
    assert given["MAPNET_PUBLIC_URL"].startswith("${MAPNET_PUBLIC_URL:?")
    portal_env = {
        k: re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "https://map.example", str(v)) for k, v in given.items()
    }
    checked(PortalSettings.model_validate(portal_env))
    assert "8222:8222" not in services["nats"].get("ports", [])  # monitoring stays inside
    dockerfile = (ROOT / "Dockerfile").read_text()
    # Installed (not editable) in the image, the runtime finds no deploy/ beside its package:
    # the image carries the regions file and names it (the guide's home markets read it).
    assert "COPY deploy/regions.toml deploy/regions.toml" in dockerfile
    assert "ENV MAPNET_REGIONS_FILE=/app/deploy/regions.toml" in dockerfile
