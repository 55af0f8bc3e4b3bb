"""Guide service: the finance link (finance offers, an SME's finance needs, suggestions).

A finance offer (a loan, guarantee, grant, equity or venture debt) is published by a region's MAP
staff or by a finance partner of the region (a partner that `mapnet partner add --kind finance`
made: the server vouches for its kind by the account it logs in to, ``actor.partner_kind``),
under its own stamped identity only and idempotent on (publisher, external id), as calendar
entries are; withdrawn the same way. Offers are shared with every region as they stand
(withdrawn ones too), so that each region suggests the whole network's offers from its own copy.

An SME's finance need is kept by the guide of the SME's home region, for that SME's contacts and
that region's staff only. ``suggest_finance`` weighs every offer against the need and the SME's
facts from the registry (size class, growth class, coaching stage, country): the offers
suggested with the reasons they fit, the others with why they were left out. A finance partner
lists SMEs that need finance only where the SME consented to be shown to finance partners
(``show_to_finance_partners`` in the registry)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

import pycountry
from pydantic import AfterValidator, AwareDatetime, Field, HttpUrl, StringConstraints

from .access import EVERYONE, STAFF
from .common import SINGLE_LINE, CountryCode, Page, SmeRef, _amount_schema
from .envelope import Payload
from .ids import RegionId
from .operations import command, event, query
from .registry import GrowthClass, SizeClass, Stage

FinanceKind = Literal["loan", "guarantee", "grant", "equity", "venture_debt"]
FINANCE_KINDS: tuple[FinanceKind, ...] = ("loan", "guarantee", "grant", "equity", "venture_debt")
Purpose = Literal["internationalisation", "growth", "r_and_d"]
PURPOSES: tuple[Purpose, ...] = ("internationalisation", "growth", "r_and_d")
OfferStatus = Literal["published", "withdrawn"]
# What suggest_finance weighs, each a reason given for or against an offer.
Criterion = Literal[
    "status", "deadline", "size", "growth", "stage", "market", "purpose", "instrument", "amount"
]

SIZES: tuple[SizeClass, ...] = ("micro", "small", "medium")
GROWTH_CLASSES: tuple[GrowthClass, ...] = ("gazelle", "high_growth", "neither", "unknown")
STAGES: tuple[Stage, ...] = ("identified", "selected", "trained", "coached", "internationalised")


def _existing_currency(code: str) -> str:
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{code} is not an ISO 4217 currency code")
    return code


CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_existing_currency),
    Field(description="ISO 4217, e.g. EUR"),
]
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=15, decimal_places=2, description="In the currency given beside it"),
    _amount_schema(15, 2),
]


class FinanceOfferInput(Payload):
    """What a publisher sends: the same external_id again updates the same offer."""

    partner_id: str = Field(
        min_length=1,
        max_length=63,
        description="Who publishes: the MAP (map-<region>) or a finance partner (its user name)",
    )
    external_id: str = Field(
        min_length=1, max_length=200, description="The publisher's own id; same id updates"
    )
    kind: FinanceKind
    title: str = Field(min_length=3, max_length=300, pattern=SINGLE_LINE)
    provider: str = Field(
        min_length=1, max_length=300, pattern=SINGLE_LINE, description="Who lends or grants"
    )
    instrument: str = Field(
        default="",
        max_length=4000,
        description="The instrument's details: terms, collateral, rates, co-financing",
    )
    markets: list[CountryCode] = Field(
        min_length=1,
        max_length=60,
        description="Countries the offer serves: an SME based in one of them, or entering one "
        "of them with its need, may apply",
    )
    sme_sizes: list[SizeClass] = Field(
        default=list(SIZES), min_length=1, max_length=5, description="Eligible EU size classes"
    )
    growth_classes: list[GrowthClass] = Field(
        default=list(GROWTH_CLASSES), min_length=1, max_length=4
    )
    stages: list[Stage] = Field(
        default=list(STAGES), min_length=1, max_length=5, description="Coaching stages eligible"
    )
    purposes: list[Purpose] = Field(default=list(PURPOSES), min_length=1, max_length=3)
    amount_min: Amount = Field(description="Smallest amount lent or granted")
    amount_max: Amount = Field(description="Largest amount; not below amount_min")
    currency: CurrencyCode = "EUR"
    deadline: date | None = Field(
        default=None, description="Last day to apply (inclusive); None: open until withdrawn"
    )
    url: HttpUrl | None = Field(default=None, description="The offer on the provider's site")


class FinanceOffer(FinanceOfferInput):
    offer_id: str
    region: RegionId = Field(description="The offer's home region: only it changes it")
    status: OfferStatus
    version: int
    withdrawn_reason: str = ""
    updated_at: AwareDatetime


class PublishFinanceOffer(FinanceOfferInput):
    pass


class WithdrawFinanceOffer(Payload):
    offer_id: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class GetFinanceOffer(Payload):
    offer_id: str = Field(min_length=1, max_length=100)


class ListFinanceOffers(Page):
    kind: FinanceKind | None = None
    market: CountryCode | None = None
    partner_id: str | None = Field(default=None, max_length=63)
    region: RegionId | None = None
    include_withdrawn: bool = False


class FinanceOfferPage(Payload):
    items: list[FinanceOffer]
    next_cursor: str | None = None


class FinanceNeedTerms(Payload):
    """What an SME needs, in the need's own fields: what a finance partner is shown of it."""

    amount: Amount
    currency: CurrencyCode = "EUR"
    purpose: Purpose
    instruments: list[FinanceKind] = Field(
        default_factory=list, max_length=5, description="Instruments wanted; empty: any"
    )
    by_when: date = Field(description="The day the money is needed by")
    target_markets: list[CountryCode] = Field(
        default_factory=list, max_length=60, description="Markets the SME is entering with it"
    )


class FinanceNeedInput(FinanceNeedTerms):
    note: str = Field(default="", max_length=2000)


class SetFinanceNeed(FinanceNeedInput):
    sme: SmeRef = Field(description="The SME, of this region")


class ClearFinanceNeed(Payload):
    sme: SmeRef


class GetFinanceNeed(Payload):
    sme: SmeRef


class FinanceNeed(FinanceNeedInput):
    sme: SmeRef
    version: int
    set_by: str = Field(description="Who set it last (the acting person)")
    updated_at: AwareDatetime


class SuggestFinance(Payload):
    sme: SmeRef = Field(description="The SME, of this region")


class SmeFinanceFacts(Payload):
    """What eligibility weighs of the SME, as its registry says now."""

    country: CountryCode
    size_class: SizeClass
    growth_class: GrowthClass
    stage: Stage


class Reason(Payload):
    criterion: Criterion
    fits: bool
    message: str


class OfferWeighed(Payload):
    offer: FinanceOffer
    reasons: list[Reason] = Field(
        description="Suggested: why it fits, criterion by criterion; left out: why not (at "
        "least one)"
    )


class FinanceSuggestions(Payload):
    sme: SmeRef
    facts: SmeFinanceFacts
    need: FinanceNeed | None = Field(
        default=None, description="None: no need set; amount, purpose and instrument not weighed"
    )
    on: date = Field(description="The day the deadlines were weighed on (UTC)")
    suggested: list[OfferWeighed] = Field(description="Eligible offers, nearest deadline first")
    left_out: list[OfferWeighed]


class ListSmesNeedingFinance(Page):
    purpose: Purpose | None = None
    instrument: FinanceKind | None = None


class ListedFinanceNeed(FinanceNeedTerms):
    """A need as listed to finance partners and staff: never who set it (a person's address);
    the SME's consent covers its need, not the people who wrote it."""

    version: int
    updated_at: AwareDatetime


class SmeNeedingFinance(Payload):
    sme: SmeRef
    legal_name: str
    facts: SmeFinanceFacts
    need: ListedFinanceNeed
    note: str | None = Field(
        default=None,
        description="The need's free-text note: to the region's staff only (a person writes it "
        "without being told partners read it, and it may name people); None to a partner",
    )


class SmesNeedingFinancePage(Payload):
    items: list[SmeNeedingFinance]
    next_cursor: str | None = None


# --- events --------------------------------------------------------------------------------


class FinanceOfferWithdrawn(Payload):
    offer_id: str
    region: RegionId
    partner_id: str
    reason: str


S = "guide"
_PUBLISHER = (
    "a partner publishes only under its own partner_id and only if it is a finance partner "
    "(details.partner_kind; `mapnet partner add --kind finance`); staff and operators only "
    "in their own region and as its MAP (partner_id map-<region>)"
)
PUBLISH_FINANCE_OFFER = command(
    S,
    "publish_finance_offer",
    PublishFinanceOffer,
    FinanceOffer,
    "Add or update a finance offer (same publisher and external_id: the same offer)",
    roles=(*STAFF, "partner", "operator"),
    refusals={
        "forbidden": _PUBLISHER,
        "not_home": (
            "this publisher's offer with this external_id is another region's read copy: only "
            "details.region publishes it"
        ),
        "conflict": "the offer is withdrawn, or changed meanwhile; read it and send again; or "
        "a new offer while its publisher holds details.limit published ones "
        "(MAPNET_GUIDE_OFFERS_PER_PUBLISHER)",
        "validation_failed": "also: amount_max below amount_min, a deadline already past",
    },
)
WITHDRAW_FINANCE_OFFER = command(
    S,
    "withdraw_finance_offer",
    WithdrawFinanceOffer,
    FinanceOffer,
    "Withdraw a finance offer (every region's copy shows it withdrawn)",
    roles=(*STAFF, "partner"),
    refusals={
        "not_found": "no offer with this id",
        "not_home": "the offer is another region's read copy; send the command to details.region",
        "forbidden": _PUBLISHER.replace("publishes", "withdraws"),
    },
)
GET_FINANCE_OFFER = query(
    S,
    "get_finance_offer",
    GetFinanceOffer,
    FinanceOffer,
    "One finance offer (this region's or a copy of another's)",
    roles=EVERYONE,
    refusals={"not_found": "no offer with this id here (nor a read copy of one)"},
)
LIST_FINANCE_OFFERS = query(
    S,
    "list_finance_offers",
    ListFinanceOffers,
    FinanceOfferPage,
    "The network's finance offers, nearest deadline first",
    roles=EVERYONE,
)
_SME_OWN = "a contact only for their own SME (data.sme); staff only for their own region's SMEs"
SET_FINANCE_NEED = command(
    S,
    "set_finance_need",
    SetFinanceNeed,
    FinanceNeed,
    "Set (or replace) an SME's finance need",
    roles=(*STAFF, "sme"),
    refusals={
        "forbidden": _SME_OWN,
        "not_home": "the SME is another region's: its need is kept there (details.region)",
        "not_found": "no SME with this id in this region (the registry says)",
        "validation_failed": "also: by_when in the past",
    },
)
CLEAR_FINANCE_NEED = command(
    S,
    "clear_finance_need",
    ClearFinanceNeed,
    FinanceNeed,
    "Remove an SME's finance need (met, or no longer wanted); answers the need removed",
    roles=(*STAFF, "sme"),
    refusals={
        "forbidden": _SME_OWN,
        "not_home": "the SME is another region's: its need is kept there (details.region)",
        "not_found": "the SME has no finance need",
    },
)
GET_FINANCE_NEED = query(
    S,
    "get_finance_need",
    GetFinanceNeed,
    FinanceNeed,
    "An SME's finance need",
    roles=(*STAFF, "sme"),
    refusals={
        "forbidden": _SME_OWN,
        "not_home": "the SME is another region's: its need is kept there (details.region)",
        "not_found": "the SME has no finance need",
    },
)
SUGGEST_FINANCE = query(
    S,
    "suggest_finance",
    SuggestFinance,
    FinanceSuggestions,
    "The offers an SME is eligible for, with the reasons, and those left out with why",
    roles=(*STAFF, "sme"),
    refusals={
        "forbidden": _SME_OWN,
        "not_home": "the SME is another region's: ask details.region",
        "not_found": "no SME with this id in this region (the registry says)",
    },
)
LIST_SMES_NEEDING_FINANCE = query(
    S,
    "list_smes_needing_finance",
    ListSmesNeedingFinance,
    SmesNeedingFinancePage,
    "This region's SMEs with a finance need; to a finance partner only those that consented "
    "to be shown to finance partners",
    roles=(*STAFF, "partner"),
    refusals={
        "forbidden": "a partner that is not a finance partner (details.partner_kind)",
    },
)

FINANCE_OFFER_PUBLISHED = event(
    S, "finance_offer_published", FinanceOffer, "A finance offer was published or updated"
)
FINANCE_OFFER_WITHDRAWN = event(
    S, "finance_offer_withdrawn", FinanceOfferWithdrawn, "A finance offer was withdrawn"
)
FINANCE_OFFER_SHARED = event(
    S,
    "finance_offer_shared",
    FinanceOffer,
    "A finance offer as it now stands (withdrawn ones too), for every region's copy",
    shared=True,
)
