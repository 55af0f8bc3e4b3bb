"""The accounts of a region's NATS server (see mapnet/runtime/access.py for why): MAPNET for
the region's services, portal and command line, with JetStream, linked to the hub; PARTNERS for
partner systems, importing only the commands and queries their role may send, each request
stamped by the server with the partner's user name (and account); FINANCE_PARTNERS, the same
for finance partners, whose kind the stamp's account vouches for. Nobody connects without
credentials.

The partners' users are in ``partners.conf`` beside the server's configuration (written by
`mapnet partner …`, read again on a reload), their passwords as bcrypt hashes. Partners share
the account but not their traffic: each user may publish only the subjects the account imports
(``partner_publish.conf``, derived from the contracts) and subscribe only to its own inbox,
``_INBOX.<user>.>`` (a client sets it as its inbox prefix), so no partner hears another's
requests or replies, nor answers them.

In MAPNET, user ``mapnet`` may do everything: the operator's command line, and `mapnet serve
all`, where every service of a region shares one process and so one connection anyway. Each
service run on its own logs in as ``mapnet.<service>`` (its password in the variable
``MAPNET_SERVICE_PASSWORD_<SERVICE>``) and may do only what its routes and its declaration say it
does (mapnet/runtime/needs.py): answer its own commands and queries, ask the operations it
declares it asks, publish its own events and dead letters, keep its own stream and its own
durable consumers. So a compromised portal can neither delete nor purge a stream, nor publish an
event or into a stream, nor hear another service's requests or answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.operations import CATALOGUE, Operation, shared_events
from contracts.subjects import (
    dlq_stream,
    network_stream,
    replay_subject,
    service_events,
    shared_stream,
    stream_name,
    subject,
)
from mapnet.runtime.access import PARTNER_ACCOUNTS, SERVICES_ACCOUNT
from mapnet.runtime.credentials import SERVICE_USER, service_user
from mapnet.runtime.declaration import declared
from mapnet.runtime.needs import ServiceNeeds, needs
from mapnet.runtime.routing import service_inbox

SERVICE_PASSWORD_VAR = "MAPNET_SERVICE_PASSWORD"
PARTNERS_FILE = "partners.conf"
# The users of the finance partners' account (`mapnet partner add --kind finance`).
FINANCE_PARTNERS_FILE = "finance_partners.conf"
# Each partner account's users file, by the kind of partner it holds.
PARTNER_FILES = {"general": PARTNERS_FILE, "finance": FINANCE_PARTNERS_FILE}
PARTNER_PUBLISH_FILE = "partner_publish.conf"


def partner_operations() -> list[Operation[Any, Any]]:
    """What a partner system may send: the installed services' operations open to partners."""
    services = declared()
    return [
        op
        for op in CATALOGUE.values()
        if op.kind != "event" and "partner" in op.roles and op.service in services
    ]


def partner_subjects(region: str | None) -> list[str]:
    """A partner reaches its own region's operations only: a request of a partner sent on to
    another region would cross the hub as this region's own, so none is imported (what other
    regions share, a partner reads from this region's copy). ``region`` None: any region (a
    server that tests share between regions of their own)."""
    subjects = {
        f"mapnet.{'*' if region is None else region}.{op.service}.{op.kind}.{op.name}"
        for op in partner_operations()
    }
    return sorted(subjects)


def service_password_var(service: str) -> str:
    """The environment variable the server reads a service user's password from."""
    return f"{SERVICE_PASSWORD_VAR}_{service.upper()}"


def password_vars() -> list[str]:
    """Every variable a region's configuration reads a password from."""
    return [SERVICE_PASSWORD_VAR, *(service_password_var(s) for s in declared())]


@dataclass(frozen=True)
class Permissions:
    publish: list[str]
    subscribe: list[str]


def _js_api(*calls: str) -> list[str]:
    return [f"$JS.API.{call}" for call in calls]


def shared_sources() -> list[str]:
    """The services whose streams the region's shared stream copies from."""
    return sorted({op.service for op in shared_events() if op.service in declared()})


def _consumer_rights(need: ServiceNeeds, region: str) -> list[str]:
    """Create (with its own filter only), read, pull from and acknowledge its own durable
    consumers; read the state of the streams they are on (to wait for them at start)."""
    rights: list[str] = []
    for consumed in need.consumed:
        stream, durable = consumed.stream(region), consumed.durable
        rights += _js_api(
            f"CONSUMER.INFO.{stream}.{durable}",
            f"CONSUMER.CREATE.{stream}.{durable}.{consumed.subject(region)}",
            f"CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"STREAM.INFO.{stream}",
        )
        # Acknowledgements are published to the reply subject of each message: the stream and
        # consumer are its third and fourth tokens (v1) or, with a domain, its fifth and sixth.
        rights += [f"$JS.ACK.{stream}.{durable}.>", f"$JS.ACK.*.*.{stream}.{durable}.>"]
    return rights


def _stream_rights(need: ServiceNeeds, region: str) -> list[str]:
    """Its own stream kept as the contracts say; the region's dead letters and shared stream
    created (not changed) if they are missing; the network stream kept by the services that
    read it (their link keeper adds the other regions as sources, and restarts them)."""
    rights: list[str] = []
    if need.publishes_events:
        own = stream_name(region, need.service)
        rights += _js_api(*(f"STREAM.{call}.{own}" for call in ("INFO", "CREATE", "UPDATE")))
        for common in (dlq_stream(region), shared_stream(region)):
            rights += _js_api(f"STREAM.INFO.{common}", f"STREAM.CREATE.{common}")
        # The shared stream is made once the streams it copies are there.
        rights += _js_api(*(f"STREAM.INFO.{stream_name(region, s)}" for s in shared_sources()))
    if need.reads_network:
        network = network_stream(region)
        rights += _js_api(
            *(f"STREAM.{call}.{network}" for call in ("INFO", "CREATE", "UPDATE", "PURGE"))
        )
        # Whether another region's shared stream answers, across the hub (which passes on
        # only the information of shared streams).
        rights.append("$JS.*.API.STREAM.INFO.*")
    return rights


def service_permissions(service: str, region: str) -> Permissions:
    """What ``mapnet.<service>`` may do in ``region``, from its routes and declaration."""
    need = needs(service)
    publish = [op.subject(region) for op in need.asks]
    # A network operation it asks may be sent to another region, across the hub (the portal
    # sends a contact's registration or meeting request to the region hosting the event); the
    # other region's server answers it only for this region's people (runtime/access.py).
    publish += [f"mapnet.*.{op.service}.{op.kind}.{op.name}" for op in need.asks if op.network]
    # Every service's health: `mapnet status` in the service's container checks the region.
    publish.append(subject(region, "*", "query", "health"))
    if need.publishes_events:
        publish.append(service_events(region, service))
    if need.consumed:
        publish.append(f"mapnet.{region}.{service}.dlq.>")
    publish += _stream_rights(need, region) + _consumer_rights(need, region)
    subscribe = [
        f"mapnet.{region}.{service}.cmd.>",
        f"mapnet.{region}.{service}.query.>",
        f"{service_inbox(region, service)}.>",
    ]
    if need.consumed:
        # Dead letters an operator sends back to one of its consumers (`mapnet dlq replay`).
        subscribe.append(replay_subject(region, service, "*"))
    return Permissions(sorted(set(publish)), subscribe)


def _quoted(items: list[str], indent: str) -> str:
    return "".join(f'{indent}"{item}"\n' for item in items)


def _service_users(region: str) -> str:
    users = []
    for service in declared():
        allowed = service_permissions(service, region)
        users.append(
            f'      {{user: "{service_user(service)}", password: ${service_password_var(service)},'
            " permissions: {\n"
            "        publish: {allow: [\n"
            f"{_quoted(allowed.publish, '          ')}"
            "        ]}\n"
            "        subscribe: {allow: [\n"
            f"{_quoted(allowed.subscribe, '          ')}"
            "        ]}\n"
            "        # Answers to the requests it receives (their reply subjects).\n"
            "        allow_responses: true\n"
            "      }}\n"
        )
    return "".join(users)


def accounts_block(region: str | None) -> str:
    """``region`` None: a server that tests share between regions of their own, where only
    ``mapnet`` logs in (a service's rights name its region's streams)."""
    subjects = partner_subjects(region)
    exports = ",\n".join(f'      {{service: "{s}"}}' for s in subjects)
    imports = ",\n".join(
        f'      {{service: {{account: {SERVICES_ACCOUNT}, subject: "{s}"}}, share: true}}'
        for s in subjects
    )
    # One account per kind of partner, importing the same operations: the stamp names the
    # account, so the services know a finance partner by the server's word (a general partner
    # asking what only finance partners may is refused by the service, with a typed answer).
    partner_accounts = "".join(
        f"  {PARTNER_ACCOUNTS[kind]}: {{\n"
        f'    include "{PARTNER_FILES[kind]}"\n'
        "    imports: [\n"
        f"{imports}\n"
        "    ]\n"
        "  }\n"
        for kind in ("general", "finance")
    )
    return (
        "accounts {\n"
        f"  {SERVICES_ACCOUNT}: {{\n"
        "    jetstream: enabled\n"
        "    users: [\n"
        f"      {{user: {SERVICE_USER}, password: ${SERVICE_PASSWORD_VAR}}}\n"
        f"{'' if region is None else _service_users(region)}"
        "    ]\n"
        "    exports: [\n"
        f"{exports}\n"
        "    ]\n"
        "  }\n"
        f"{partner_accounts}"
        "}\n"
    )


def partner_inbox(user: str) -> str:
    """The inbox prefix a partner's client must use: the only subjects it may subscribe to."""
    return f"_INBOX.{user}"


def partner_publish_conf() -> str:
    """What every partner user may publish: the operations open to partners, of any region (the
    account's imports decide which region's reach a service; the rest reach nobody, since no
    partner may subscribe to anything but its own inbox). The same file for every region."""
    subjects = ", ".join(f'"{s}"' for s in partner_subjects(None))
    return (
        "# What a partner system may publish; written with the server's configuration from\n"
        f"# contracts/ (the commands and queries open to partners).\nallow: [{subjects}]\n"
    )


def partner_files(users: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Each partner account's users file: name → (kind, bcrypt hash of the password)."""
    return {
        file: partners_conf({n: hashed for n, (k, hashed) in users.items() if k == kind})
        for kind, file in PARTNER_FILES.items()
    }


def partners_conf(users: dict[str, str]) -> str:
    """The partners' users: name → bcrypt hash of the password, each with its permissions."""
    entries = "".join(
        f'  {{user: "{name}", password: "{hashed}", permissions: {{\n'
        f'    publish: {{ include "{PARTNER_PUBLISH_FILE}" }}\n'
        f'    subscribe: {{allow: ["{partner_inbox(name)}.>"]}}\n'
        "  }}\n"
        for name, hashed in users.items()
    )
    return f"# Partner systems of this region; written by `mapnet partner`.\nusers: [\n{entries}]\n"
