"""The finance link's rules: a finance offer (publish, withdraw, shared as it stands), who may
publish it or read an SME's finance need, and which offers an SME is eligible for, with the
reasons for and against each.

No I/O here: the offer checks its rules and records the events its changes cause; eligibility
is a pure function of the offers, the SME's facts, its need and the day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from contracts import finance as c
from contracts.access import STAFF, Actor
from contracts.common import SmeRef
from contracts.errors import Refused, forbidden_field
from contracts.publishers import check_partner_acts_as_itself, map_publisher

Recorded = tuple[Any, Any]  # (operation, payload)


def field_error(name: str, message: str, kind: str = "value_error") -> dict[str, str]:
    return {"field": f"data.{name}", "message": message, "type": kind}


def invalid(*errors: dict[str, str]) -> Refused:
    return Refused(
        "validation_failed",
        "; ".join(f"{e['field']}: {e['message']}" for e in errors),
        fields=list(errors),
    )


# --- rules beyond the schema --------------------------------------------------------------


def offer_problems(data: Any, today: date) -> list[dict[str, str]]:
    """An offer's rules beyond its schema, on the raw body too (so that one answer names them
    beside the schema's problems): the amount range, and a deadline not already past."""
    if not isinstance(data, dict):
        return []
    problems = []
    low, high = _number(data.get("amount_min")), _number(data.get("amount_max"))
    if low is not None and high is not None and high < low:
        problems.append(field_error("amount_max", "below amount_min"))
    deadline = _day(data.get("deadline"))
    if deadline is not None and deadline < today:
        problems.append(field_error("deadline", f"{deadline} has passed", "date_past"))
    return problems


def need_problems(data: Any, today: date) -> list[dict[str, str]]:
    """A need's rule beyond its schema: by_when not already past."""
    by_when = _day(data.get("by_when")) if isinstance(data, dict) else None
    if by_when is not None and by_when < today:
        return [field_error("by_when", f"{by_when} has passed", "date_past")]
    return []


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def require(problems: list[dict[str, str]]) -> None:
    if problems:
        raise invalid(*problems)


# --- who may ------------------------------------------------------------------------------


def check_publisher(
    actor: Actor | None, partner_id: str, region: str, field: str = "data.partner_id"
) -> None:
    """Offers are published and withdrawn under the publisher's own stamped identity only: a
    partner only if the server vouches it is a finance partner, and under its own partner id;
    staff and operators as their region's MAP (map-<region>), never as a partner (an offer
    under a bank's name that the bank did not publish). ``field``: what names the publisher
    in the command (a withdrawal names the offer)."""
    if actor is None:
        return
    if actor.role == "partner":
        check_finance_partner(actor)
        check_partner_acts_as_itself(actor, partner_id, field)
        return
    check_home_staff(actor, region)
    if partner_id != (own := map_publisher(region)):
        raise forbidden_field(
            f"{actor.role} {actor.id} publishes only as the region's MAP, partner_id {own!r}; "
            f"{partner_id!r} publishes its own offers",
            field,
            partner_id=partner_id,
        )


def foreign_publisher(offer: c.FinanceOffer) -> str | None:
    """Why a shared offer names a publisher its region cannot publish as, or None. A region's
    offers are its MAP's (map-<region>) or its finance partners' (partner names never start
    with 'map-': `mapnet partner add` refuses them); one shared under another region's MAP is
    forged or faulty, shown as that MAP's offer everywhere it is kept."""
    if offer.partner_id.startswith("map-") and offer.partner_id != map_publisher(offer.region):
        return f"region {offer.region} shared an offer as {offer.partner_id}"
    return None


def check_finance_partner(actor: Actor) -> None:
    if actor.role == "partner" and actor.partner_kind != "finance":
        raise Refused(
            "forbidden",
            f"partner {actor.id} is not a finance partner (mapnet partner add --kind finance)",
            partner_kind=actor.partner_kind or "general",
        )


def check_home_staff(actor: Actor | None, region: str) -> None:
    if actor is not None and actor.role in STAFF and actor.region != region:
        raise Refused(
            "forbidden", f"staff of {actor.region} act only in their own region, not in {region}"
        )


def check_sme_reader(actor: Actor | None, sme: SmeRef, region: str) -> None:
    """An SME's finance need is its own contacts' and its region's staff's: nobody else sets or
    reads it, and it is kept by the guide of the SME's home region only."""
    if sme.region != region:
        raise Refused(
            "not_home",
            f"SME {sme.key} is region {sme.region}'s: its finance need is kept there",
            region=sme.region,
        )
    if actor is None:
        return
    if actor.role == "sme" and (actor.region, actor.sme_id) != (sme.region, sme.sme_id):
        raise forbidden_field(
            f"a contact acts only for their own SME ({actor.region}:{actor.sme_id})", "data.sme"
        )
    if actor.role in STAFF and actor.region != sme.region:
        raise forbidden_field(
            f"staff of {actor.region} act only for their own region's SMEs", "data.sme"
        )


# --- finance offers -----------------------------------------------------------------------


@dataclass
class Offer:
    offer_id: str
    region: str
    data: c.FinanceOfferInput
    status: c.OfferStatus
    version: int
    updated_at: datetime
    withdrawn_reason: str = ""
    events: list[Recorded] = field(default_factory=list)

    @classmethod
    def publish(
        cls,
        offer_id: str,
        region: str,
        data: c.FinanceOfferInput,
        previous: Offer | None,
        now: datetime,
    ) -> Offer:
        """A new offer, or the next version of the one the publisher sent before under the
        same external id. The same content again changes nothing and records nothing; a
        withdrawn offer is not published again (a new external id is a new offer)."""
        require(offer_problems(data.model_dump(mode="json"), now.date()))
        data = c.FinanceOfferInput.model_validate(data.model_dump())
        if previous is not None:
            if previous.status == "withdrawn":
                raise Refused(
                    "conflict",
                    f"offer {offer_id} was withdrawn; publish it under a new external_id",
                    id=offer_id,
                )
            if previous.data == data:
                return previous
        offer = cls(
            offer_id=offer_id,
            region=region,
            data=data,
            status="published",
            version=previous.version + 1 if previous else 1,
            updated_at=now,
        )
        offer.events.append((c.FINANCE_OFFER_PUBLISHED, offer.view()))
        offer.events.append((c.FINANCE_OFFER_SHARED, offer.view()))
        return offer

    def withdraw(self, reason: str, now: datetime) -> None:
        """Withdrawn once; withdrawing again changes nothing (the same answer)."""
        if self.status == "withdrawn":
            return
        self.status = "withdrawn"
        self.withdrawn_reason = reason
        self.version += 1
        self.updated_at = now
        withdrawn = c.FinanceOfferWithdrawn(
            offer_id=self.offer_id, region=self.region, partner_id=self.data.partner_id,
            reason=reason,
        )  # fmt: skip
        self.events.append((c.FINANCE_OFFER_WITHDRAWN, withdrawn))
        self.events.append((c.FINANCE_OFFER_SHARED, self.view()))

    def view(self) -> c.FinanceOffer:
        return c.FinanceOffer(
            **self.data.model_dump(),
            offer_id=self.offer_id,
            region=self.region,
            status=self.status,
            version=self.version,
            withdrawn_reason=self.withdrawn_reason,
            updated_at=self.updated_at,
        )

    @classmethod
    def from_view(cls, view: c.FinanceOffer) -> Offer:
        data = c.FinanceOfferInput.model_validate(
            view.model_dump(include=set(c.FinanceOfferInput.model_fields))
        )
        return cls(
            offer_id=view.offer_id,
            region=view.region,
            data=data,
            status=view.status,
            version=view.version,
            updated_at=view.updated_at,
            withdrawn_reason=view.withdrawn_reason,
        )


# --- eligibility --------------------------------------------------------------------------


def weigh(
    offer: c.FinanceOffer, facts: c.SmeFinanceFacts, need: c.FinanceNeed | None, today: date
) -> list[c.Reason]:
    """Every criterion of the offer against the SME, each a reason that fits or not. Without
    a need, amount, purpose and instrument are not weighed (nothing to weigh them against)."""
    reasons = [
        _reason(
            "status",
            offer.status == "published",
            "published" if offer.status == "published" else "withdrawn by its publisher",
        ),
        _reason(
            "deadline",
            offer.deadline is None or offer.deadline >= today,
            "open until withdrawn"
            if offer.deadline is None
            else f"apply by {offer.deadline}"
            if offer.deadline >= today
            else f"the deadline {offer.deadline} has passed",
        ),
        _within("size", facts.size_class, offer.sme_sizes, "size class"),
        _within("growth", facts.growth_class, offer.growth_classes, "growth class"),
        _within("stage", facts.stage, offer.stages, "coaching stage"),
        _market(offer, facts, need),
    ]
    if need is not None:
        reasons.append(_within("purpose", need.purpose, offer.purposes, "purpose"))
        wanted = need.instruments
        reasons.append(
            _reason(
                "instrument",
                not wanted or offer.kind in wanted,
                f"{offer.kind} is "
                + ("wanted" if offer.kind in wanted else "not among " + ", ".join(wanted))
                if wanted
                else f"{offer.kind}: any instrument wanted",
            )
        )
        reasons.append(_amount(offer, need))
    return reasons


def _reason(criterion: c.Criterion, fits: bool, message: str) -> c.Reason:
    return c.Reason(criterion=criterion, fits=fits, message=message)


def _within(criterion: c.Criterion, value: str, allowed: list[Any], what: str) -> c.Reason:
    fits = value in allowed
    said = "among" if fits else "not among"
    return _reason(criterion, fits, f"{what} {value} is {said} {', '.join(allowed)}")


def _market(
    offer: c.FinanceOffer, facts: c.SmeFinanceFacts, need: c.FinanceNeed | None
) -> c.Reason:
    """The offer serves the SME's own country, or a market it is entering with its need."""
    if facts.country in offer.markets:
        return _reason("market", True, f"serves SMEs of {facts.country}")
    entering = [m for m in (need.target_markets if need else []) if m in offer.markets]
    if entering:
        return _reason("market", True, f"serves {', '.join(entering)}, where the SME is going")
    return _reason(
        "market", False, f"serves {', '.join(offer.markets)}, not {facts.country} nor the "
        "markets of the need",
    )  # fmt: skip


def _amount(offer: c.FinanceOffer, need: c.FinanceNeed) -> c.Reason:
    if need.currency != offer.currency:
        return _reason(
            "amount", False, f"the offer is in {offer.currency}, the need in {need.currency}"
        )
    fits = offer.amount_min <= need.amount <= offer.amount_max
    span = f"{offer.amount_min} to {offer.amount_max} {offer.currency}"
    said = "within" if fits else "outside"
    return _reason("amount", fits, f"{need.amount} {need.currency} is {said} {span}")


def suggest(
    offers: list[c.FinanceOffer],
    facts: c.SmeFinanceFacts,
    need: c.FinanceNeed | None,
    today: date,
) -> tuple[list[c.OfferWeighed], list[c.OfferWeighed]]:
    """The offers the SME is eligible for (every criterion fits), nearest deadline first, each
    with why; and the others with the criteria that did not fit (at least one)."""
    suggested, left_out = [], []
    for offer in offers:
        reasons = weigh(offer, facts, need, today)
        failed = [r for r in reasons if not r.fits]
        if failed:
            left_out.append(c.OfferWeighed(offer=offer, reasons=failed))
        else:
            suggested.append(c.OfferWeighed(offer=offer, reasons=reasons))
    suggested.sort(key=lambda w: (w.offer.deadline or date.max, w.offer.title, w.offer.offer_id))
    left_out.sort(key=lambda w: (w.offer.title, w.offer.offer_id))
    return suggested, left_out
