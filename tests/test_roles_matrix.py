"""The roles table, tested from the contracts: every command and query of every installed service
is sent to one real region as every role, and by two real partner systems, and is refused with
``forbidden`` exactly where its ``roles`` say so; sent from another region, across the hub, it
is held to the same table. The table is also machine-readable in the committed AsyncAPI
document (``x-roles``), and that must say the same.

Roles are checked once, in the runtime, after the envelope is validated and before any handler
runs (mapnet/runtime/requests.py), so each request carries a minimal valid payload, built from
its JSON Schema. A handler may still refuse an allowed role for a rule of the record (an SME's
contact changes only their own SME): the runtime's refusal of a role is told apart from those by
its details, which name the roles allowed, and the payloads are about the actor's own records
where a rule would otherwise refuse them. The partner row is the partners' account's: there a
partner is the server's stamp, and an envelope of the region's own account naming one is
refused."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import pytest
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from contracts.access import PEOPLE, ROLES, Actor, Role
from contracts.audit import ListAudit, audit_query
from contracts.common import SmeRef
from contracts.envelope import new_id
from contracts.errors import Refused
from contracts.health import health_query
from contracts.operations import CATALOGUE, Operation
from mapnet.dev.localnet import LocalNetwork
from mapnet.ops.spec import CONTRACTS_DIR
from mapnet.runner import Assembly
from mapnet.runtime.access import ROLES_FROM_ANOTHER_REGION
from mapnet.runtime.bus import BusClient
from mapnet.runtime.credentials import with_login, without_login
from mapnet.runtime.declaration import service_names
from mapnet.runtime.settings import Settings
from tests.fixtures import Servers, unique_region
from tests.helpers import connect_when_let_in, eventually

T = TypeVar("T")

# How many requests are under way at once: enough to keep the region busy, few enough that a
# slow handler never makes another request time out.
CONCURRENCY = 16
TIMEOUT_S = 10.0


def requests_of(services: Iterable[str]) -> list[Operation[Any, Any]]:
    """The commands and queries of these services, in the order they are declared."""
    installed = set(services)
    for service in sorted(installed):  # declared when first asked for: every service has them
        health_query(service)
        audit_query(service)
    return [op for op in CATALOGUE.values() if op.kind != "event" and op.service in installed]


def key(op: Operation[Any, Any]) -> str:
    return f"{op.service}.{op.kind}.{op.name}"


# --- the table in the AsyncAPI document -------------------------------------------------------


def test_the_asyncapi_document_gives_every_request_its_roles_as_the_contract_does() -> None:
    doc = json.loads((CONTRACTS_DIR / "asyncapi.json").read_text())
    requests = requests_of(service_names())
    assert len(requests) > 40
    for op in requests:
        operation = doc["operations"][key(op)]
        assert operation["x-roles"] == list(op.roles), key(op)
        named = ", ".join(f"`{role}`" for role in op.roles)
        assert f"Roles that may send it: {named}." in operation["description"], key(op)
    with_roles = {name for name, operation in doc["operations"].items() if "x-roles" in operation}
    assert with_roles == {key(op) for op in requests}  # and no event has any


def acting_as(role: Role, region: str) -> Actor:
    """A person or system of ``region`` in ``role``; an SME's contact acts for the SME the
    minimal payloads name ("x"), an organiser has the event they name."""
    return Actor(
        id=f"{role}@{region}.example",
        role=role,
        region=region,
        sme_id="x" if role == "sme" else None,
        event_ids=["x"] if role == "organiser" else None,
    )


# --- minimal valid payloads -------------------------------------------------------------------

_QUIET = settings(database=None, max_examples=200, suppress_health_check=list(HealthCheck))
# Strings whose format is their rule; dates in the future, where rules want one.
_FORMATS = {
    "date": "2030-01-01",
    "date-time": "2030-01-01T10:00:00Z",
    "local-date-time": "2030-01-01T10:00:00",
    "email": "someone@example.org",
    "uri": "https://example.org/",
}
# Patterns whose shortest match a validator refuses: a country code must be a real one.
_PATTERN_VALUES = {"^[A-Z]{2}$": "EE"}


def minimal(schema: dict[str, Any], defs: dict[str, Any], region: str) -> Any:
    """The smallest value the JSON Schema allows: required properties only, the first of an
    enum, the shortest string of a pattern (hypothesis finds it), ids of one character."""
    if "$ref" in schema:
        return minimal(defs[schema["$ref"].split("/")[-1]], defs, region)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            branches = [b for b in schema[combined] if b.get("type") != "null"]
            return minimal((branches or schema[combined])[0], defs, region)
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        return {
            name: minimal(prop, defs, region)
            for name, prop in schema.get("properties", {}).items()
            if name in required
        }
    if kind == "array":
        return [minimal(schema.get("items", {}), defs, region)] * schema.get("minItems", 0)
    if kind == "string":
        return _string(schema, region)
    if kind in ("integer", "number"):
        if "minimum" in schema:
            return schema["minimum"]
        return schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else 1
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    raise ValueError(f"no minimal value for {schema}")


def _string(schema: dict[str, Any], region: str) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    pattern, shortest = schema.get("pattern"), max(schema.get("minLength", 0), 1)
    if pattern == "^[a-z]+$":  # a region id: this one, so that SME refs are its own
        return region
    if pattern in _PATTERN_VALUES:
        return _PATTERN_VALUES[pattern]
    if pattern is None or re.fullmatch(pattern, "x" * shortest):
        return "x" * shortest
    found: str = find(
        st.from_regex(pattern, fullmatch=True), lambda text: len(text) >= shortest, settings=_QUIET
    )
    return found


# Fields whose rule is beyond the schema, given a value the service's rule accepts, so that an
# allowed role's request reaches as far into its handler as a missing record lets it.
_FIELD_VALUES = {"timezone": "Europe/Tallinn", "ends_at": "2030-01-01T12:00:00"}


def minimal_request(op: Operation[Any, Any], region: str, actor: Actor) -> BaseModel:
    """A valid payload for ``op``, about the actor's own records where a rule of the record
    would otherwise refuse it: a partner publishes as itself, a person reads their own mail
    preferences, an SME's contact asks about their own SME, an organiser about their event;
    anyone else publishes as their region's MAP (map-<region>)."""
    schema = op.data.model_json_schema()
    data = minimal(schema, schema.get("$defs", {}), region)
    publisher = actor.id if actor.role == "partner" else f"map-{actor.region}"
    own: dict[str, Any] = {"partner_id": publisher}
    if actor.role in PEOPLE:
        own["email"] = actor.id
    if actor.sme_id is not None:  # whoever acts or is asked about in it: the contact's SME
        mine = {"region": actor.region, "sme_id": actor.sme_id}
        own |= {name: mine for name, f in op.data.model_fields.items() if _names(f, SmeRef)}
        own["participant"] = mine  # the filter of list_meetings and get_schedule
    if actor.event_ids:  # an organiser asks about their own event
        own["event_id"] = actor.event_ids[0]
    fitted = _FIELD_VALUES | own
    data |= {name: value for name, value in fitted.items() if name in op.data.model_fields}
    return op.data.model_validate(data)


def _names(field: FieldInfo, model: type[BaseModel]) -> bool:
    """Whether the field holds a ``model`` (or may: ``model | None``)."""
    kind = field.annotation
    return kind is model or (get_origin(kind) in (Union, UnionType) and model in get_args(kind))


def test_every_request_has_a_minimal_valid_payload() -> None:
    for op in requests_of(service_names()):
        for role in ROLES:
            minimal_request(op, "tallinn", acting_as(role, "tallinn"))


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one request got: a result, a typed error, or nobody to answer it."""

    code: str | None  # None: a result
    details: dict[str, Any]
    message: str = ""

    @property
    def role_refused(self) -> bool:
        """Refused by the runtime's role check (its details name the roles allowed), not by
        a handler's rule of the record."""
        return self.code == "forbidden" and "allowed" in self.details

    def __str__(self) -> str:
        return "ok" if self.code is None else f"{self.code}: {self.message}"


NOBODY = "no_responders"  # no subscriber to the subject where the request was published
SILENCE = "no_answer"  # no answer in time: what a publish the server refuses gets


async def answer_to(
    bus: BusClient,
    op: Operation[Any, Any],
    data: BaseModel,
    region: str,
    actor: Actor,
    timeout_s: float = TIMEOUT_S,
    **options: Any,
) -> Answer:
    try:
        reply = await bus.raw(op, data, region, actor=actor, timeout_s=timeout_s, **options)
    except Refused as refused:  # nobody answers the subject, or not in time
        code = NOBODY if "nobody answers" in refused.message else SILENCE
        return Answer(code, refused.details, refused.message)
    error = (reply.get("data") or {}).get("error")
    if error is None:
        return Answer(None, {})
    return Answer(error["code"], error.get("details") or {}, error.get("message", ""))


async def bounded(
    jobs: Iterable[Callable[[], Awaitable[T]]], concurrency: int = CONCURRENCY
) -> list[T]:
    """Run the jobs at most ``concurrency`` at a time; their results in order."""
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


async def matrix(
    bus: BusClient, ops: list[Operation[Any, Any]], to_region: str, from_region: str
) -> dict[tuple[str, Role], Answer]:
    """Every operation as every role of ``from_region``, sent to ``to_region``."""
    cells = [(op, acting_as(role, from_region)) for op in ops for role in ROLES]
    sent = [(op, actor, minimal_request(op, to_region, actor)) for op, actor in cells]
    answers = await bounded(
        partial(answer_to, bus, op, data, to_region, actor) for op, actor, data in sent
    )
    return {
        (key(op), actor.role): answer for (op, actor), answer in zip(cells, answers, strict=True)
    }


# Where an allowed role is still refused with ``forbidden`` by a rule of the record that no
# minimal payload can satisfy: the operation, the roles, and what the refusal says. Anything
# else forbidden to an allowed role is a mismatch.
RECORD_RULES: list[tuple[str, tuple[Role, ...], str]] = [
    # The token of the unsubscribe link in a mail is the authority, whoever sends it.
    ("notify.cmd.unsubscribe", ROLES, "the unsubscribe token does not match this address"),
    # An organiser publishes only at its own events, and a new entry's id is the service's to
    # derive (from the publisher and its external id), so no organiser has it yet.
    ("events.cmd.publish_event", ("organiser",), "is not one of this organiser's"),
    # Only a market's home region writes its articles: the minimal payload's market (EE) is
    # tallinn's (deploy/regions.toml), not the test region's.
    ("guide.cmd.write_article", ("map_admin", "map_staff"), "only its staff write its articles"),
    # The matrix's partners are general ones: only a finance partner (the server's stamp of
    # its account) publishes finance offers or lists SMEs that need finance.
    ("guide.cmd.publish_finance_offer", ("partner",), "is not a finance partner"),
    ("guide.cmd.withdraw_finance_offer", ("partner",), "is not a finance partner"),
    ("guide.query.list_smes_needing_finance", ("partner",), "is not a finance partner"),
]


def by_record_rule(op: Operation[Any, Any], role: Role, answer: Answer) -> bool:
    """Whether ``answer`` is a known rule of the record refusing ``role`` ``op``."""
    known = (
        name == key(op) and role in roles and said in answer.message
        for name, roles, said in RECORD_RULES
    )
    return answer.code == "forbidden" and not answer.role_refused and any(known)


# Roles an envelope from a region's own account may name. A partner is only ever the server's
# stamp on a request through the partners' account: the partner row of the table is tested
# with real partners, below, and an envelope that names a partner is refused everywhere.
ENVELOPE_ROLES: tuple[Role, ...] = tuple(role for role in ROLES if role != "partner")


def mismatches(
    answers: dict[tuple[str, Role], Answer],
    ops: list[Operation[Any, Any]],
    roles: tuple[Role, ...] = ENVELOPE_ROLES,
    *,
    record_rules: bool = False,
    only: frozenset[str] | None = None,
) -> list[str]:
    """Where an answer is not what the roles table says: ``forbidden`` by the role check for
    exactly the roles not listed, and never ``forbidden`` otherwise but by a known rule (or,
    with ``record_rules``, by any rule of the record). ``only``: the roles a caller may act as
    at all (another region's), whatever the table lists."""
    wrong = []
    for op in ops:
        table = set(op.roles) & only if only is not None else set(op.roles)
        for role in roles:
            answer = answers[key(op), role]
            refused = answer.code in (NOBODY, SILENCE) or (
                answer.code == "forbidden"
                and (answer.role_refused or not (record_rules or by_record_rule(op, role, answer)))
            )
            if role in table and refused:
                wrong.append(f"{key(op)} as {role}: {answer} (the table allows it)")
            if role not in table and not answer.role_refused:
                wrong.append(f"{key(op)} as {role}: {answer} (the table forbids it)")
    return wrong


# Answered to anyone, even without an envelope (a liveness probe), so no actor is checked.
UNCHECKED = {"health"}


def partners_believed(
    answers: dict[tuple[str, Role], Answer], ops: list[Operation[Any, Any]]
) -> list[str]:
    """Where an envelope from a region's own account that names a partner was not refused."""
    return [
        f"{key(op)}: {answers[key(op), 'partner']}"
        for op in ops
        if answers[key(op), "partner"].code != "forbidden" and op.name not in UNCHECKED
    ]


# --- one region, every operation, every role --------------------------------------------------


@dataclass
class Region:
    id: str
    client: BusClient
    servers: Servers


@pytest.fixture(scope="module")
async def matrix_region(servers: Servers) -> AsyncIterator[Region]:
    """One region with every installed service for the whole module: the matrix is hundreds
    of requests, not hundreds of regions."""
    region = unique_region()
    cfg = Settings.model_validate(
        {"MAPNET_REGIONS": region, "NATS_URL": servers.nats_url, "MONGO_URL": servers.mongo_url}
    )
    async with Assembly(cfg, service_names(), [region]):
        bus = await BusClient.connect(servers.nats_url, source="mapnet/tests/roles", timeout_s=10)
        try:
            yield Region(region, bus, servers)
        finally:
            await bus.close()


@pytest.fixture(scope="module")
async def role_answers(matrix_region: Region) -> dict[tuple[str, Role], Answer]:
    ops = requests_of(service_names())
    return await matrix(matrix_region.client, ops, matrix_region.id, matrix_region.id)


def test_each_role_is_forbidden_exactly_where_the_roles_table_says(
    role_answers: dict[tuple[str, Role], Answer],
) -> None:
    ops = requests_of(service_names())
    assert len(role_answers) == len(ops) * len(ROLES) > 400
    assert mismatches(role_answers, ops) == []
    assert partners_believed(role_answers, ops) == []


@contextmanager
def roles_declared(op: Operation[Any, Any], roles: tuple[Role, ...]) -> Iterator[None]:
    """The contract's table says ``roles`` for ``op`` for a while (an Operation is frozen)."""
    before = op.roles
    object.__setattr__(op, "roles", roles)
    try:
        yield
    finally:
        object.__setattr__(op, "roles", before)


def test_the_matrix_fails_when_the_table_and_the_runtime_disagree(
    role_answers: dict[tuple[str, Role], Answer],
) -> None:
    """The servers keep enforcing the real table; a table that gave steering the erasure of
    SMEs, or took it from map_admin, no longer matches what they answered."""
    from contracts import registry as rg

    ops = requests_of(service_names())
    with roles_declared(rg.ERASE_SME, ("map_admin", "steering")):
        assert mismatches(role_answers, ops) == [
            "registry.cmd.erase_sme as steering: forbidden: the role steering may not erase sme "
            "(the table allows it)"
        ]
    with roles_declared(rg.ERASE_SME, ()):
        assert [m.split(":")[0] for m in mismatches(role_answers, ops)] == [
            "registry.cmd.erase_sme as map_admin"
        ]
    assert mismatches(role_answers, ops) == []


# --- partner systems --------------------------------------------------------------------------


# A partner's publish the server refuses is never answered: how long to wait for that.
REFUSED_PUBLISH_S = 1.0


@dataclass
class Partner:
    user: str
    bus: BusClient
    claims: Actor  # whom its requests say they act for: never believed
    sent: dict[str, str]  # envelope id -> operation, of what it sent
    complaints: list[str]  # what the server told this connection it may not do


@pytest.fixture(scope="module")
async def partners(matrix_region: Region) -> AsyncIterator[list[Partner]]:
    """Two partner systems of the region, each logged in with its own credentials and inbox (as
    `mapnet partner add` makes them); the first claims to be the region's administrator, the
    second to be the first."""
    book = matrix_region.servers.partner_book()
    users = [book.add(f"matrix{secrets.token_hex(3)}{n}") for n in (1, 2)]
    assert book.reload_server()
    region, made = matrix_region.id, list[Partner]()
    try:
        for added in users:
            url = with_login(
                without_login(matrix_region.servers.nats_url), added.user, added.password
            )
            complaints: list[str] = []

            async def complaint(exc: Exception, into: list[str] = complaints) -> None:
                into.append(str(exc).lower())  # nats-py lower-cases the subject

            nc = await connect_when_let_in(url, inbox_prefix=added.inbox_prefix, error_cb=complaint)
            claims = (
                Actor(id=f"admin@{region}.example", role="map_admin", region=region)
                if not made
                else Actor(id=made[0].user, role="partner", region=region)
            )
            bus = BusClient(nc, source=f"https://{added.user}.example", timeout_s=TIMEOUT_S)
            made.append(Partner(added.user, bus, claims, {}, complaints))
        yield made
    finally:
        for partner in made:
            await partner.bus.nc.close()
        for added in users:
            book.remove(added.user)
        book.reload_server()


@pytest.fixture(scope="module")
async def partner_answers(
    matrix_region: Region, partners: list[Partner]
) -> dict[tuple[str, str], Answer]:
    """Every operation sent by each partner, its payload as the partner's own (the actor the
    server stamps), its envelope claiming someone else. What partners may not send is sent all
    at once: the server refuses it without troubling the services."""
    region, ops = matrix_region.id, requests_of(service_names())

    def send(partner: Partner, op: Operation[Any, Any]) -> Awaitable[Answer]:
        stamped = Actor(id=partner.user, role="partner", region=region)
        envelope_id = new_id()
        partner.sent[envelope_id] = key(op)
        data = minimal_request(op, region, stamped)
        wait_s = TIMEOUT_S if "partner" in op.roles else REFUSED_PUBLISH_S
        return answer_to(partner.bus, op, data, region, partner.claims, wait_s, id=envelope_id)

    answers: dict[tuple[str, str], Answer] = {}
    for theirs in (True, False):
        cells = [(p, op) for p in partners for op in ops if ("partner" in op.roles) == theirs]
        got = await bounded(
            (partial(send, p, op) for p, op in cells),
            CONCURRENCY if theirs else len(cells),
        )
        answers |= {(p.user, key(op)): a for (p, op), a in zip(cells, got, strict=True)}
    await asyncio.sleep(0.2)  # the server's last complaints, if any, are on their way
    return answers


def test_a_partner_reaches_exactly_what_partners_may_send(
    matrix_region: Region, partners: list[Partner], partner_answers: dict[tuple[str, str], Answer]
) -> None:
    """What partners may send is answered, and not forbidden, whatever the partner claims to
    be; anything else the server refuses to carry (a permissions violation, never answered),
    though the envelope claims the region's administrator or another partner."""
    ops = requests_of(service_names())
    assert any("partner" in op.roles for op in ops)
    wrong = []
    for partner in partners:
        for op in ops:
            answer = partner_answers[partner.user, key(op)]
            if "partner" not in op.roles:
                violation = f'permissions violation for publish to "{op.subject(matrix_region.id)}"'
                if answer.code != SILENCE or not any(violation in c for c in partner.complaints):
                    wrong.append(f"{partner.user} {key(op)}: {answer} (not a partner's)")
            elif answer.code in (NOBODY, SILENCE) or (
                answer.code == "forbidden" and not by_record_rule(op, "partner", answer)
            ):
                wrong.append(f"{partner.user} {key(op)}: {answer} (partners may send it)")
    assert wrong == []


async def test_a_partner_acts_as_itself_whatever_its_envelope_claims(
    matrix_region: Region, partners: list[Partner], partner_answers: dict[tuple[str, str], Answer]
) -> None:
    """The audit trail (each accepted command, each refusal other than bad input) records every
    partner request with the partner the server stamped, never the actor its envelope claimed:
    the region's administrator, or the other partner."""
    region, bus = matrix_region.id, matrix_region.client
    admin = Actor(id="auditor@tests.example", role="map_admin", region=region)

    async def trail(actor_id: str) -> dict[str, dict[str, Any]]:
        """Every service's audit entries of one actor, by envelope id."""
        entries: dict[str, dict[str, Any]] = {}
        for service in sorted(set(service_names())):
            page = await bus.call(
                audit_query(service), ListAudit(actor_id=actor_id, limit=100), region, actor=admin
            )
            entries |= {e.command_id: e.model_dump(mode="json") for e in page.items}
        return entries

    for partner in partners:
        # Of what it sent, these leave an entry: its commands, but for bad input.
        audited = {
            envelope_id
            for envelope_id, name in partner.sent.items()
            if CATALOGUE[name].kind == "cmd" and "partner" in CATALOGUE[name].roles
            and partner_answers[partner.user, name].code != "validation_failed"
        }  # fmt: skip
        assert len(audited) >= 3, partner.user
        own = await eventually(partial(trail, partner.user), until=audited.issubset)
        for envelope_id in audited:
            actor = own[envelope_id]["actor"]
            assert (actor["id"], actor["role"]) == (partner.user, "partner"), own[envelope_id]
        claimed = await trail(partner.claims.id)
        assert not set(claimed) & set(partner.sent), partner.claims.id


# --- another region ---------------------------------------------------------------------------

HOME, OTHER = "tallinn", "riga"


@pytest.fixture(scope="module")
async def two_regions(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    async with LocalNetwork(
        Path(tmp_path_factory.mktemp("roles-network")), [HOME, OTHER]
    ) as network:
        yield network


async def test_another_region_is_held_to_the_roles_table_and_reaches_only_network_operations(
    two_regions: LocalNetwork,
) -> None:
    """Every operation sent from another region's server, across the hub, as every role of that
    region: an operation the network may not send has no responder; a network operation is
    refused by the role check for exactly the roles the table does not list, and an envelope
    naming a partner is refused. The hub stamps each request with the region it came from, so
    an envelope of OTHER's that names one of HOME's people is refused whatever it claims; the
    services' own record rules (staff act only for their region's SMEs) are told apart by
    ``record_rules`` below."""
    ops = requests_of(service_names())
    bus = await two_regions.client(OTHER, timeout_s=TIMEOUT_S)
    answers = await matrix(bus, ops, to_region=HOME, from_region=OTHER)
    network = [op for op in ops if op.network]
    assert network
    unreachable = [
        f"{key(op)} as {role}: {answers[key(op), role]}"
        for op in ops
        if not op.network
        for role in ROLES
        if answers[key(op), role].code != NOBODY
    ]
    assert unreachable == []
    # Another region acts only as its people or their staff (health answers anyone).
    checked = [op for op in network if op.name not in UNCHECKED]
    assert mismatches(answers, checked, record_rules=True, only=ROLES_FROM_ANOTHER_REGION) == []
    assert partners_believed(answers, network) == []
    posing = await matrix(bus, network, to_region=HOME, from_region=HOME)
    believed = [
        f"{key(op)} as {role}"
        for op in network
        if op.name not in UNCHECKED
        for role in ENVELOPE_ROLES
        if posing[key(op), role].code != "forbidden"
    ]
    # The hub stamps where a request came from: OTHER's request naming one of HOME's people is
    # refused, by every role, for every network operation (it was believed as HOME's own).
    assert believed == []
    not_as_origin = [
        f"{key(op)} as {role}: {posing[key(op), role]}"
        for op in network
        if op.name not in UNCHECKED
        for role in ENVELOPE_ROLES
        if role in op.roles and posing[key(op), role].details.get("from_region") != OTHER
    ]
    assert not_as_origin == []  # refused as another region's request, not by the role check
