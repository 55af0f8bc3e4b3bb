"""The facts the seed counts that staff record: an SME presenting at a trade show or congress, an
introduction to a large company (and what came of it), a partnership agreement between science
parks. And how the region's calendar entries and their checked-in attendees, which the events
service records, count among the indicators. No I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from contracts import registry as c
from contracts.errors import Refused, conflict

from .kpis import Counted

# What each fact kind counts as (a field of KpiCounts).
FACT_FIELDS: dict[c.FactKind, str] = {
    "trade_show_presentation": "trade_show_presentations",
    "company_introduction": "company_introductions",
    "park_agreement": "park_agreements",
}
# The calendar entries the indicators count, by the events service's kind. Trade fairs and
# conferences are not counted as such: an SME presenting there is (trade_show_presentation).
ENTRY_FIELDS: dict[str, str] = {
    "brokerage_event": "brokerage_events",
    "training_course": "training_courses",
    "cluster_workshop": "cluster_workshops",
    "road_show": "road_shows",
}


@dataclass(frozen=True)
class Fact:
    fact_id: str
    kind: c.FactKind
    region: str
    happened_on: date
    recorded_by: str
    recorded_at: datetime
    version: int = 1
    sme_id: str | None = None
    clusters: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # Withdrawn by staff as recorded by mistake: listed, never counted.
    withdrawn: dict[str, str] | None = None  # reason, by, command (its key: sent again, same)

    @property
    def markets(self) -> list[str]:
        if self.kind == "park_agreement":
            return list(self.details.get("countries") or [])
        country = self.details.get("country")
        return [country] if country else []

    def counted(self) -> Counted:
        return Counted(FACT_FIELDS[self.kind], self.happened_on, self.clusters, self.markets)

    def view(self) -> c.Fact:
        return c.Fact(
            fact_id=self.fact_id,
            kind=self.kind,
            region=self.region,
            version=self.version,
            happened_on=self.happened_on,
            sme_id=self.sme_id,
            clusters=self.clusters,
            recorded_by=self.recorded_by,
            recorded_at=self.recorded_at,
            **self.details,
            **(
                {"withdrawn": True, "withdrawn_reason": self.withdrawn["reason"],
                 "withdrawn_by": self.withdrawn["by"]}
                if self.withdrawn else {}
            ),
        )  # fmt: skip

    def withdraw(self, reason: str, by: str, command: str, seen: int | None = None) -> Fact:
        """The fact as recorded by mistake: the same, no longer counted. The same command
        again (``command``: its key) finds it withdrawn as it left it; another is refused, as
        is one for a version other than the one its sender saw (``seen``)."""
        if self.withdrawn is not None and self.withdrawn.get("command") == command:
            return self
        if self.withdrawn is not None:
            raise conflict(
                f"fact {self.fact_id} was withdrawn already", reason="withdrawn",
                fact_id=self.fact_id,
            )  # fmt: skip
        if seen is not None and seen != self.version:
            raise changed_meanwhile(replace(self, version=seen))
        withdrawn = {"reason": reason, "by": by, "command": command}
        return replace(self, version=self.version + 1, withdrawn=withdrawn)


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


def same_fact(fact: Fact) -> str:
    """What makes two records the same fact, whoever recorded them and however often: the SME,
    the show (or the company) and the day; the parties (in any order) and the day of an
    agreement. Counted once: a second record of it is refused (``already_recorded``)."""
    if fact.kind == "park_agreement":
        who = "|".join(sorted(_plain(p) for p in fact.details.get("parties") or []))
    else:
        what = fact.details.get("show") if fact.kind == "trade_show_presentation" else None
        who = f"{fact.sme_id}|{_plain(what or fact.details.get('company') or '')}"
    name = f"{fact.region}|{fact.kind}|{who}|{fact.happened_on.isoformat()}"
    return hashlib.sha256(name.encode()).hexdigest()


def already_recorded(fact: Fact, recorded: str) -> Refused:
    return conflict(
        f"this {fact.kind.replace('_', ' ')} is recorded already, as {recorded}: it counts once",
        reason="already_recorded",
        fact_id=recorded,
    )


def changed_meanwhile(before: Fact) -> Refused:
    """Another command changed the fact between reading and writing it (two staff at once)."""
    return conflict(
        f"fact {before.fact_id} changed meanwhile (it was at version {before.version}): "
        "read it again",
        reason="changed", fact_id=before.fact_id, version=before.version,
    )  # fmt: skip


def presentation(
    fact_id: str, region: str, data: c.RecordTradeShowPresentation, sme_clusters: list[str],
    by: str, at: datetime,
) -> Fact:  # fmt: skip
    return Fact(
        fact_id, "trade_show_presentation", region, data.presented_on, by, at,
        sme_id=data.sme_id, clusters=list(sme_clusters),
        details={"show": data.show, "event_id": data.event_id, "country": data.country},
    )  # fmt: skip


def introduction(
    fact_id: str, region: str, data: c.RecordCompanyIntroduction, sme_clusters: list[str],
    by: str, at: datetime, before: Fact | None = None,
) -> Fact:  # fmt: skip
    """A new introduction, or (``before``) the one recorded earlier as it is now told."""
    details = {
        "company": data.company, "country": data.company_country, "outcome": data.outcome
    }  # fmt: skip
    if before is None:
        return Fact(
            fact_id, "company_introduction", region, data.introduced_on, by, at,
            sme_id=data.sme_id, clusters=list(sme_clusters), details=details,
        )  # fmt: skip
    if before.kind != "company_introduction":
        raise Refused(
            "not_found", f"{before.fact_id} is not an introduction", id=before.fact_id
        )  # fmt: skip
    if before.withdrawn is not None:
        raise conflict(
            f"introduction {before.fact_id} was withdrawn: record it anew",
            reason="withdrawn", fact_id=before.fact_id,
        )  # fmt: skip
    return replace(
        before, happened_on=data.introduced_on, recorded_by=by, recorded_at=at,
        version=before.version + 1, sme_id=data.sme_id, clusters=list(sme_clusters),
        details=details,
    )  # fmt: skip


def agreement(
    fact_id: str, region: str, data: c.RecordParkAgreement, by: str, at: datetime
) -> Fact:
    return Fact(
        fact_id, "park_agreement", region, data.signed_on, by, at,
        clusters=list(dict.fromkeys(data.clusters)),
        details={"parties": data.parties, "countries": list(dict.fromkeys(data.countries)),
                 "aim": data.aim},
    )  # fmt: skip


@dataclass(frozen=True)
class CalendarEntry:
    """What the indicators need of one of the region's calendar entries."""

    event_id: str
    kind: str
    starts_on: date
    clusters: list[str]
    country: str
    cancelled: bool


def calendar_counted(entries: dict[str, CalendarEntry], attended: dict[str, str]) -> list[Counted]:
    """Each counted entry once, on the day it starts; each registration checked in at least
    once (``attended``: registration id → event id) once, on its entry's day. Cancelled entries
    and their attendees are not counted."""
    counted = [
        Counted(ENTRY_FIELDS[e.kind], e.starts_on, e.clusters, [e.country])
        for e in entries.values()
        if e.kind in ENTRY_FIELDS and not e.cancelled
    ]
    for event_id in attended.values():
        entry = entries.get(event_id)
        if entry is not None and not entry.cancelled:
            counted.append(
                Counted("event_attendees", entry.starts_on, entry.clusters, [entry.country])
            )
    return counted
