"""The registry's demo after a few months: cooperation profiles (most published, a few drafts),
SMEs at every stage of the journey, success stories and the facts staff record, all invented and
saying so ("(demo)", "Invented for the demo"), sent as the region's demo staff member would.

Loading it again changes nothing: an SME that has profiles gets none, an SME is moved along its
journey only while every move it has is the demo's own (a move staff made in the portal stops
it), and the stories and facts go by command ids that do not depend on the day (the registry
answers a repeated command with its first answer)."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts import registry as c
from contracts.access import Actor
from contracts.common import SmeRef
from mapnet.runtime.bus import BusClient

from ..domain.journey import STAGES
from .demo import CLUSTERS

_NAMESPACE = uuid.UUID("0f3c9d2e-6b4a-4c1e-8a7d-5e2b9f1c3a64")
# SMEs built at once: each SME's steps go one after the other, the SMEs side by side.
AT_ONCE = 8
DEMO_REASON = "Demo: invented step of the demo's coaching journey"
# The stage each SME reaches, by its place in the registry's name order (the first is the one
# the demo's SME contact acts for): every stage is held by several SMEs.
STAGE_PATTERN = ("coached", "internationalised", "trained", "selected", "identified",
                 "coached", "selected", "trained", "identified")  # fmt: skip
PROFILE_TYPES: tuple[c.ProfileType, ...] = (
    "technology_offer", "technology_request", "business_offer", "business_request", "rd_request"
)  # fmt: skip
PARTNERSHIPS: dict[str, list[c.PartnershipType]] = {
    "technology_offer": ["licence", "technical_cooperation"],
    "technology_request": ["technical_cooperation", "licence"],
    "business_offer": ["distribution", "commercial_agreement"],
    "business_request": ["commercial_agreement", "distribution"],
    "rd_request": ["research_cooperation"],
}
LABELS = {
    "technology_offer": "offers",
    "technology_request": "seeks",
    "business_offer": "offers distribution partners",
    "business_request": "seeks suppliers of",
    "rd_request": "seeks research partners in",
}
MARKETS = ["FI", "SE", "DE", "LV", "LT", "PL", "DK", "NO"]


def staff(region: str) -> Actor:
    return Actor(id=f"staff@{region}.example", role="map_staff", region=region)


def command_id(region: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join([region, *parts])))


def this_year(today: date, days_ago: int) -> date:
    """A day ``days_ago`` back, kept in this year so the indicators of the year count it."""
    return max(today - timedelta(days=days_ago), date(today.year, 1, 1))


def demo_profiles(sme: c.SmeView, place: int, today: date) -> list[tuple[bool, c.ProfileInput]]:
    """The SME's profiles, each with whether it is published (else a draft): none for every
    sixth SME, a draft for every eleventh, a second profile for every third."""
    if place % 6 == 5:
        return []
    rng = random.Random(sme.legal_name)
    words = CLUSTERS.get(sme.clusters[0], {}).get("words", []) if sme.clusters else []
    words = words or sme.keywords or ["innovation"]
    kinds = [PROFILE_TYPES[place % 5]]
    if place % 3 == 0:
        kinds.append(PROFILE_TYPES[(place + 3) % 5])
    profiles = []
    for n, kind in enumerate(kinds):
        keywords = rng.sample(words, min(3, len(words)))
        title = f"{sme.legal_name} {LABELS[kind]} {keywords[0]} (demo)"
        profiles.append(
            (
                place % 11 != 10 or n > 0,
                c.ProfileInput(
                    type=kind,
                    title=title[:200],
                    summary=f"Invented for the demo: {sme.legal_name} {LABELS[kind]} "
                    f"{', '.join(keywords)} and looks for partners around the Baltic Sea.",
                    description="A demo profile: the company, its offer and its wishes are "
                    "invented to show partner search and brokerage events.",
                    keywords=keywords,
                    nace_codes=sme.nace_codes,
                    target_countries=sorted(rng.sample(MARKETS, 2)),
                    partnership_types=PARTNERSHIPS[kind],
                    expires_on=today + timedelta(days=rng.randint(120, 360)),
                ),
            )
        )
    return profiles


async def load_journey(client: BusClient, region: str) -> list[c.SmeView]:
    """Profiles, stages, stories and facts for the region's demo SMEs; answers the SMEs."""
    today = datetime.now(UTC).date()
    actor = staff(region)
    smes = await _all_smes(client, region, actor)
    room = asyncio.Semaphore(AT_ONCE)

    async def build(place: int, sme: c.SmeView) -> c.SmeView:
        async with room:
            if not sme.profiles:
                for n, (published, profile) in enumerate(demo_profiles(sme, place, today)):
                    op = c.PUBLISH_PROFILE if published else c.DRAFT_PROFILE
                    data = c.PublishProfile(sme_id=sme.sme_id, profile=profile)
                    once = command_id(region, "profile", sme.sme_id, str(n))
                    await client.call(op, data, region, actor=actor, id=once)
            target = STAGE_PATTERN[place % len(STAGE_PATTERN)]
            await _move_along(client, region, actor, sme, target)
            return await client.call(c.GET_SME, c.GetSme(sme_id=sme.sme_id), region, actor=actor)

    smes = list(await asyncio.gather(*(build(place, sme) for place, sme in enumerate(smes))))
    await _stories(client, region, actor, smes, today)
    await _facts(client, region, actor, smes, today)
    return smes


async def _all_smes(client: BusClient, region: str, actor: Actor) -> list[c.SmeView]:
    found: list[c.SmeView] = []
    cursor = None
    while True:
        page = await client.call(c.SEARCH_SMES, c.SearchSmes(limit=100, cursor=cursor), region,
                                 actor=actor)  # fmt: skip
        found += await asyncio.gather(
            *(client.call(c.GET_SME, c.GetSme(sme_id=i.sme_id), region, actor=actor)
              for i in page.items)
        )  # fmt: skip
        if not (cursor := page.next_cursor):
            return found


async def _move_along(
    client: BusClient, region: str, actor: Actor, sme: c.SmeView, target: str
) -> None:
    if any(ch.from_stage is not None and ch.reason != DEMO_REASON for ch in sme.stage_history):
        return  # staff moved it: theirs, not the demo's
    for stage in STAGES[STAGES.index(sme.stage) + 1 : STAGES.index(target) + 1]:
        change = c.ChangeStage(sme_id=sme.sme_id, to_stage=stage, reason=DEMO_REASON)
        await client.call(c.CHANGE_STAGE, change, region, actor=actor,
                          id=command_id(region, "stage", sme.sme_id, stage))  # fmt: skip


STORIES: list[tuple[str, c.PartnershipType, int, str]] = [
    ("{a} and {b} agree on a joint offer (demo)", "commercial_agreement", 40,
     "Invented for the demo: after meeting at a brokerage event, {a} and {b} agreed to offer "
     "their products together to customers in Finland and Sweden."),
    ("{a} licenses its technology to {b} (demo)", "licence", 85,
     "Invented for the demo: {b} licensed a technology of {a} for its own products, after "
     "the MAP introduced the two companies."),
    ("{a} and {b} start a research project (demo)", "research_cooperation", 130,
     "Invented for the demo: {a} and {b} began a joint research project, found through "
     "partner search."),
]  # fmt: skip


async def _stories(
    client: BusClient, region: str, actor: Actor, smes: list[c.SmeView], today: date
) -> None:
    far = [s for s in smes if s.stage in ("coached", "internationalised")]
    if len(far) < 2:
        return
    for n, (title, kind, days_ago, text) in enumerate(STORIES):
        a, b = far[(2 * n) % len(far)], far[(2 * n + 1) % len(far)]
        names = {"a": a.legal_name, "b": b.legal_name}
        story = c.PublishSuccessStory(
            title=title.format(**names)[:200],
            text=text.format(**names),
            smes=[SmeRef(region=region, sme_id=s.sme_id) for s in (a, b)],
            agreement_type=kind,
            happened_on=this_year(today, days_ago),
            clusters=sorted({*a.clusters, *b.clusters}),
            publication_consent=True,
        )
        await client.call(c.PUBLISH_SUCCESS_STORY, story, region, actor=actor,
                          id=command_id(region, "story", str(n)))  # fmt: skip


async def _facts(
    client: BusClient, region: str, actor: Actor, smes: list[c.SmeView], today: date
) -> None:
    far = [s for s in smes if s.stage in ("trained", "coached", "internationalised")]
    if len(far) < 3:
        return
    facts: list[tuple[Any, Any]] = [
        (c.RECORD_TRADE_SHOW_PRESENTATION, c.RecordTradeShowPresentation(
            sme_id=far[0].sme_id, show="Example Laser Fair Berlin (demo)", country="DE",
            presented_on=this_year(today, 60))),
        (c.RECORD_TRADE_SHOW_PRESENTATION, c.RecordTradeShowPresentation(
            sme_id=far[1].sme_id, show="Example Health Tech Expo Stockholm (demo)", country="SE",
            presented_on=this_year(today, 95))),
        (c.RECORD_COMPANY_INTRODUCTION, c.RecordCompanyIntroduction(
            sme_id=far[2].sme_id, company="Example Nordic Telecom Group (demo)",
            company_country="FI", introduced_on=this_year(today, 50), outcome="meeting_held")),
        (c.RECORD_COMPANY_INTRODUCTION, c.RecordCompanyIntroduction(
            sme_id=far[0].sme_id, company="Example Baltic Logistics Group (demo)",
            company_country="LV", introduced_on=this_year(today, 20))),
        (c.RECORD_PARK_AGREEMENT, c.RecordParkAgreement(
            parties=[f"Example Science Park {region.title()} (demo)",
                     "Example Science Park Helsinki (demo)"],
            countries=["FI"], aim="Invented for the demo: exchange of soft-landing services "
            "for each other's companies.", signed_on=this_year(today, 110), clusters=["ict"])),
    ]  # fmt: skip
    for n, (op, fact) in enumerate(facts):
        await client.call(op, fact, region, actor=actor, id=command_id(region, "fact", str(n)))
