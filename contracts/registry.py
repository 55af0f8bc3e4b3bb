"""Registry service: SMEs, contacts, cooperation profiles, the coaching journey, success stories."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, HttpUrl, StringConstraints

from .access import ADMIN, STAFF
from .common import (
    SINGLE_LINE,
    Accepted,
    CountryCode,
    Euro,
    Keyword,
    LanguageCode,
    NaceCode,
    Page,
    SearchText,
    Share,
    SmeRef,
    Visibility,
    WorkUnits,
)
from .envelope import ErrorBody, ErrorCode, Payload
from .operations import command, event, query

SizeClass = Literal["micro", "small", "medium", "not_sme", "unknown"]
GrowthClass = Literal["gazelle", "high_growth", "neither", "unknown"]
Stage = Literal["identified", "selected", "trained", "coached", "internationalised"]
ProfileType = Literal[
    "business_offer", "business_request", "technology_offer", "technology_request", "rd_request"
]
# in_review: published by a company's contact in a region that reviews profiles first (the
# registry's MAPNET_PROFILE_REVIEW): waiting for staff to approve it or send it back.
ProfileStatus = Literal["draft", "in_review", "published", "expired", "withdrawn"]
PartnershipType = Literal[
    "commercial_agreement",
    "distribution",
    "licence",
    "joint_venture",
    "research_cooperation",
    "subcontracting",
    "technical_cooperation",
    "financial_agreement",
    "outsourcing",
]


class YearlyFigures(Payload):
    year: int = Field(ge=1900, le=2100)
    staff_headcount: WorkUnits
    turnover_eur: Euro | None = None
    balance_sheet_eur: Euro | None = None
    export_share: Share | None = None


class ContactInput(Payload):
    name: str = Field(min_length=1, max_length=200, pattern=SINGLE_LINE)
    role: str = Field(default="", max_length=100)
    email: EmailStr
    language: LanguageCode = "en"
    consent_contact: bool = False
    consent_share_network: bool = False


class Contact(ContactInput):
    id: str
    consent_contact_at: datetime | None = None
    consent_share_network_at: datetime | None = None


class SmeFields(Payload):
    legal_name: str = Field(min_length=1, max_length=300, pattern=SINGLE_LINE)
    registration_number: str = Field(min_length=1, max_length=40)
    vat_id: str | None = Field(default=None, max_length=20)
    country: CountryCode
    address: str = Field(default="", max_length=500)
    website: HttpUrl | None = None
    founded_on: date | None = None
    nace_codes: list[NaceCode] = Field(default_factory=list, max_length=20)
    clusters: list[Keyword] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=4000)
    keywords: list[Keyword] = Field(default_factory=list, max_length=50)
    figures: list[YearlyFigures] = Field(default_factory=list, max_length=50)
    share_with_network: bool = Field(
        default=False,
        description="The company consents to its profile being shown to other regions",
    )
    show_to_finance_partners: bool = Field(
        default=False,
        description="The company consents to being shown, with its finance need, to the "
        "region's finance partners (guide: list_smes_needing_finance)",
    )


class RegisterSme(SmeFields):
    contacts: list[ContactInput] = Field(default_factory=list, max_length=50)


# The most rows one register_smes carries: enough that a command's fixed cost (its envelope,
# access check, reply cache claim, audit entry) is shared by hundreds of SMEs, few enough that
# a batch stays well inside a NATS message (1 MB) and its answer comes within seconds.
MAX_SMES_PER_BATCH = 500


class SmeRow(Payload):
    id: str = Field(
        min_length=1,
        max_length=200,
        description="The row's own id, as a register_sme command's id: the same row sent again "
        "by the same caller (in this batch or any other, or as a register_sme with this id) is "
        "a repeat, answered with the SME it registered; the same id with other content is "
        "refused (id_reused)",
    )
    sme: RegisterSme


class RegisterSmes(Payload):
    """Many SMEs at once (an import): each row is registered as register_sme would register
    it, on its own; one row's refusal does not stop the others."""

    rows: list[SmeRow] = Field(min_length=1, max_length=MAX_SMES_PER_BATCH)


RowOutcome = Literal["registered", "near_duplicate", "refused"]


class SmeRowResult(Payload):
    id: str = Field(description="The row's id")
    outcome: RowOutcome = Field(
        description="registered; near_duplicate: registered, with SMEs of a similar name "
        "(near_duplicates); refused: not registered, error says why"
    )
    sme_id: str | None = Field(default=None, description="The SME registered (or found again)")
    near_duplicates: list[str] = Field(default_factory=list, description="Ids of similar names")
    repeated: bool = Field(
        default=False, description="The row was registered before: its SME, nothing written"
    )
    error: ErrorBody | None = Field(
        default=None,
        description="Why a row was refused, as register_sme would answer it: validation_failed "
        "(details.fields names each problem, as data.<field>), duplicate "
        "(details.existing_sme_id), id_reused",
    )


class SmesRegistered(Payload):
    rows: list[SmeRowResult] = Field(description="One per row, in the order of the rows")


class SmeChanges(Payload):
    """Only the fields given are changed."""

    legal_name: str | None = Field(default=None, min_length=1, max_length=300, pattern=SINGLE_LINE)
    vat_id: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=500)
    website: HttpUrl | None = None
    founded_on: date | None = None
    nace_codes: list[NaceCode] | None = Field(default=None, max_length=20)
    clusters: list[Keyword] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=4000)
    keywords: list[Keyword] | None = Field(default=None, max_length=50)
    figures: list[YearlyFigures] | None = Field(default=None, max_length=50)
    share_with_network: bool | None = None
    show_to_finance_partners: bool | None = None
    contacts: list[ContactInput] | None = Field(default=None, max_length=50)


class UpdateSme(Payload):
    sme_id: str
    expected_version: int = Field(ge=1)
    changes: SmeChanges


class SizeClassification(Payload):
    """The EU SME size class with the inputs that decided it."""

    value: SizeClass
    reasons: list[str]


class GrowthClassification(Payload):
    """High growth (Eurostat-OECD) or gazelle, with the yearly figures that decided it."""

    value: GrowthClass
    reasons: list[str]


class StageChange(Payload):
    from_stage: Stage | None
    to_stage: Stage
    actor: str
    reason: str
    at: datetime


class ProfileInput(Payload):
    profile_id: str | None = Field(default=None, description="Given to update an existing profile")
    type: ProfileType
    title: str = Field(min_length=3, max_length=200, pattern=SINGLE_LINE)
    summary: str = Field(min_length=1, max_length=1000)
    description: str = Field(default="", max_length=10000)
    keywords: list[Keyword] = Field(default_factory=list, max_length=30)
    nace_codes: list[NaceCode] = Field(default_factory=list, max_length=20)
    target_countries: list[CountryCode] = Field(default_factory=list, max_length=60)
    partnership_types: list[PartnershipType] = Field(min_length=1, max_length=10)
    visibility: Visibility = "network"
    expires_on: date


class Profile(ProfileInput):
    profile_id: str
    status: ProfileStatus
    published_at: datetime | None = None
    submitted_at: datetime | None = Field(
        default=None, description="When it was sent for review (status in_review)"
    )
    review_note: str = Field(
        default="", max_length=2000, description="Why staff sent it back, until it is changed"
    )


class SmeView(SmeFields):
    sme_id: str
    region: str
    version: int
    stage: Stage
    stage_history: list[StageChange]
    size_class: SizeClassification
    growth_class: GrowthClassification
    contacts: list[Contact]
    profiles: list[Profile]
    near_duplicates: list[str] = Field(default_factory=list, description="Ids of similar names")
    created_at: datetime
    updated_at: datetime


class ChangeStage(Payload):
    sme_id: str
    to_stage: Stage
    actor: str | None = Field(
        default=None,
        max_length=200,
        description="Ignored: the stage change records who the request acts for (its actor), "
        "never what its data says",
    )
    reason: str = Field(min_length=1, max_length=2000)


class PublishProfile(Payload):
    sme_id: str
    expected_version: int | None = Field(default=None, ge=1)
    profile: ProfileInput


class WithdrawProfile(Payload):
    sme_id: str
    profile_id: str
    reason: str = ""


class PublishSuccessStory(Payload):
    title: str = Field(min_length=3, max_length=200, pattern=SINGLE_LINE)
    text: str = Field(min_length=1, max_length=20000)
    smes: list[SmeRef] = Field(min_length=1, max_length=20)
    agreement_type: PartnershipType
    happened_on: date
    clusters: list[Keyword] = Field(default_factory=list, max_length=20)
    publication_consent: bool


class ReviewProfile(Payload):
    """Staff's decision on a profile in review: approved (published), or sent back to its
    company as a draft with a note saying what to change."""

    sme_id: str
    profile_id: str
    approve: bool
    note: str = Field(default="", max_length=2000)


class ListProfileReviews(Page):
    pass


class ProfileInReview(Payload):
    sme_id: str
    legal_name: str
    profile: Profile


class ProfileReviewPage(Payload):
    items: list[ProfileInReview]
    next_cursor: str | None = None


class EraseSme(Payload):
    sme_id: str
    reason: str = Field(min_length=1)


class EraseContact(Payload):
    sme_id: str
    contact_id: str
    reason: str = Field(min_length=1)


class GetSme(Payload):
    sme_id: str


class SearchSmes(Page):
    text: SearchText | None = None
    country: CountryCode | None = None
    region: str | None = Field(default=None, max_length=40)
    nace: NaceCode | None = None
    cluster: Keyword | None = None
    size_class: SizeClass | None = None
    growth_class: GrowthClass | None = None
    stage: Stage | None = None
    keywords: list[Keyword] = Field(default_factory=list, max_length=10)
    sort: Literal["legal_name", "-legal_name", "updated_at", "-updated_at"] = "legal_name"


class SmeSummary(Payload):
    sme_id: str
    region: str
    legal_name: str
    country: str
    nace_codes: list[str]
    clusters: list[str]
    size_class: SizeClass
    growth_class: GrowthClass
    stage: Stage


class SmePage(Payload):
    items: list[SmeSummary]
    next_cursor: str | None = None


class ListClusters(Payload):
    """The clusters of this region's SMEs: the names they are registered with (the seed's,
    and any a region adds), for a filter to offer."""


class ClusterCount(Payload):
    cluster: str
    smes: int = Field(ge=1, description="The region's SMEs in it (erased ones are not counted)")


class ClusterList(Payload):
    items: list[ClusterCount] = Field(
        description="Every cluster at least one of the region's SMEs is in, by name"
    )


class GetKpis(Payload):
    period_from: date
    period_to: date


class KpiCounts(Payload):
    identified: int = 0
    selected: int = 0
    trained: int = 0
    coached: int = 0
    internationalised: int = 0
    success_stories: int = 0
    # The facts staff record (record_trade_show_presentation, record_company_introduction,
    # record_park_agreement), by the day they happened.
    trade_show_presentations: int = 0
    company_introductions: int = 0
    park_agreements: int = 0
    # The region's calendar (the events service records them and their attendance; the
    # registry counts what its events tell), by the day each entry starts; cancelled ones not.
    brokerage_events: int = 0
    training_courses: int = 0
    cluster_workshops: int = 0
    road_shows: int = 0
    event_attendees: int = Field(
        default=0,
        description="Registrations checked in at least once at the region's events of the period",
    )


class Kpis(Payload):
    region: str
    period_from: date
    period_to: date
    total: KpiCounts
    by_cluster: dict[str, KpiCounts]
    by_market: dict[str, KpiCounts] = Field(
        default_factory=dict,
        description="By country (ISO 3166-1 alpha-2) of the market a fact took place in: the "
        "trade show's, the large company's, the parties' of an agreement, a calendar entry's",
    )


class StoryAccepted(Payload):
    story_id: str


# --- facts the seed counts (issue 30 item 2; figures helper) -----------------------------------
# An SME presenting at a trade show or congress, an introduction to a large company, a
# partnership agreement between science parks: recorded by the region's staff, counted in
# get_kpis. Road shows, training seminars and cluster workshops with their attendees are the
# events service's calendar entries (kinds road_show, training_course, cluster_workshop) and
# its registrations and check-ins (record_attendance): recorded there, counted here from its
# events, never recorded twice.

FactKind = Literal["trade_show_presentation", "company_introduction", "park_agreement"]
IntroductionOutcome = Literal[
    "pending", "meeting_held", "cooperation_agreed", "not_pursued"
]  # fmt: skip


class RecordTradeShowPresentation(Payload):
    sme_id: str = Field(min_length=1, max_length=200, description="One of the region's SMEs")
    show: str = Field(
        min_length=2, max_length=300, pattern=SINGLE_LINE, description="Trade show or congress"
    )
    event_id: str | None = Field(
        default=None, max_length=200, description="The show's calendar entry, if it has one"
    )
    country: CountryCode = Field(description="Where the show takes place: the market")
    presented_on: date


class RecordCompanyIntroduction(Payload):
    fact_id: str | None = Field(
        default=None,
        max_length=200,
        description="Given: the introduction recorded before, whose outcome (or other fields) "
        "this changes; none: a new introduction",
    )
    sme_id: str = Field(min_length=1, max_length=200, description="One of the region's SMEs")
    company: str = Field(
        min_length=2, max_length=300, pattern=SINGLE_LINE, description="The large company"
    )
    company_country: CountryCode = Field(description="Where the company is: the market")
    introduced_on: date
    outcome: IntroductionOutcome = "pending"


class RecordParkAgreement(Payload):
    parties: list[Annotated[str, StringConstraints(min_length=2, max_length=300)]] = Field(
        min_length=2, max_length=20, description="The science parks that signed"
    )
    countries: list[CountryCode] = Field(
        default_factory=list, max_length=20, description="The parties' countries"
    )
    aim: str = Field(min_length=3, max_length=2000)
    signed_on: date
    clusters: list[Keyword] = Field(default_factory=list, max_length=20)


class FactRecorded(Payload):
    fact_id: str
    kind: FactKind
    version: int


class WithdrawFact(Payload):
    """A fact recorded by mistake (the wrong SME, a presentation that did not happen): it no
    longer counts, and stays listed as withdrawn with why and by whom."""

    fact_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\r\n]*$")
    version: int | None = Field(
        default=None,
        ge=1,
        description="The fact's version as the withdrawer saw it: if it changed since (its "
        "outcome, SME or day told anew), the withdrawal is refused (conflict, reason changed)",
    )


class ListFacts(Page):
    kind: FactKind | None = None
    period_from: date | None = None
    period_to: date | None = None
    sme_id: str | None = Field(default=None, max_length=200)


class Fact(Payload):
    """One recorded fact; the fields of its kind are set, the others empty."""

    fact_id: str
    kind: FactKind
    region: str
    version: int
    happened_on: date
    sme_id: str | None = None
    clusters: list[str] = Field(default_factory=list, description="The SME's, or the agreement's")
    show: str = ""
    event_id: str | None = None
    country: str | None = Field(default=None, description="The market: show's or company's")
    company: str = ""
    outcome: IntroductionOutcome | None = None
    parties: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    aim: str = Field(default="", max_length=2000)
    recorded_by: str
    recorded_at: datetime
    withdrawn: bool = Field(default=False, description="Recorded by mistake: not counted")
    withdrawn_reason: str = ""
    withdrawn_by: str = ""


class FactPage(Payload):
    items: list[Fact]
    next_cursor: str | None = None


# --- events -------------------------------------------------------------------------------------


class SmePublic(Payload):
    """What other services and regions may know of an SME: no personal data."""

    sme_id: str
    region: str
    version: int
    legal_name: str
    country: str
    nace_codes: list[str]
    clusters: list[str]
    keywords: list[str]
    description: str
    size_class: SizeClass
    growth_class: GrowthClass
    stage: Stage
    share_with_network: bool


class SmeRegistered(SmePublic):
    pass


class SmeUpdated(SmePublic):
    pass


class SmeStageChanged(Payload):
    sme_id: str
    region: str
    change: StageChange
    clusters: list[str]


class ProfilePublished(Payload):
    sme: SmePublic
    profile: Profile


class ProfileWithdrawn(Payload):
    sme_id: str
    region: str
    profile_id: str
    reason: str


class SuccessStoryPublished(Payload):
    story_id: str
    region: str
    title: str
    text: str
    smes: list[SmeRef]
    agreement_type: PartnershipType
    happened_on: date
    clusters: list[str]


class ContactErased(Payload):
    """Tombstone: this person's data must be removed from every copy."""

    sme_id: str
    region: str
    contact_id: str
    erased_at: datetime
    email_sha256: str = Field(
        default="",
        description="SHA-256 (hex) of the person's address in lower case: each copy finds the "
        "person's records by it without the tombstone carrying the address itself",
    )


def email_digest(email: str) -> str:
    """What a ContactErased names a person by."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class SmeShared(Payload):
    """What the network may see of an SME that consents to sharing: its public data and every
    published profile that is not private, as they stand now (each one replaces the last)."""

    sme: SmePublic
    profiles: list[Profile]


class SmeUnshared(Payload):
    """The SME no longer shares with the network: every other region drops its copy."""

    sme_id: str
    region: str
    version: int


class SmeErased(Payload):
    """Tombstone: every copy of this SME, wherever it is held, must be removed."""

    sme_id: str
    region: str
    erased_at: datetime


S = "registry"
REGISTER_SME = command(
    S,
    "register_sme",
    RegisterSme,
    SmeView,
    "Register an SME with its home MAP",
    roles=(*STAFF, "operator"),
    refusals={
        "duplicate": (
            "an SME with the same registry code or VAT number is registered here "
            "(details.existing_sme_id)"
        ),
        "forbidden": "staff register SMEs only in their own region",
    },
)
REGISTER_SMES = command(
    S,
    "register_smes",
    RegisterSmes,
    SmesRegistered,
    "Register many SMEs with their home MAP (an import): each row as register_sme, with its "
    "own outcome; a row that breaks the schema refuses the whole batch",
    # Exactly register_sme's: who may register one SME may register many.
    roles=REGISTER_SME.roles,
    refusals={
        "forbidden": "staff register SMEs only in their own region",
    },
)
UPDATE_SME = command(
    S,
    "update_sme",
    UpdateSme,
    SmeView,
    "Change an SME at the version read",
    roles=(*STAFF, "sme", "operator"),
    refusals={
        "not_found": "no SME with this id in this region",
        "conflict": "expected_version is not the stored version; read the SME again",
        "duplicate": "the new registry code or VAT number is another SME's",
        "forbidden": "a contact changes only their own SME; staff only their region's",
    },
)
CHANGE_STAGE = command(
    S,
    "change_stage",
    ChangeStage,
    SmeView,
    "Move an SME along its journey",
    roles=STAFF,
    refusals={
        "not_found": "no SME with this id in this region",
        "conflict": "the journey does not lead from the SME's stage to this one (details.current)",
        "forbidden": "staff change only their own region's SMEs",
    },
)
DRAFT_PROFILE = command(
    S,
    "draft_profile",
    PublishProfile,
    SmeView,
    "Save a profile as a draft",
    roles=(*STAFF, "sme"),
    refusals={
        "not_found": "no SME with this id, or no such profile to change",
        "conflict": "the profile was withdrawn",
        "forbidden": "a contact drafts only for their own SME",
    },
)
PUBLISH_PROFILE = command(
    S,
    "publish_profile",
    PublishProfile,
    SmeView,
    "Publish a profile; a contact's waits for staff's review first where the region reviews "
    "profiles (status in_review)",
    roles=(*STAFF, "sme"),
    refusals={
        "not_found": "no SME with this id, or no such profile to change",
        "conflict": "the profile was withdrawn",
        "forbidden": "a contact publishes only for their own SME",
    },
)
WITHDRAW_PROFILE = command(
    S,
    "withdraw_profile",
    WithdrawProfile,
    SmeView,
    "Withdraw a profile",
    roles=(*STAFF, "sme"),
    refusals={
        "not_found": "no SME with this id, or no such profile",
        "conflict": "the profile is withdrawn already",
        "forbidden": "a contact withdraws only their own SME's profiles",
    },
)
REVIEW_PROFILE = command(
    S,
    "review_profile",
    ReviewProfile,
    SmeView,
    "Approve a profile in review (it is published) or send it back as a draft with a note",
    roles=STAFF,
    refusals={
        "not_found": "no SME with this id in this region, or no such profile",
        "conflict": "the profile is not in review (details.status)",
        "validation_failed": "a profile is sent back with a note",
        "forbidden": "staff review only their own region's profiles",
    },
)
LIST_PROFILE_REVIEWS = query(
    S,
    "list_profile_reviews",
    ListProfileReviews,
    ProfileReviewPage,
    "The profiles waiting for review, the longest waiting first",
    roles=STAFF,
    refusals={"forbidden": "staff of another region"},
)
PUBLISH_SUCCESS_STORY = command(
    S,
    "publish_success_story",
    PublishSuccessStory,
    StoryAccepted,
    "Tell a success story",
    roles=STAFF,
    refusals={
        "not_found": "no SME with this id in this region",
        "forbidden": "staff tell only their own region's stories",
    },
)
ERASE_SME = command(
    S,
    "erase_sme",
    EraseSme,
    Accepted,
    "Erase an SME and its personal data",
    roles=ADMIN,
    refusals={
        "not_found": "no SME with this id in this region",
        "forbidden": "an admin erases only their own region's SMEs",
    },
)
ERASE_CONTACT = command(
    S,
    "erase_contact",
    EraseContact,
    SmeView,
    "Erase one contact person",
    roles=ADMIN,
    refusals={
        "not_found": "no SME with this id, or no such contact of it",
        "forbidden": "an admin erases only their own region's SMEs' contacts",
    },
)
GET_SME = query(
    S,
    "get_sme",
    GetSme,
    SmeView,
    "One SME as its MAP sees it; to another SME's contact, as another region sees it",
    roles=(*STAFF, "sme", "service"),
    refusals={
        "not_found": "no SME with this id in this region",
        "forbidden": (
            "staff of another region; a contact reads another SME only if it shares with the "
            "network, and then only what the network sees (no contacts, figures, VAT id, "
            "address, founding date, coaching journey, draft, withdrawn, expired or private "
            "profiles, nor the figures behind its classes)"
        ),
    },
)
SEARCH_SMES = query(
    S,
    "search_smes",
    SearchSmes,
    SmePage,
    "Find SMEs by filters and text; a contact finds their own and those shared with the network",
    roles=(*STAFF, "sme"),
    refusals={"forbidden": "staff of another region"},
)
LIST_CLUSTERS = query(
    S,
    "list_clusters",
    ListClusters,
    ClusterList,
    "The clusters of this region's SMEs, each with how many SMEs are in it (kept as SMEs are "
    "registered, changed and erased: no SME is read to answer)",
    roles=(*STAFF, "steering"),
    refusals={"forbidden": "staff of another region"},
)
GET_KPIS = query(
    S,
    "get_kpis",
    GetKpis,
    Kpis,
    "The seed's indicators for a period",
    # service: the reports service asks it for the region's monthly figures.
    roles=(*STAFF, "steering", "service"),
)
_OWN_SME: dict[ErrorCode, str] = {
    "not_found": "no SME with this id in this region",
    "forbidden": "staff record facts only of their own region's SMEs",
    "conflict": "the same fact is recorded already (details.fact_id): it counts once; or "
    "(an introduction told again) it was withdrawn, or changed by another command meanwhile",
}
RECORD_TRADE_SHOW_PRESENTATION = command(
    S,
    "record_trade_show_presentation",
    RecordTradeShowPresentation,
    FactRecorded,
    "Record that an SME presented at a trade show or congress",
    roles=STAFF,
    refusals=_OWN_SME,
)
RECORD_COMPANY_INTRODUCTION = command(
    S,
    "record_company_introduction",
    RecordCompanyIntroduction,
    FactRecorded,
    "Record an SME's introduction to a large company, or change its outcome",
    roles=STAFF,
    refusals={
        **_OWN_SME,
        "not_found": "no SME with this id in this region, or no introduction data.fact_id",
    },
)
RECORD_PARK_AGREEMENT = command(
    S,
    "record_park_agreement",
    RecordParkAgreement,
    FactRecorded,
    "Record a partnership agreement between science parks",
    roles=STAFF,
    refusals={
        "forbidden": "staff record only their own region's agreements",
        "conflict": "the same agreement is recorded already (details.fact_id): it counts once",
    },
)
WITHDRAW_FACT = command(
    S,
    "withdraw_fact",
    WithdrawFact,
    FactRecorded,
    "Withdraw a fact recorded by mistake: it is no longer counted, and stays listed as withdrawn",
    roles=STAFF,
    refusals={
        "not_found": "no fact with this id in this region",
        "forbidden": "staff withdraw only their own region's facts",
        "conflict": "withdrawn already (details.reason withdrawn), or changed by another "
        "command meanwhile (details.reason changed: read it again)",
    },
)
LIST_FACTS = query(
    S,
    "list_facts",
    ListFacts,
    FactPage,
    "The facts recorded, newest first",
    roles=STAFF,
    refusals={"forbidden": "staff of another region"},
)

SME_REGISTERED = event(S, "sme_registered", SmeRegistered, "An SME was registered")
SME_UPDATED = event(S, "sme_updated", SmeUpdated, "An SME's data changed")
SME_STAGE_CHANGED = event(S, "sme_stage_changed", SmeStageChanged, "An SME moved stage")
PROFILE_PUBLISHED = event(S, "profile_published", ProfilePublished, "A profile was published")
PROFILE_WITHDRAWN = event(S, "profile_withdrawn", ProfileWithdrawn, "A profile was withdrawn")
SUCCESS_STORY_PUBLISHED = event(
    S, "success_story_published", SuccessStoryPublished, "A success story was published"
)
SME_SHARED = event(
    S, "sme_shared", SmeShared, "What the network sees of an SME changed", shared=True
)
SME_UNSHARED = event(
    S, "sme_unshared", SmeUnshared, "An SME stopped sharing with the network", shared=True
)
SME_ERASED = event(S, "sme_erased", SmeErased, "An SME was erased", shared=True)
CONTACT_ERASED = event(
    S, "contact_erased", ContactErased, "A contact person was erased", shared=True
)
