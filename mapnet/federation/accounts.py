"""The two accounts of a region's NATS server (see mapnet/runtime/access.py for why): MAPNET for
the region's services, portal and command line, with JetStream, linked to the hub; PARTNERS for
partner systems, importing only the commands and queries their role may send, each request
stamped by the server with the partner's user name. Nobody connects without credentials.

The partners' users are in ``partners.conf`` beside the server's configuration (written by
`mapnet partner …`, read again on a reload), their passwords as bcrypt hashes. Partners share
the account but not their traffic: each user may publish only the subjects the account imports
(``partner_publish.conf``, derived from the contracts) and subscribe only to its own inbox,
``_INBOX.<user>.>`` (a client sets it as its inbox prefix), so no partner hears another's
requests or replies, nor answers them."""

from __future__ import annotations

from typing import Any

from contracts.operations import CATALOGUE, Operation
from mapnet.runtime.access import PARTNERS_ACCOUNT, SERVICES_ACCOUNT
from mapnet.runtime.credentials import SERVICE_USER
from mapnet.runtime.declaration import declared

SERVICE_PASSWORD_VAR = "MAPNET_SERVICE_PASSWORD"
PARTNERS_FILE = "partners.conf"
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


def accounts_block(region: str | None) -> str:
    subjects = partner_subjects(region)
    exports = ",\n".join(f'      {{service: "{s}"}}' for s in subjects)
    imports = ",\n".join(
        f'      {{service: {{account: {SERVICES_ACCOUNT}, subject: "{s}"}}, share: true}}'
        for s in subjects
    )
    return (
        "accounts {\n"
        f"  {SERVICES_ACCOUNT}: {{\n"
        "    jetstream: enabled\n"
        f"    users: [ {{user: {SERVICE_USER}, password: ${SERVICE_PASSWORD_VAR}}} ]\n"
        "    exports: [\n"
        f"{exports}\n"
        "    ]\n"
        "  }\n"
        f"  {PARTNERS_ACCOUNT}: {{\n"
        f'    include "{PARTNERS_FILE}"\n'
        "    imports: [\n"
        f"{imports}\n"
        "    ]\n"
        "  }\n"
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
