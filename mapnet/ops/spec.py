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
    _add_replies(document)
    return document


def _add_replies(document: dict[str, Any]) -> None:
    """Each command and query operation with its reply (AsyncAPI 3 ``reply``: the result or
    the typed error), the roles that may send it (``x-roles``, as the runtime enforces them)
    and the error codes it can answer, with what each means there."""
    components = document.setdefault("components", {})
    schemas, messages = components.setdefault("schemas", {}), components.setdefault("messages", {})
    for key, operation in document.get("operations", {}).items():
        op = CATALOGUE.get(key)
        if op is None or op.reply_envelope is None:
            continue
        name = op.reply_envelope.__name__
        schema = op.reply_envelope.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(def_name, definition)
        schemas[name] = schema
        messages[f"{key}:Reply"] = {
            "title": f"{key}:Reply",
            "name": name,
            "summary": f"The answer to {op.name}: a {op.reply_type} envelope with the result, "
            "or an eu.mapnet.error.v1 envelope with one of the error codes below",
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "correlationId": {
                "description": "The request's correlationid, echoed",
                "location": "$message.payload#/correlationid",
            },
        }
        # The reply subject is the requester's inbox, known only at run time: a channel
        # without an address, as AsyncAPI 3 has it for dynamic replies.
        document["channels"][f"{key}.reply"] = {
            "address": None,
            "description": f"The requester's inbox, where the answer to {op.name} goes",
            "messages": {"Reply": {"$ref": f"#/components/messages/{key}:Reply"}},
        }
        codes = op.error_codes()
        operation["reply"] = {
            "channel": {"$ref": f"#/channels/{key}.reply"},
            "messages": [{"$ref": f"#/channels/{key}.reply/messages/Reply"}],
        }
        operation["x-roles"] = list(op.roles)
        operation["x-error-codes"] = codes
        roles = ", ".join(f"`{role}`" for role in op.roles)
        listed = "; ".join(f"`{code}`: {meaning}" for code, meaning in codes.items())
        operation["description"] = (
            f"{op.summary}. Roles that may send it: {roles}. Error codes: {listed}."
        )


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
