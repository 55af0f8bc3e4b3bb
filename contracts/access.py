"""Who may do what: the roles of people and systems, and the acting person (``actor``) that
travels with every command and query as an extension attribute of its envelope.

Each operation declares its roles where it is declared (``roles=`` next to ``network=``); the
runtime refuses, with the typed error ``forbidden``, a request whose actor's role is not among
them, before any handler runs. Rules that depend on the record (an SME's contact changes only
their own SME) are the handlers'."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .ids import RegionId

Role = Literal[
    "map_admin", "map_staff", "organiser", "sme", "steering", "partner", "operator", "service"
]  # fmt: skip
ROLES: tuple[Role, ...] = (
    "map_admin", "map_staff", "organiser", "sme", "steering", "partner", "operator", "service"
)  # fmt: skip
ROLE_MEANING: dict[Role, str] = {
    "map_admin": "MAP staff who administer their region: everything staff do, and erasure",
    "map_staff": "MAP staff: register and coach SMEs, publish events, run brokerage events",
    "organiser": "organiser of the events given to them: set up, schedule, publish agendas",
    "sme": "a contact acting for one SME: its profile, offers, partner search, meetings",
    "steering": "the regions' officials: read-only indicators across the network",
    "partner": "a partner system (science park, cluster, chamber, finance provider) with its "
    "own credentials",
    "operator": "the operator of a region: the command line, imports, the demo data",
    "service": "a MAPnet service asking another for what its own work needs",
}

ADMIN: tuple[Role, ...] = ("map_admin",)
STAFF: tuple[Role, ...] = ("map_admin", "map_staff")
PEOPLE: tuple[Role, ...] = ("map_admin", "map_staff", "organiser", "sme", "steering")
EVERYONE: tuple[Role, ...] = ROLES
# What kind of partner system a partner is: the account its user is in on the region's server
# (`mapnet partner add --kind`), so the server vouches for it as it does for the name.
PartnerKind = Literal["general", "finance"]
PARTNER_KINDS: tuple[PartnerKind, ...] = ("general", "finance")


class Actor(BaseModel):
    """The person or system a request acts for. Believed only from the region's own account
    (its services, the portal, the command line); for a partner system the server's stamp of
    its user name replaces whatever the request says."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="User id, email or system name")
    role: Role
    region: RegionId = Field(description="The region the actor belongs to")
    sme_id: str | None = Field(
        default=None, max_length=200, description="With role sme: the SME the contact acts for"
    )
    event_ids: list[str] | None = Field(
        default=None, max_length=1000, description="With role organiser: the events given to them"
    )
    partner_kind: PartnerKind | None = Field(
        default=None,
        description="With role partner: its kind, as the server's stamp says (the account the "
        "partner logs in to); never what a request says",
    )
