"""Subject grammar: mapnet.<region>.<service>.<kind>.<name>, and the JetStream names built on it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["cmd", "query", "event"]
KINDS: tuple[str, ...] = ("cmd", "query", "event")
DLQ_KIND = "dlq"
# An operator sends a dead letter back to the one consumer that gave it up (`mapnet dlq replay`).
REPLAY_KIND = "replay"

_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_REGION = re.compile(r"^[a-z]+$")


def subject(region: str, service: str, kind: str, name: str) -> str:
    if not _REGION.match(region):
        raise ValueError(f"region id must match [a-z]+: {region!r}")
    if not _NAME.match(name):
        raise ValueError(f"name must be one snake_case token: {name!r}")
    return f"mapnet.{region}.{service}.{kind}.{name}"


def service_events(region: str, service: str) -> str:
    """Wildcard of all events one service of one region publishes."""
    return f"mapnet.{region}.{service}.event.>"


def stream_name(region: str, service: str) -> str:
    """One JetStream stream per region and service; the region is in the name so that a region
    can hold sourced copies of other regions' streams beside its own."""
    return f"{region}_{service}".upper()


def dlq_stream(region: str) -> str:
    return f"{region}_DLQ".upper()


def dlq_subject(region: str, service: str, consumer: str) -> str:
    return f"mapnet.{region}.{service}.{DLQ_KIND}.{consumer}"


def dropped_subject(region: str, service: str, consumer: str) -> str:
    """Where a dead letter an operator dropped is kept, with the operator's note (in the same
    stream, out of the list of those waiting)."""
    return f"{dlq_subject(region, service, consumer)}.dropped"


def replay_subject(region: str, service: str, consumer: str) -> str:
    return f"mapnet.{region}.{service}.{REPLAY_KIND}.{consumer}"


@dataclass(frozen=True)
class ParsedSubject:
    region: str
    service: str
    kind: str
    name: str


def parse(subj: str) -> ParsedSubject | None:
    parts = subj.split(".")
    if len(parts) != 5 or parts[0] != "mapnet":
        return None
    return ParsedSubject(*parts[1:])


def shared_stream(region: str) -> str:
    """What a region shares with the network: its services' shared events, sourced from their
    streams in the region's own domain. Other regions source this stream, and only this."""
    return f"{region}_SHARED".upper()


def network_stream(region: str) -> str:
    """A region's copy of what every other region shares, sourced across JetStream domains."""
    return f"{region}_NETWORK".upper()


def inbox_prefix(region: str) -> str:
    """Reply subjects of clients connected in a region. The hub passes a region only the replies
    under its own prefix, so no region receives the answers meant for another's clients; a
    client that sends requests to other regions must use it (nats-py: ``inbox_prefix``)."""
    return f"_INBOX.{region}"
