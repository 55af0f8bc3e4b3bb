"""Partner systems of a region: each a user of the region's PARTNERS account (see
mapnet/federation/accounts.py). Adding or removing one rewrites ``partners.conf`` beside the
region's NATS configuration and has the running server read it again (SIGHUP), without a
restart; a removed partner's connections are closed by the server on that reload.

The register ``partners.json`` keeps each name with the bcrypt hash of its password, which is
shown once, when the partner is added."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt

from contracts.access import PARTNER_KINDS, PartnerKind
from mapnet.federation.accounts import partner_files, partner_inbox
from mapnet.runtime.credentials import SERVICE_USER, write_private

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# The publisher ids under which the MAP itself publishes calendar entries (the portal's
# "map-<region>", the demo's "<region>-map"): a partner of that name would own them.
# The names contracts.publishers.map_publisher gives.
MAP_PUBLISHER = re.compile(r"^map-|-map$|^map$")
REGISTER = "partners.json"


class PartnerError(ValueError):
    """A partner name that is malformed, taken, or unknown."""


@dataclass(frozen=True)
class NewPartner:
    user: str
    password: str
    kind: PartnerKind = "general"

    @property
    def inbox_prefix(self) -> str:
        """The client's inbox prefix: the only subjects this partner may subscribe to."""
        return partner_inbox(self.user)


class PartnerBook:
    def __init__(self, region_home: Path) -> None:
        self.home = region_home

    def list(self) -> dict[str, dict[str, Any]]:
        path = self.home / REGISTER
        known: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        return known

    def add(self, name: str, kind: PartnerKind = "general") -> NewPartner:
        """A new partner user of the account of its kind: a finance partner's requests are
        stamped by the server as a finance partner's (FINANCE_PARTNERS), and only they may
        publish finance offers or list SMEs that need finance."""
        if kind not in PARTNER_KINDS:
            raise PartnerError(f"partner kind {kind!r}: one of {', '.join(PARTNER_KINDS)}")
        if not NAME.match(name):
            raise PartnerError(
                f"partner name {name!r}: lower-case letters, digits, '-' and '_', 1 to 63 long"
            )
        if MAP_PUBLISHER.search(name):
            raise PartnerError(
                f"partner name {name!r} is kept for the MAP's own calendar entries "
                "(names beginning 'map-' or ending '-map')"
            )
        if name == SERVICE_USER:
            # User names are one namespace on the server: a partner "mapnet" would be refused
            # by it on reload (the services' own users have a dot, which partners' names lack).
            raise PartnerError(f"partner name {name!r} is the region's own user")
        known = self.list()
        if name in known:
            raise PartnerError(f"partner {name!r} exists already; remove it first to renew")
        password = secrets.token_urlsafe(24)
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=11)).decode()
        known[name] = {
            "password_bcrypt": hashed,
            "kind": kind,
            "added": datetime.now(UTC).isoformat(),
        }
        self._write(known)
        return NewPartner(name, password, kind)

    def remove(self, name: str) -> None:
        known = self.list()
        if name not in known:
            raise PartnerError(f"no partner {name!r} in this region")
        del known[name]
        self._write(known)

    def _write(self, known: dict[str, dict[str, Any]]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        write_private(self.home / REGISTER, json.dumps(known, indent=2))
        # A partner added before kinds were kept is a general one.
        users = {
            name: (entry.get("kind", "general"), entry["password_bcrypt"])
            for name, entry in known.items()
        }
        for file, text in partner_files(users).items():
            write_private(self.home / file, text)

    def reload_server(self) -> bool:
        """Have the region's NATS server on this machine read its configuration again; False
        if none runs here (then reload it yourself: nats-server --signal reload)."""
        pid_file = self.home / "nats.pid"
        if not pid_file.exists():
            return False
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGHUP)
        except (ProcessLookupError, ValueError):
            return False
        return True
