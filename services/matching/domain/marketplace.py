"""A brokerage event's marketplace: who comes, and what each offers and seeks, as one viewer may
see it. Only published, unexpired, non-private profiles; no personal data at all (the read model
holds none: SMEs as the registry's public view, profiles as published). No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts import matching as c
from contracts.common import SmeRef


@dataclass(frozen=True)
class Wanted:
    """The marketplace's filters, each optional."""

    country: str | None = None
    cluster: str | None = None
    profile_type: str | None = None
    text: str | None = None
    sme: str | None = None  # a participant's key, region:sme_id


def shown_to(sme: dict[str, Any] | None, viewer_region: str) -> bool:
    """A company is named to people of its own region, and beyond it only with its consent to
    share with the network (the rule of partner search)."""
    return sme is not None and (
        sme["region"] == viewer_region or bool(sme.get("share_with_network"))
    )


def published(profile: dict[str, Any], today: date) -> bool:
    return (
        profile.get("status") == "published"
        and profile.get("visibility") != "private"
        and date.fromisoformat(profile["expires_on"]) >= today
    )


def participant(
    joined: dict[str, Any],
    sme: dict[str, Any] | None,
    profiles: list[dict[str, Any]],
    viewer_region: str,
    today: date,
) -> c.Participant:
    ref = SmeRef.model_validate(joined["sme"])
    remote = bool(joined.get("remote"))
    if sme is None or not shown_to(sme, viewer_region):
        return c.Participant(sme=ref, remote=remote)
    return c.Participant(
        sme=ref,
        legal_name=sme["legal_name"],
        country=sme.get("country"),
        clusters=list(sme.get("clusters", [])),
        description=sme.get("description", ""),
        remote=remote,
        profiles=[
            c.ParticipantProfile(
                profile_id=p["profile_id"],
                type=p["type"],
                title=p["title"],
                summary=p["summary"],
                keywords=list(p.get("keywords", [])),
                target_countries=list(p.get("target_countries", [])),
            )
            for p in sorted(profiles, key=lambda p: (p["type"], p["title"]))
            if published(p, today)
        ],
    )


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def fits(p: c.Participant, wanted: Wanted) -> bool:
    if wanted.sme is not None and p.sme.key != wanted.sme:
        return False
    if wanted.country is not None and p.country != wanted.country:
        return False
    if wanted.cluster is not None and wanted.cluster not in p.clusters:
        return False
    if wanted.profile_type is not None and all(x.type != wanted.profile_type for x in p.profiles):
        return False
    if wanted.text:
        said = " ".join(
            [p.legal_name, p.description, *p.clusters]
            + [f"{x.title} {x.summary} {' '.join(x.keywords)}" for x in p.profiles]
        ).lower()
        return all(word in said for word in _words(wanted.text))
    return True


def ordered(found: list[c.Participant]) -> list[c.Participant]:
    """Named companies by name, then those shown only by region; stable across pages."""
    return sorted(found, key=lambda p: (p.legal_name == "", p.legal_name.lower(), p.sme.key))
