"""A region's credentials on this machine: the password its services, the portal and the
command line log in to its NATS server with, made once by `mapnet up` (or a test's servers) and
kept owner-readable under ``.mapnet/<region>/``. With NATS_URL set, the URL carries them."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SERVICE_USER = "mapnet"
FILE = "credentials.json"


def service_password(region_home: Path, *, create: bool = False) -> str | None:
    """The region's service password; made (``create``) if there is none yet."""
    path = region_home / FILE
    if path.exists():
        password: str = json.loads(path.read_text())["password"]
        return password
    if not create:
        return None
    # NATS reads an environment variable as a config value: it must read as a plain string.
    password = "pw" + secrets.token_hex(20)
    region_home.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps({"user": SERVICE_USER, "password": password}))
    return password


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


def with_login(url: str, user: str, password: str) -> str:
    """The URL with a user and password (replacing any it had)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def without_login(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
