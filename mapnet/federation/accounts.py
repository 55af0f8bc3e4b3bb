"""The two accounts of a region's NATS server (see mapnet/runtime/access.py for why): MAPNET for
the region's services, portal and command line, with JetStream, linked to the hub; PARTNERS for
partner systems, importing only the commands and queries their role may send, each request
stamped by the server with the partner's user name. Nobody connects without credentials.

The partners' users are in ``partners.conf`` beside the server's configuration (written by
`mapnet partner …`, read again on a reload), their passwords as bcrypt hashes."""

from __future__ import annotations

from typing import Any

from contracts.operations import CATALOGUE, Operation
from mapnet.runtime.access import PARTNERS_ACCOUNT, SERVICES_ACCOUNT
from mapnet.runtime.credentials import SERVICE_USER
from mapnet.runtime.declaration import declared

SERVICE_PASSWORD_VAR = "MAPNET_SERVICE_PASSWORD"
PARTNERS_FILE = "partners.conf"


def partner_operations() -> list[Operation[Any, Any]]:
    """What a partner system may send: the installed services' operations open to partners."""
    services = declared()
    return [
        op
        for op in CATALOGUE.values()
        if op.kind != "event" and "partner" in op.roles and op.service in services
    ]


def partner_subjects(region: str | None) -> list[str]:
    """A partner reaches its own region's operations, and another region's only where the
    operation may cross the hub. ``region`` None: any region (a server shared by tests)."""
    subjects = {
        f"mapnet.{'*' if region is None or op.network else region}.{op.service}.{op.kind}.{op.name}"
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


def partners_conf(users: dict[str, str]) -> str:
    """The partners' users: name → bcrypt hash of the password."""
    entries = "".join(
        f'  {{user: "{name}", password: "{hashed}"}}\n' for name, hashed in users.items()
    )
    return f"# Partner systems of this region; written by `mapnet partner`.\nusers: [\n{entries}]\n"
