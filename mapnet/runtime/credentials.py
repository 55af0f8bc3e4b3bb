"""A region's credentials on this machine: the passwords its processes log in to its NATS server
with, and the password its cluster's servers log in to each other's routes with, made once by
`mapnet up` (or a test's servers) and kept owner-readable under
``.mapnet/<region>/credentials.json``. With NATS_URL set, the URL carries them.

User ``mapnet`` may do everything in the region's MAPNET account: the operator's command line and
`mapnet serve all` (every service of a region in one process, on one connection) log in as it.
Each service run on its own (`mapnet serve <service>`) logs in as ``mapnet.<service>``, whose
permissions the server derives from the contracts and the service's declaration
(mapnet/federation/accounts.py): a compromised portal cannot delete a stream or publish events."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SERVICE_USER = "mapnet"
FILE = "credentials.json"


def service_user(service: str) -> str:
    """The NATS user one service logs in as. The dot keeps it apart from every partner's name
    (partners' names have none): user names are one namespace on the server."""
    return f"{SERVICE_USER}.{service}"


def service_of(user: str | None) -> str | None:
    """The service a NATS user is the user of, or None (``mapnet`` itself, a partner, none)."""
    prefix = f"{SERVICE_USER}."
    return user.removeprefix(prefix) if user and user.startswith(prefix) else None


def _new() -> str:
    # NATS reads an environment variable as a config value: it must read as a plain string.
    return "pw" + secrets.token_hex(20)


def _read(region_home: Path) -> dict[str, Any]:
    path = region_home / FILE
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return doc


def service_password(region_home: Path, *, create: bool = False) -> str | None:
    """The password of user ``mapnet``; made (``create``) if there is none yet."""
    doc = _read(region_home)
    if "password" in doc:
        return str(doc["password"])
    if not create:
        return None
    doc |= {"user": SERVICE_USER, "password": _new()}
    _write(region_home, doc)
    return str(doc["password"])


def cluster_password(region_home: Path, *, create: bool = False) -> str | None:
    """The password the servers of the region's JetStream cluster log in to each other's route
    port with (user ``route``); made (``create``) if there is none yet. Whoever reaches a route
    port without it is refused: a route is a peer inside the region's account, with no
    permissions to hold it back."""
    doc = _read(region_home)
    if "cluster_password" in doc:
        return str(doc["cluster_password"])
    if not create:
        return None
    doc["cluster_password"] = _new()
    _write(region_home, doc)
    return str(doc["cluster_password"])


def service_passwords(
    region_home: Path, services: Iterable[str], *, create: bool = False
) -> dict[str, str]:
    """Each service's own password (``mapnet.<service>``), by service; those missing are made
    (``create``) and kept beside ``mapnet``'s, else left out."""
    doc = _read(region_home)
    known: dict[str, str] = dict(doc.get("services") or {})
    missing = [s for s in services if s not in known]
    if missing and create:
        known |= {s: _new() for s in missing}
        doc["services"] = known
        if "password" not in doc:
            doc |= {"user": SERVICE_USER, "password": _new()}
        _write(region_home, doc)
    return {s: known[s] for s in services if s in known}


def _write(region_home: Path, doc: dict[str, Any]) -> None:
    private_dir(region_home)
    write_private(region_home / FILE, json.dumps(doc, indent=2))


def private_dir(path: Path) -> Path:
    """A folder only its owner may enter (made, or made so): a region's data, mail and
    secrets live below it, and the embedded database takes connections without a login, so
    its files must not be readable by the machine's other users either."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read: made so, or made so again if it was not (a file
    of secrets or their hashes must never be readable by the machine's other users, even for
    the instant between writing and a chmod)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def servers(url: str) -> list[str]:
    """The servers a NATS URL names: one, or a cluster's nodes separated by commas
    (nats://a:4222,nats://b:4222), each of which a client may connect and reconnect to. A login
    written on the first server only (nats://u:p@a:4222,nats://b:4222) is carried to the others:
    nats-py logs in to each with its own, and the reconnect to b, when a is lost (what the
    cluster is for), would be refused."""
    named = [part.strip() for part in url.split(",") if part.strip()]
    logins = [urlsplit(one).netloc.rpartition("@")[0] for one in named]
    login = next((given for given in logins if given), "")
    if not login:
        return named
    return [
        one
        if given
        else urlunsplit(urlsplit(one)._replace(netloc=f"{login}@{urlsplit(one).netloc}"))
        for one, given in zip(named, logins, strict=True)
    ]


def with_login(url: str, user: str, password: str) -> str:
    """The URL with a user and password (replacing any it had), on each of its servers."""

    def one(server: str) -> str:
        parts = urlsplit(server)
        host = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))

    return ",".join(one(server) for server in servers(url))


def without_login(url: str) -> str:
    def one(server: str) -> str:
        parts = urlsplit(server)
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))

    return ",".join(one(server) for server in servers(url))


def user_of(url: str) -> str | None:
    """The user a NATS URL logs in as, if it carries one (its first server's)."""
    return urlsplit(servers(url)[0]).username if servers(url) else None
