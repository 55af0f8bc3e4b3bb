"""Reports service: the SMEs' feedback, each region's monthly figures, monitoring and cluster
reports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import AwareDatetime, Field, StringConstraints

from .access import STAFF
from .common import CountryCode, Keyword, Page, SmeRef
from .envelope import ErrorCode, Payload
from .ids import RegionId
from .operations import command, event, query

# --- feedback ---------------------------------------------------------------------------
# The SMEs' feedback (issue 30, item 1). A survey is opened for an SME of this region when a fact
# another service publishes makes an occasion: a brokerage meeting that took place (matching's
# meeting_outcome_recorded), attendance at an event or course (events' attendance_recorded), a
# coaching stage reached (registry's sme_stage_changed). Each of the SME's contacts answers it
# once, within the answer window; staff read the answers of their region, `steering` and the
# report read the summary (counts, ratings, obstacles per market, quotes only where allowed).

OccasionKind = Literal["meeting", "event", "coaching_stage"]
OCCASION_KINDS: tuple[OccasionKind, ...] = ("meeting", "event", "coaching_stage")
Obstacle = Literal[
    "regulation_and_certification",
    "company_registration",
    "tax",
    "finance",
    "language_and_culture",
    "finding_partners",
    "public_procurement",
    "other",
]
OBSTACLES: tuple[Obstacle, ...] = get_args(Obstacle)
FEEDBACK_TEXT = 2000


class Occasion(Payload):
    """What a survey asks about."""

    kind: OccasionKind
    ref: str = Field(
        min_length=1,
        max_length=200,
        description="The meeting id, the event id, or the coaching stage reached",
    )
    happened_at: AwareDatetime
    event_id: str | None = Field(default=None, description="With a meeting: its brokerage event")
    clusters: list[Keyword] = Field(default_factory=list, max_length=20)


class Survey(Payload):
    """A survey open to the contacts of one SME of this region about one occasion."""

    survey_id: str
    region: RegionId
    sme: SmeRef
    occasion: Occasion
    opened_at: AwareDatetime
    closes_at: AwareDatetime = Field(description="Answers are taken until then, none after")


class SurveyOpened(Survey):
    """No person is named: notify mails the SME's contacts who consented to mail."""


class MarketObstacles(Payload):
    """The obstacles met in one market, from the fixed list, and in the SME's words."""

    market: CountryCode
    obstacles: list[Obstacle] = Field(default_factory=list, max_length=len(OBSTACLES))
    text: str = Field(default="", max_length=FEEDBACK_TEXT)


class AnswerSurvey(Payload):
    survey_id: str = Field(min_length=1, max_length=200)
    rating: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent)")
    helped: str = Field(default="", max_length=FEEDBACK_TEXT, description="What helped")
    markets: list[MarketObstacles] = Field(default_factory=list, max_length=10)
    may_quote: bool = Field(
        default=False,
        description="The SME's words may be quoted (without names) in the region's reports",
    )


class SurveyAnswer(Payload):
    """An answer as the region's staff read it. Once its SME or person is erased, it keeps its
    rating, occasion and the obstacles chosen, but not who gave it nor their words."""

    answer_id: str
    survey_id: str
    region: RegionId
    sme: SmeRef | None = Field(description="None once the SME or the person was erased")
    occasion: Occasion
    rating: int
    helped: str
    markets: list[MarketObstacles]
    may_quote: bool
    answered_at: AwareDatetime
    erased: bool = False


class SurveyAnswered(Payload):
    """An answer as the streams may keep it: no SME, no person, no words."""

    survey_id: str
    region: RegionId
    occasion_kind: OccasionKind
    rating: int
    obstacles: list[MarketObstacles] = Field(description="The markets and obstacles; no text")
    answered_at: AwareDatetime


class ListOpenSurveys(Payload):
    """The surveys the calling SME contact may still answer (the actor says who)."""


class OpenSurveys(Payload):
    items: list[Survey]


class ListSurveyAnswers(Page):
    from_date: date | None = None
    to_date: date | None = Field(default=None, description="Inclusive")
    occasion_kind: OccasionKind | None = None


class SurveyAnswerPage(Payload):
    items: list[SurveyAnswer]
    next_cursor: str | None = None


class GetFeedbackSummary(Payload):
    from_date: date
    to_date: date = Field(description="Inclusive")


class ObstacleCount(Payload):
    market: CountryCode
    obstacle: Obstacle
    count: int


class Quote(Payload):
    """Words an SME allowed to be quoted, without who said them."""

    text: str
    market: CountryCode | None = Field(description="None: what helped; else that market's words")
    occasion_kind: OccasionKind
    rating: int
    answered_on: date


class OccasionFigures(Payload):
    surveys: int = Field(description="Surveys opened in the period")
    answers: int
    rating_mean: float | None
    ratings: dict[str, int] = Field(
        default_factory=dict,
        description="Answers by rating, '1' to '5' (the monthly figures add them up)",
    )


class FeedbackSummary(Payload):
    """What the region's SMEs said in a period (answers given in it): counts only, no names."""

    region: RegionId
    from_date: date
    to_date: date
    surveys: int = Field(description="Surveys opened in the period")
    answers: int = Field(description="Answers given in the period")
    rating_mean: float | None
    ratings: dict[str, int] = Field(description="Answers by rating, '1' to '5'")
    by_occasion: dict[str, OccasionFigures]
    obstacles: list[ObstacleCount] = Field(description="Most frequent first")
    quotes: list[Quote] = Field(description="Only of answers that allowed it")


S = "reports"
ANSWER_SURVEY = command(
    S,
    "answer_survey",
    AnswerSurvey,
    SurveyAnswer,
    "Answer a survey, once, as the SME contact it is open to",
    roles=("sme",),
    refusals={
        "not_found": "no survey with this id in this region",
        "forbidden": "the survey is not open to the caller's SME (details.fields names survey_id)",
        "conflict": "details.reason 'answered' (the caller answered it before, details.answer_id)"
        " or 'closed' (its answer window ended at details.closes_at)",
    },
)
LIST_OPEN_SURVEYS = query(
    S,
    "list_open_surveys",
    ListOpenSurveys,
    OpenSurveys,
    "The surveys the calling SME contact may still answer, newest first",
    roles=("sme",),
)
LIST_SURVEY_ANSWERS = query(
    S,
    "list_survey_answers",
    ListSurveyAnswers,
    SurveyAnswerPage,
    "The answers given to the region's surveys, newest first (the region's staff)",
    roles=STAFF,
    refusals={"forbidden": "staff read the answers of their own region only"},
)
GET_FEEDBACK_SUMMARY = query(
    S,
    "get_feedback_summary",
    GetFeedbackSummary,
    FeedbackSummary,
    "Figures of the answers given in a period: counts, ratings, obstacles per market, quotes "
    "allowed; no names",
    roles=(*STAFF, "steering", "operator", "service"),
    refusals={"forbidden": "staff read the figures of their own region only"},
)
SURVEY_OPENED = event(S, "survey_opened", SurveyOpened, "A survey was opened to an SME's contacts")
SURVEY_ANSWERED = event(S, "survey_answered", SurveyAnswered, "A survey was answered")


# --- reports ------------------------------------------------------------------------------------
# The monitoring report (the pilot's targets against what was reached, the coaching funnel,
# meetings and outcomes, cooperation between regions, satisfaction, policy recommendations) and
# cluster reports, for one region or the network, made from this region's copies of every
# region's monthly figures and the SMEs' feedback, rendered by the reports service: HTML (a
# whole document, or the report's section for a page of the portal), PDF, CSV (one table, or
# every table as a zip of CSV files). Counts only; quotes only of answers that allowed it.

ReportFormat = Literal["html", "html_fragment", "pdf", "csv"]
REPORT_FORMATS: tuple[ReportFormat, ...] = get_args(ReportFormat)


class ReportRequest(Payload):
    period_from: date
    period_to: date = Field(description="Inclusive")
    region: RegionId | None = Field(
        default=None, description="The region reported on; none: the region asked"
    )
    network: bool = Field(
        default=False, description="The whole network (every region's figures), not one region"
    )
    format: ReportFormat = "html"
    table: str | None = Field(
        default=None,
        max_length=40,
        pattern=r"^[a-z_]+$",
        description="With format csv: this table only (RenderedReport.tables names them); "
        "none: every table, a zip of CSV files",
    )


class GetMonitoringReport(ReportRequest):
    pass


class GetClusterReport(ReportRequest):
    cluster: Keyword


class RenderedReport(Payload):
    """A report in the format asked for. ``text`` holds HTML and a single CSV table; ``content``
    (base64) a PDF or a zip."""

    title: str
    region: RegionId | None = Field(description="None: the network")
    regions: list[RegionId] = Field(description="The regions whose figures it holds")
    period_from: date
    period_to: date
    made_at: AwareDatetime
    format: ReportFormat
    media_type: str
    filename: str
    tables: list[str] = Field(description="The report's tables, each one CSV (table=…)")
    text: str | None = Field(default=None, max_length=2**23)
    content: str | None = Field(default=None, max_length=2**23, description="Base64")


_REPORT_REFUSALS: dict[ErrorCode, str] = {
    "forbidden": "staff report on their own region, or on the whole network from their own "
    "region's service (counts of every region, their region's feedback); other regions' reports "
    "are the steering group's (and the operator's)",
    "validation_failed": "also: period_to before period_from, a period over ten years, or a "
    "table the report does not have (details.fields names it)",
}
GET_MONITORING_REPORT = query(
    S,
    "get_monitoring_report",
    GetMonitoringReport,
    RenderedReport,
    "The monitoring report of a region or the network for a period, rendered",
    roles=(*STAFF, "steering", "operator"),
    refusals=_REPORT_REFUSALS,
)
GET_CLUSTER_REPORT = query(
    S,
    "get_cluster_report",
    GetClusterReport,
    RenderedReport,
    "The report of one cluster of a region or the network for a period, rendered",
    roles=(*STAFF, "steering", "operator"),
    refusals=_REPORT_REFUSALS,
)


# --- figures ------------------------------------------------------------------------------------
# Each region's figures of a month, counts only (no names, no ids of SMEs or people), published
# by the region's reports service and copied to every other region (shared event): any region,
# and the steering group, reports on the whole network from its own copies.

Month = Annotated[
    str,
    StringConstraints(pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$"),
    Field(description="A calendar month, YYYY-MM", examples=["2026-03"]),
]
# What a count is kept by: a cluster keyword, a country code (the market), a region id.
CountKey = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class FigureCounts(Payload):
    """What a region reached in the month: registry.KpiCounts' fields, as the registry counts
    them for the month's first to last day."""

    identified: int = Field(default=0, ge=0)
    selected: int = Field(default=0, ge=0)
    trained: int = Field(default=0, ge=0)
    coached: int = Field(default=0, ge=0)
    internationalised: int = Field(default=0, ge=0)
    success_stories: int = Field(default=0, ge=0)
    trade_show_presentations: int = Field(default=0, ge=0)
    company_introductions: int = Field(default=0, ge=0)
    park_agreements: int = Field(default=0, ge=0)
    brokerage_events: int = Field(default=0, ge=0)
    training_courses: int = Field(default=0, ge=0)
    cluster_workshops: int = Field(default=0, ge=0)
    road_shows: int = Field(default=0, ge=0)
    event_attendees: int = Field(default=0, ge=0)


class MeetingFigures(Payload):
    """Brokered contacts and meetings as matching counts them: every meeting of the region
    until the snapshot was made (matching counts no period), so a later month's snapshot holds
    an earlier one's."""

    contacts_brokered: int = Field(default=0, ge=0)
    meetings_held: int = Field(default=0, ge=0)
    cooperation_possible: int = Field(default=0, ge=0)


class OccasionRatings(Payload):
    surveys: int = Field(default=0, ge=0, description="Surveys opened in the month")
    answers: int = Field(default=0, ge=0)
    ratings: dict[CountKey, int] = Field(
        default_factory=dict, max_length=5, description="Answers by rating, '1' to '5'"
    )


class FeedbackFigures(Payload):
    """The region's survey answers given in the month, counted as get_feedback_summary counts
    them: no words, no quotes, no names (an answer's words stay in its region)."""

    surveys: int = Field(default=0, ge=0, description="Surveys opened in the month")
    answers: int = Field(default=0, ge=0, description="Answers given in the month")
    ratings: dict[CountKey, int] = Field(
        default_factory=dict, max_length=5, description="Answers by rating, '1' to '5'"
    )
    by_occasion: dict[OccasionKind, OccasionRatings] = Field(default_factory=dict)
    obstacles: dict[CountKey, dict[Obstacle, int]] = Field(
        default_factory=dict,
        max_length=300,
        description="By market (ISO 3166-1 alpha-2): each obstacle and the answers naming it",
    )


# A month republished every three seconds, day and night, for a month stays under it; a copy
# claiming more (a region's version 2**62 would outrank every later publication, and overflow
# the stores' integers) is refused by the contract.
MAX_FIGURES_VERSION = 1_000_000


class FiguresSnapshot(Payload):
    """One region's figures of one month. A re-publication of the month replaces it with the
    next version; copies keep the highest version."""

    region: RegionId
    month: Month
    version: int = Field(
        ge=1,
        le=MAX_FIGURES_VERSION,
        description="The month's publication: 1, then one more each time it is published again",
    )
    made_at: AwareDatetime
    total: FigureCounts
    by_cluster: dict[CountKey, FigureCounts] = Field(default_factory=dict, max_length=500)
    by_market: dict[CountKey, FigureCounts] = Field(
        default_factory=dict,
        max_length=300,
        description="By the country (ISO 3166-1 alpha-2) of the market a fact took place in",
    )
    meetings_to_date: MeetingFigures = Field(default_factory=MeetingFigures)
    meetings_by_region_to_date: dict[CountKey, MeetingFigures] = Field(
        default_factory=dict,
        max_length=100,
        description="By the other side's region: a row of the network's cooperation matrix",
    )
    meetings_by_cluster_to_date: dict[CountKey, MeetingFigures] = Field(
        default_factory=dict, max_length=500
    )
    meetings_across_regions_to_date: MeetingFigures | None = Field(
        default=None,
        description="Meetings between SMEs of two different regions (trans-national contacts), "
        "each once (meetings_by_region_to_date has such a meeting in both sides' rows); none "
        "in a snapshot made before it was counted",
    )
    feedback: FeedbackFigures = Field(
        default_factory=FeedbackFigures,
        description="The SMEs' survey answers of the month, counted (no words)",
    )
    missing: list[Literal["registry", "matching", "feedback"]] = Field(
        default_factory=list,
        description="Services that did not answer when the snapshot was made: their counts "
        "are zeros here, not figures (publish the month again once they answer)",
    )


class PublishFigures(Payload):
    month: Month = Field(description="A month that has begun (the current one: so far)")


class ListFigures(Page):
    region: RegionId | None = Field(default=None, description="One region; none: the network")
    month_from: Month | None = None
    month_to: Month | None = None


class FiguresPage(Payload):
    """Snapshots by month, then region; the latest version of each."""

    items: list[FiguresSnapshot]
    next_cursor: str | None = None


S = "reports"
PUBLISH_FIGURES = command(
    S,
    "publish_figures",
    PublishFigures,
    FiguresSnapshot,
    "Compute the region's figures of a month now and publish them to the network (again: "
    "the month's next version replaces the last)",
    roles=STAFF,
    refusals={
        "forbidden": "staff publish only their own region's figures",
        "validation_failed": "also: a month that has not begun",
        "conflict": "the month was published the most times it may be (details.version)",
        "region_unavailable": "the registry did not answer (details.service): nothing published",
    },
)
LIST_FIGURES = query(
    S,
    "list_figures",
    ListFigures,
    FiguresPage,
    "The monthly figures of a region or of the whole network, from this region's copies",
    roles=(*STAFF, "steering", "service"),
    refusals={"validation_failed": "also: month_to before month_from"},
)
FIGURES_PUBLISHED = event(
    S,
    "figures_published",
    FiguresSnapshot,
    "A region's figures of a month (counts only), for every region",
    shared=True,
)
