"""Registry service on the bus: the routes of every operation it offers."""

from __future__ import annotations

from contracts import events as events_contract
from contracts import registry as c
from contracts.envelope import Envelope
from mapnet.runtime.service import Runtime

from ..adapters.facts import CalendarRepository, FactRepository
from ..adapters.repository import COLLECTION as SMES
from ..adapters.repository import SmeRepository
from ..adapters.search import SmeSearch
from ..adapters.stories import COLLECTION as STORIES
from ..adapters.stories import StoryRepository
from ..domain.access import check_home_staff, seen_in_search
from ..domain.validation import profile_rules, register_many_rules, register_rules
from ..service_layer.facts import Facts
from ..service_layer.handlers import Registry
from ..settings import RegistrySettings

# The registry's events.
PUBLISHED = (
    c.SME_REGISTERED,
    c.SME_UPDATED,
    c.SME_STAGE_CHANGED,
    c.PROFILE_PUBLISHED,
    c.PROFILE_WITHDRAWN,
    c.SUCCESS_STORY_PUBLISHED,
    c.SME_ERASED,
    c.CONTACT_ERASED,
    c.SME_SHARED,
    c.SME_UNSHARED,
)


def build(rt: Runtime) -> None:
    # search_smes answers from an index in memory, which every write of this process
    # updates at once and those of the other instances through a change feed (search.py).
    search = SmeSearch(rt.db, SMES)
    repo = SmeRepository(rt.db, search)
    uow = rt.unit_of_work()
    fact_store = FactRepository(rt.db)
    facts = Facts(rt.region, repo, fact_store, CalendarRepository(rt.db), uow.now)
    settings = rt.config_as(RegistrySettings)
    registry = Registry(
        uow, repo, StoryRepository(rt.db), rt.forget_sme, rt.forget_contact,
        counted=facts.counted, forget_facts=fact_store.forget_sme,
        profile_review=settings.profile_review,
    )  # fmt: skip
    rt.outbox_collections += [repo.name, STORIES]
    # The index is read after the records' terms are complete (create_indexes adds any
    # missing), in the background.
    rt.startup += [repo.create_indexes, fact_store.create_indexes, search.start]
    rt.shutdown.append(search.stop)

    # The SME id derives from the command id: a repeated register_sme finds its SME and
    # answers with it, so its replies need no cache.
    rt.handles(c.REGISTER_SME, remember_replies=False, rules=register_rules)(registry.register_sme)
    # A batch's answer is kept for its repeats (one claim per batch); its rows are repeats
    # of themselves by their SMEs' ids, as register_sme's.
    rt.handles(c.REGISTER_SMES, rules=register_many_rules)(registry.register_smes)
    rt.handles(c.UPDATE_SME)(registry.update_sme)
    rt.handles(c.CHANGE_STAGE)(registry.change_stage)
    rt.handles(c.DRAFT_PROFILE, rules=profile_rules)(registry.draft_profile)
    rt.handles(c.PUBLISH_PROFILE, rules=profile_rules)(registry.publish_profile)
    rt.handles(c.WITHDRAW_PROFILE)(registry.withdraw_profile)
    rt.handles(c.REVIEW_PROFILE)(registry.review_profile)
    rt.handles(c.LIST_PROFILE_REVIEWS)(registry.list_profile_reviews)
    rt.handles(c.ERASE_SME)(registry.erase_sme)
    rt.handles(c.ERASE_CONTACT)(registry.erase_contact)
    rt.handles(c.GET_SME)(registry.get_sme)
    rt.handles(c.LIST_CLUSTERS)(registry.list_clusters)

    @rt.handles(c.SEARCH_SMES)
    async def search_smes(query: Envelope[c.SearchSmes]) -> c.SmePage:
        check_home_staff(query.actor, rt.region)
        return await search.search(query.data, own=seen_in_search(query.actor))

    @rt.consumes(events_contract.TRAINING_COMPLETED)
    async def on_training_completed(event: Envelope[events_contract.TrainingCompleted]) -> None:
        sme = event.data.sme
        if sme is not None and sme.region == rt.region:
            await registry.training_completed(sme.sme_id, event)

    rt.handles(c.PUBLISH_SUCCESS_STORY)(registry.publish_success_story)
    rt.handles(c.GET_KPIS)(registry.get_kpis)

    facts_routes(rt, facts)
    rt.publishes(*PUBLISHED)


def facts_routes(rt: Runtime, facts: Facts) -> None:
    """The facts the seed counts: staff record three kinds here; the region's road shows,
    courses, workshops and brokerage events and who attended them are the events service's,
    counted from what it tells."""
    rt.handles(c.RECORD_TRADE_SHOW_PRESENTATION)(facts.record_presentation)
    rt.handles(c.RECORD_COMPANY_INTRODUCTION)(facts.record_introduction)
    rt.handles(c.RECORD_PARK_AGREEMENT)(facts.record_agreement)
    rt.handles(c.WITHDRAW_FACT)(facts.withdraw)
    rt.handles(c.LIST_FACTS)(facts.list_facts)

    @rt.consumes(events_contract.EVENT_PUBLISHED)
    async def on_entry_published(event: Envelope[events_contract.EventPublished]) -> None:
        await facts.entry_published(event.data)

    @rt.consumes(events_contract.EVENT_CANCELLED)
    async def on_entry_cancelled(event: Envelope[events_contract.EventCancelled]) -> None:
        await facts.entry_cancelled(event.data.event_id)

    @rt.consumes(events_contract.ATTENDANCE_RECORDED)
    async def on_attendance(event: Envelope[events_contract.RegistrationChanged]) -> None:
        await facts.attendance_recorded(event.data.registration)
