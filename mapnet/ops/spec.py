"""Export of the contracts: one AsyncAPI document over all four services and a JSON Schema file
per message, written deterministically so a test can tell when the committed copy is stale."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope, ErrorReply
from contracts.operations import CATALOGUE
from mapnet import __version__

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"

DESCRIPTION = (
    "MAPnet: the federated Market Access Points of the Baltic Sea Region. Every message is a "
    "CloudEvents 1.0 structured JSON envelope with the extension attributes `correlationid` and "
    "`region`. Subjects are `mapnet.<region>.<service>.<kind>.<name>`: `cmd` and `query` are "
    "NATS request/reply and are answered with the result or a typed error "
    '(`data: {"error": {"code", "message", "details"}}`, type `eu.mapnet.error.v1`); `event` '
    "subjects are persisted in one JetStream stream per region and service and published with "
    "`Nats-Msg-Id` = the event id. Replace `{region}` with a region id such as `tallinn`."
)


def asyncapi_document() -> dict[str, Any]:
    from faststream.specification import AsyncAPI

    from mapnet.runner import spec_broker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = AsyncAPI(
            spec_broker(), title="MAPnet", version=__version__, description=DESCRIPTION
        ).to_specification()
    document: dict[str, Any] = spec.to_jsonable()
    document.pop("servers", None)
    for message in document.get("components", {}).get("messages", {}).values():
        # The correlation id travels in the envelope (a CloudEvents extension attribute), not
        # in a header as FastStream assumes.
        message["correlationId"] = {
            "description": "The envelope's correlationid: the same for every message of one flow",
            "location": "$message.payload#/correlationid",
        }
    for channel in document.get("channels", {}).values():
        channel.pop("servers", None)
    return document


def message_schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for op in CATALOGUE.values():
        schemas[op.envelope.__name__] = op.envelope.model_json_schema()
        if op.reply_envelope is not None:
            schemas[op.reply_envelope.__name__] = op.reply_envelope.model_json_schema()
    schemas["ErrorEnvelope"] = Envelope[ErrorReply].model_json_schema()
    return schemas


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered(out: Path = CONTRACTS_DIR) -> dict[Path, str]:
    files = {out / "asyncapi.json": dumps(asyncapi_document())}
    for name, schema in message_schemas().items():
        files[out / "schemas" / f"{name}.json"] = dumps(schema)
    return files


def export(out: Path = CONTRACTS_DIR) -> list[Path]:
    files = rendered(out)
    (out / "schemas").mkdir(parents=True, exist_ok=True)
    for stale in (out / "schemas").glob("*.json"):
        if stale not in files:
            stale.unlink()
    for path, text in files.items():
        path.write_text(text)
    return sorted(files)
