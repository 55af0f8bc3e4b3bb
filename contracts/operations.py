"""Every operation a service offers: its subject, its payload schema and, for requests, its reply.

Each operation gets concrete envelope classes (``RegisterSmeCommand``, ``SmeRegisteredEvent``…)
whose ``type`` is a literal, so an unknown type is refused by validation with the field named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, create_model

from .access import Role
from .envelope import ERROR_TYPE, Envelope, ErrorReply
from .subjects import Kind, subject

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)

_SUFFIX = {"cmd": "Command", "query": "Query", "event": "Event"}
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
    envelope: type[Envelope[In]] = field(init=False, repr=False)
    reply_envelope: type[Envelope[Out | ErrorReply]] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        base = _camel(self.name)
        if self.name == "health":
            # Every service answers "health": each its own message, named for its service.
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


def command(
    service: str,
    name: str,
    data: type[In],
    reply: type[Out],
    summary: str,
    *,
    roles: Sequence[Role],
    network: bool = False,
) -> Operation[In, Out]:
    return Operation(service, "cmd", name, data, reply, summary, network, tuple(roles))


def query(
    service: str,
    name: str,
    data: type[In],
    reply: type[Out],
    summary: str,
    *,
    roles: Sequence[Role],
    network: bool = False,
) -> Operation[In, Out]:
    """As ``command``, for a read."""
    return Operation(service, "query", name, data, reply, summary, network, tuple(roles))


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
