"""Every operation a service offers: its subject, its payload schema and, for requests, its reply.

Each operation gets concrete envelope classes (``RegisterSmeCommand``, ``SmeRegisteredEvent``…)
whose ``type`` is a literal, so an unknown type is refused by validation with the field named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, create_model

from .access import Role
from .envelope import ERROR_TYPE, Envelope, ErrorCode, ErrorReply
from .subjects import Kind, subject

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)

_SUFFIX = {"cmd": "Command", "query": "Query", "event": "Event"}

# Operations every service offers under the same name.
_EVERY_SERVICE = frozenset({"health", "list_audit"})

# What an operation's own refusals mean there; the codes every request may meet are below.
Refusals = Mapping[ErrorCode, str]
_ANY_REQUEST: dict[ErrorCode, str] = {
    "invalid_json": "the body is not a JSON envelope (or is nested too deep to read)",
    "unknown_type": "the envelope's type is not this operation's",
    "validation_failed": "a field breaks the schema or a rule; details.fields names every "
    "bad field at once (field, message, type)",
    "forbidden": "the caller's role may not send this operation",
    "internal": "the service failed while handling it; the same envelope may be sent again",
}
_COMMAND: dict[ErrorCode, str] = {
    "id_reused": "this caller sent this envelope id before with other content; a repeat "
    "must be the same envelope",
}
_PAGED: dict[ErrorCode, str] = {
    "invalid_cursor": "the cursor is not one this service gave out",
}
_NETWORK: dict[ErrorCode, str] = {
    "region_unavailable": "answered by MAPnet's client when the region gives no answer: "
    "details.reason is 'no_responders' when nobody listens for the subject (NATS says so at "
    "once: the region is cut off or down, or does not take this operation from here) or "
    "'timeout' when no answer came within details.timeout_s (a listener is slow or stuck, or "
    "the caller's server would not carry the request: a permissions violation, told to the "
    "connection only; a command may still be carried out: send the same envelope again); "
    "details.region and details.subject name "
    "where it was sent; try again later",
}
CATALOGUE: dict[str, Operation[Any, Any]] = {}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _envelope_class(
    name: str, data: Any, type_names: tuple[str, ...], doc: str
) -> type[Envelope[Any]]:
    type_literal: Any = Literal[type_names]
    model = create_model(
        name,
        __base__=Envelope[data],
        __doc__=doc,
        type=(type_literal, type_names[0]),
    )
    return cast(type[Envelope[Any]], model)


@dataclass(frozen=True)
class Operation(Generic[In, Out]):
    service: str
    kind: Kind
    name: str
    data: type[In]
    reply: type[Out] | None = None
    summary: str = ""
    # A command or query other regions may send here, or an event shared with (sourced into)
    # the other regions. Nothing else crosses the hub: deploy/ derives its permissions from this.
    network: bool = False
    # Who may send a command or query (contracts/access.py); the runtime enforces it.
    roles: tuple[Role, ...] = ()
    # Error codes of this operation's own rules, with what each means here.
    refusals: tuple[tuple[ErrorCode, str], ...] = ()
    envelope: type[Envelope[In]] = field(init=False, repr=False)
    reply_envelope: type[Envelope[Out | ErrorReply]] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        base = _camel(self.name)
        if self.name in _EVERY_SERVICE:
            # Every service answers these: each its own message, named for its service.
            base = _camel(self.service) + base
        env = _envelope_class(base + _SUFFIX[self.kind], self.data, (self.type,), self.summary)
        object.__setattr__(self, "envelope", env)
        reply_env = None
        if self.reply is not None:
            reply_env = _envelope_class(
                base + "Reply",
                self.reply | ErrorReply,
                (self.reply_type, ERROR_TYPE),
                f"Answer to {self.name}: the result, or an error.",
            )
        object.__setattr__(self, "reply_envelope", reply_env)
        key = f"{self.service}.{self.kind}.{self.name}"
        if key in CATALOGUE:
            raise ValueError(f"operation declared twice: {key}")
        CATALOGUE[key] = self

    @property
    def type(self) -> str:
        return f"eu.mapnet.{self.service}.{self.name}.v1"

    @property
    def reply_type(self) -> str:
        return f"eu.mapnet.{self.service}.{self.name}.reply.v1"

    def subject(self, region: str) -> str:
        return subject(region, self.service, self.kind, self.name)

    def error_codes(self) -> dict[ErrorCode, str]:
        """Every error code a command or query can answer, with what it means here."""
        if self.kind == "event":
            return {}
        codes = dict(_ANY_REQUEST)
        if self.kind == "cmd":
            codes |= _COMMAND
        if "cursor" in self.data.model_fields:
            codes |= _PAGED
        if self.network:
            codes |= _NETWORK
        for code, meaning in self.refusals:
            codes[code] = f"{codes[code]}; {meaning}" if code in codes else meaning
        return codes


def command(
    service: str,
    name: str,
    data: type[In],
    reply: type[Out],
    summary: str,
    *,
    roles: Sequence[Role],
    network: bool = False,
    refusals: Refusals | None = None,
) -> Operation[In, Out]:
    return Operation(
        service, "cmd", name, data, reply, summary, network, tuple(roles), _pairs(refusals)
    )


def query(
    service: str,
    name: str,
    data: type[In],
    reply: type[Out],
    summary: str,
    *,
    roles: Sequence[Role],
    network: bool = False,
    refusals: Refusals | None = None,
) -> Operation[In, Out]:
    """As ``command``, for a read."""
    return Operation(
        service, "query", name, data, reply, summary, network, tuple(roles), _pairs(refusals)
    )


def _pairs(refusals: Refusals | None) -> tuple[tuple[ErrorCode, str], ...]:
    return tuple((refusals or {}).items())


def event(
    service: str, name: str, data: type[In], summary: str, *, shared: bool = False
) -> Operation[In, BaseModel]:
    return Operation(service, "event", name, data, None, summary, shared)


def network_requests() -> list[Operation[Any, Any]]:
    """Commands and queries a region may send to another region."""
    return [op for op in CATALOGUE.values() if op.kind != "event" and op.network]


def shared_events() -> list[Operation[Any, Any]]:
    """Events a region shares: sourced into every other region's network stream."""
    return [op for op in CATALOGUE.values() if op.kind == "event" and op.network]


def operations_of(service: str) -> list[Operation[Any, Any]]:
    return [op for op in CATALOGUE.values() if op.service == service]
