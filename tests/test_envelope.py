"""The envelope and subject grammar, without servers."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from contracts import CATALOGUE, ERROR_TYPE
from contracts.registry import REGISTER_SME, SME_REGISTERED, GetSme, RegisterSme
from contracts.subjects import parse, subject
from mapnet.runtime.codec import decode, encode, error_envelope, explain_invalid, make_envelope


def sme() -> RegisterSme:
    return RegisterSme(
        legal_name="Photonic Baltic OÜ", registration_number="12345678", country="EE"
    )


def test_envelope_round_trip_keeps_cloudevents_attributes() -> None:
    env = make_envelope(REGISTER_SME, sme(), region="tallinn", source="mapnet/tallinn/cli")
    doc = json.loads(encode(env))
    assert doc["specversion"] == "1.0"
    assert doc["type"] == "eu.mapnet.registry.register_sme.v1"
    assert doc["region"] == "tallinn"
    assert doc["correlationid"] == doc["id"]
    assert doc["datacontenttype"] == "application/json"
    again = decode(REGISTER_SME, encode(env))
    assert again.data == env.data


def test_extension_attributes_are_kept() -> None:
    env = make_envelope(REGISTER_SME, sme(), region="tallinn", source="x", traceparent="00-abc")
    assert json.loads(encode(env))["traceparent"] == "00-abc"


def test_unknown_type_is_refused_naming_the_field() -> None:
    env = make_envelope(REGISTER_SME, sme(), region="tallinn", source="x")
    doc = json.loads(encode(env))
    doc["type"] = "eu.mapnet.registry.unknown.v1"
    raw = json.dumps(doc).encode()
    with pytest.raises(ValidationError) as caught:
        decode(REGISTER_SME, raw)
    body = explain_invalid(raw, caught.value)
    assert body.code == "unknown_type"
    assert body.details["fields"][0]["field"] == "type"


def test_malformed_json_is_named_as_such() -> None:
    raw = b'{"id": '
    with pytest.raises(ValidationError) as caught:
        decode(REGISTER_SME, raw)
    assert explain_invalid(raw, caught.value).code == "invalid_json"


def test_unknown_data_field_and_bad_region_are_refused() -> None:
    env = make_envelope(REGISTER_SME, sme(), region="tallinn", source="x")
    doc = json.loads(encode(env))
    doc["data"]["legal_nmae"] = "typo"
    doc["region"] = "Tallinn-1"
    raw = json.dumps(doc).encode()
    with pytest.raises(ValidationError) as caught:
        decode(REGISTER_SME, raw)
    fields = {f["field"] for f in explain_invalid(raw, caught.value).details["fields"]}
    assert fields == {"data.legal_nmae", "region"}


def test_error_envelope_is_a_cloudevent_with_typed_error() -> None:
    from contracts.envelope import ErrorBody

    doc = json.loads(
        error_envelope(ErrorBody(code="not_found", message="no"), region="riga", source="s")
    )
    assert doc["type"] == ERROR_TYPE
    assert doc["data"]["error"]["code"] == "not_found"


def test_subject_grammar() -> None:
    assert subject("berlin", "registry", "cmd", "register_sme") == REGISTER_SME.subject("berlin")
    assert SME_REGISTERED.subject("oslo") == "mapnet.oslo.registry.event.sme_registered"
    parsed = parse("mapnet.oslo.registry.query.get_sme")
    assert parsed is not None and parsed.name == "get_sme" and parsed.kind == "query"
    with pytest.raises(ValueError):
        subject("St-Petersburg", "registry", "cmd", "x")
    with pytest.raises(ValueError):
        subject("oslo", "registry", "cmd", "NotSnake")


def test_every_operation_has_a_distinct_type_and_envelope() -> None:
    types = [op.type for op in CATALOGUE.values() if op.name != "health"]
    assert len(types) == len(set(types))
    assert GetSme.model_json_schema()["required"] == ["sme_id"]
