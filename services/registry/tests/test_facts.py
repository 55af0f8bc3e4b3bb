"""The facts the seed counts, over real servers with the registry and the events service: staff
record an SME's trade show presentation, an introduction to a large company (its outcome told
later) and a science parks' agreement; the region's road shows, courses and workshops with
their checked-in attendees are the events service's; get_kpis counts them all, by cluster and
by market."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts import events as ev
from contracts import registry as c
from contracts.access import Actor
from contracts.errors import Refused
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.registry.adapters.facts import ERASED_REASON
from services.registry.tests.test_registry_bus import new_sme
from tests.helpers import eventually

TODAY = datetime.now(UTC).date()
SOON = datetime.now(UTC) + timedelta(days=20)


@pytest.fixture
async def registry_and_events(settings: Settings, region: str) -> AsyncIterator[Assembly]:
    async with Assembly(settings, ["registry", "events"], [region]) as app:
        yield app


pytestmark = pytest.mark.usefixtures("registry_and_events")


def staff(region: str) -> Actor:
    return Actor(id=f"anna@{region}.example", role="map_staff", region=region)


def entry(external_id: str, kind: str, country: str, clusters: list[str], **extra: Any) -> Any:
    day = SOON.date().isoformat()
    return ev.PublishEvent.model_validate(
        {"partner_id": "map-test", "external_id": external_id, "kind": kind,
         "title": f"{kind} {external_id}", "starts_at": f"{day}T10:00:00",
         "ends_at": f"{day}T17:00:00", "timezone": "Europe/Tallinn", "country": country,
         "clusters": clusters} | extra
    )  # fmt: skip


def period() -> c.GetKpis:
    return c.GetKpis(period_from=TODAY - timedelta(days=1), period_to=TODAY + timedelta(days=60))


async def test_recorded_facts_and_the_calendar_count_in_the_kpis(
    client: BusClient, region: str
) -> None:
    anna = staff(region)
    photon = await client.call(c.REGISTER_SME, new_sme(), region, actor=anna)
    code = await client.call(
        c.REGISTER_SME,
        new_sme(reg="14000015", name="Baltic Code OÜ", clusters=["ict"], contacts=[]),
        region,
        actor=anna,
    )
    shown = await client.call(
        c.RECORD_TRADE_SHOW_PRESENTATION,
        c.RecordTradeShowPresentation(
            sme_id=photon.sme_id, show="LASER World of Photonics", country="DE",
            presented_on=TODAY,
        ),
        region,
        actor=anna,
    )  # fmt: skip
    introduced = await client.call(
        c.RECORD_COMPANY_INTRODUCTION,
        c.RecordCompanyIntroduction(
            sme_id=code.sme_id, company="Nokia Oyj", company_country="FI", introduced_on=TODAY
        ),
        region,
        actor=anna,
    )
    # Its outcome told later: the same introduction at its next version, still one.
    told = await client.call(
        c.RECORD_COMPANY_INTRODUCTION,
        c.RecordCompanyIntroduction(
            fact_id=introduced.fact_id, sme_id=code.sme_id, company="Nokia Oyj",
            company_country="FI", introduced_on=TODAY, outcome="cooperation_agreed",
        ),
        region,
        actor=anna,
    )  # fmt: skip
    assert (told.fact_id, told.version) == (introduced.fact_id, 2)
    await client.call(
        c.RECORD_PARK_AGREEMENT,
        c.RecordParkAgreement(
            parties=["Tehnopol", "Otaniemi Science Park"], countries=["EE", "FI"],
            aim="Joint soft-landing services for ICT start-ups", signed_on=TODAY,
            clusters=["ict"],
        ),
        region,
        actor=anna,
    )  # fmt: skip

    # The calendar: a road show to Sweden, a workshop in Estonia with two people registered and
    # one checked in, and a cancelled road show (not counted).
    await client.call(ev.PUBLISH_EVENT, entry("rs", "road_show", "SE", ["photonics"]), region)
    workshop = await client.call(
        ev.PUBLISH_EVENT, entry("ws", "cluster_workshop", "EE", ["ict"]), region
    )
    gone = await client.call(ev.PUBLISH_EVENT, entry("rs2", "road_show", "NO", []), region)
    await client.call(ev.CANCEL_EVENT, ev.CancelEvent(event_id=gone.event_id, reason="x"), region)
    seats = [
        await client.call(
            ev.REGISTER_PARTICIPANT,
            ev.RegisterParticipant(
                event_id=workshop.event_id, person_name=f"Person {n}", email=f"p{n}@example.ee"
            ),
            region,
        )
        for n in (1, 2)
    ]
    for session in (0, 0):  # checked in twice: one attendee
        await client.call(
            ev.RECORD_ATTENDANCE,
            ev.RecordAttendance(registration_id=seats[0].registration_id, session=session),
            region,
        )

    def settled(k: c.Kpis) -> bool:
        return (k.total.road_shows, k.total.cluster_workshops, k.total.event_attendees) == (
            1, 1, 1
        )  # fmt: skip

    kpis = await eventually(lambda: client.call(c.GET_KPIS, period(), region), until=settled)
    t = kpis.total
    assert (t.trade_show_presentations, t.company_introductions, t.park_agreements) == (1, 1, 1)
    assert (t.road_shows, t.cluster_workshops, t.training_courses, t.brokerage_events) == (
        1, 1, 0, 0
    )  # fmt: skip
    assert (t.identified, t.event_attendees) == (2, 1)
    photonics, ict = kpis.by_cluster["photonics"], kpis.by_cluster["ict"]
    assert (photonics.trade_show_presentations, photonics.road_shows) == (1, 1)
    assert (ict.company_introductions, ict.park_agreements, ict.cluster_workshops) == (1, 1, 1)
    assert ict.event_attendees == 1 and photonics.event_attendees == 0
    assert kpis.by_market["DE"].trade_show_presentations == 1
    assert kpis.by_market["FI"].company_introductions == 1
    assert kpis.by_market["FI"].park_agreements == kpis.by_market["EE"].park_agreements == 1
    assert kpis.by_market["SE"].road_shows == 1 and "NO" not in kpis.by_market
    assert kpis.by_market["EE"].event_attendees == 1
    # Nothing counted last year.
    before = await client.call(
        c.GET_KPIS, c.GetKpis(period_from=date(2020, 1, 1), period_to=date(2020, 12, 31)), region
    )
    assert before.total == c.KpiCounts()

    # Listed newest first, every one reached page by page.
    seen: list[c.Fact] = []
    cursor = None
    while True:
        page = await client.call(
            c.LIST_FACTS, c.ListFacts(limit=1, cursor=cursor), region, actor=anna
        )
        seen += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(f.kind for f in seen) == [
        "company_introduction", "park_agreement", "trade_show_presentation"
    ]  # fmt: skip
    told_fact = next(f for f in seen if f.kind == "company_introduction")
    assert (told_fact.outcome, told_fact.company, told_fact.recorded_by) == (
        "cooperation_agreed", "Nokia Oyj", anna.id
    )  # fmt: skip
    only = await client.call(
        c.LIST_FACTS, c.ListFacts(kind="trade_show_presentation"), region, actor=anna
    )
    assert [f.fact_id for f in only.items] == [shown.fact_id]

    # An erased SME's facts still count, and no longer name it.
    await client.call(c.ERASE_SME, c.EraseSme(sme_id=photon.sme_id, reason="asked"), region)
    after = await client.call(c.GET_KPIS, period(), region)
    assert after.total.trade_show_presentations == 1
    only = await client.call(
        c.LIST_FACTS, c.ListFacts(kind="trade_show_presentation"), region, actor=anna
    )
    assert only.items[0].sme_id is None


async def test_facts_are_recorded_only_by_staff_of_the_smes_own_region(
    client: BusClient, region: str
) -> None:
    anna = staff(region)
    sme = await client.call(c.REGISTER_SME, new_sme(), region, actor=anna)
    show = c.RecordTradeShowPresentation(
        sme_id=sme.sme_id, show="MEDICA", country="DE", presented_on=TODAY
    )
    # Staff of another region: forbidden; an SME not of this region: not found.
    with pytest.raises(Refused) as refused:
        await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, show, region, actor=staff("berlin"))
    assert refused.value.code == "forbidden"
    elsewhere = show.model_copy(update={"sme_id": "not-one-of-ours"})
    with pytest.raises(Refused) as refused:
        await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, elsewhere, region, actor=anna)
    assert refused.value.code == "not_found"
    # The SME's own contact, an organiser, a partner, steering: not their role.
    for role in ("sme", "organiser", "partner", "steering"):
        actor = Actor(id=f"{role}@x.example", role=role, region=region, sme_id=sme.sme_id)
        with pytest.raises(Refused) as refused:
            await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, show, region, actor=actor)
        assert refused.value.code == "forbidden", role
    # An introduction to change that is not one.
    agreement = await client.call(
        c.RECORD_PARK_AGREEMENT,
        c.RecordParkAgreement(parties=["A Park", "B Park"], aim="Share labs", signed_on=TODAY),
        region,
        actor=anna,
    )
    with pytest.raises(Refused) as refused:
        await client.call(
            c.RECORD_COMPANY_INTRODUCTION,
            c.RecordCompanyIntroduction(
                fact_id=agreement.fact_id, sme_id=sme.sme_id, company="Siemens AG",
                company_country="DE", introduced_on=TODAY,
            ),
            region,
            actor=anna,
        )  # fmt: skip
    assert refused.value.code == "not_found"
    kpis = await client.call(c.GET_KPIS, period(), region)
    assert (kpis.total.trade_show_presentations, kpis.total.company_introductions) == (0, 0)
    assert kpis.total.park_agreements == 1


async def test_a_cancellation_handled_before_its_publication_still_counts_as_cancelled(
    settings: Settings, region: str
) -> None:
    """Publication and cancellation reach the registry through two consumers, in any order: a
    cancellation handled first must not be undone by the publication that follows (a loaded CI
    machine counted a cancelled road show)."""
    from mapnet.runtime import mongo
    from services.registry.adapters.facts import CalendarRepository
    from services.registry.domain import facts as domain

    calendar = CalendarRepository(
        mongo.database(mongo.client(settings.mongo_url or ""), region, "registry")
    )
    await calendar.cancel("ev-cancelled-first")
    assert (await calendar.entries_and_attended())[0] == {}  # nothing to count yet
    entry = domain.CalendarEntry(
        event_id="ev-cancelled-first", kind="road_show", starts_on=date(2026, 12, 10),
        clusters=["ict"], country="NO", cancelled=False,
    )  # fmt: skip
    await calendar.put_entry(entry, version=1)
    kept = (await calendar.entries_and_attended())[0]["ev-cancelled-first"]
    assert kept.cancelled and kept.kind == "road_show"


async def test_a_fact_recorded_twice_counts_once(client: BusClient, region: str) -> None:
    """A form sent twice, two staff recording the same presentation, the same agreement told
    with its parties in another order: refused as a conflict naming the fact recorded, never
    counted twice. The same command again (a retry) answers as before."""
    anna, bert = staff(region), Actor(id=f"bert@{region}.example", role="map_admin", region=region)
    sme = await client.call(c.REGISTER_SME, new_sme(), region, actor=anna)
    show = c.RecordTradeShowPresentation(
        sme_id=sme.sme_id, show="LASER World of Photonics", country="DE", presented_on=TODAY
    )
    shown = await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, show, region, actor=anna,
                              id="form-1")  # fmt: skip
    again = await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, show, region, actor=anna,
                              id="form-1")  # fmt: skip
    assert again == shown
    spelled = show.model_copy(update={"show": "  laser world of  PHOTONICS "})
    for actor in (anna, bert):
        with pytest.raises(Refused) as refused:
            await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, spelled, region, actor=actor)
        assert refused.value.code == "conflict"
        assert refused.value.details["fact_id"] == shown.fact_id
    # Another day at the same show is another presentation.
    next_day = show.model_copy(update={"presented_on": TODAY + timedelta(days=1)})
    await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, next_day, region, actor=anna)

    intro = c.RecordCompanyIntroduction(
        sme_id=sme.sme_id, company="Nokia Oyj", company_country="FI", introduced_on=TODAY
    )
    first = await client.call(c.RECORD_COMPANY_INTRODUCTION, intro, region, actor=anna)
    with pytest.raises(Refused) as refused:
        await client.call(c.RECORD_COMPANY_INTRODUCTION, intro, region, actor=bert)
    assert refused.value.code == "conflict"
    # Its outcome changed: still the one introduction; moved to another day, the first day is
    # free for a new record again.
    moved = intro.model_copy(
        update={"fact_id": first.fact_id, "introduced_on": TODAY - timedelta(days=1)}
    )
    await client.call(c.RECORD_COMPANY_INTRODUCTION, moved, region, actor=anna)
    await client.call(c.RECORD_COMPANY_INTRODUCTION, intro, region, actor=bert)

    signed = c.RecordParkAgreement(
        parties=["Tehnopol", "Otaniemi Science Park"], aim="Soft landing", signed_on=TODAY
    )
    await client.call(c.RECORD_PARK_AGREEMENT, signed, region, actor=anna)
    reordered = signed.model_copy(update={"parties": ["otaniemi science park", "TEHNOPOL"]})
    with pytest.raises(Refused) as refused:
        await client.call(c.RECORD_PARK_AGREEMENT, reordered, region, actor=bert)
    assert refused.value.code == "conflict"

    t = (await client.call(c.GET_KPIS, period(), region)).total
    assert (t.trade_show_presentations, t.company_introductions, t.park_agreements) == (2, 2, 1)


async def test_a_fact_key_left_by_a_crash_before_its_fact_is_taken_over(
    settings: Settings, region: str
) -> None:
    """A crash between claiming a fact's key and storing the fact leaves the key naming a fact
    that does not exist: the next record of that fact takes it, rather than a conflict with
    nothing."""
    from mapnet.runtime import mongo
    from services.registry.adapters.facts import FactRepository

    repo = FactRepository(
        mongo.database(mongo.client(settings.mongo_url or ""), region, "registry")
    )
    assert await repo.claim("k1", "never-stored") is None
    assert await repo.claim("k1", "second") is None  # taken over
    assert await repo.claim("k1", "second") is None  # its own
    assert await repo.claim("k1", "third") is None  # "second" was not stored either


async def test_a_fact_recorded_by_mistake_is_withdrawn_and_counts_no_more(
    client: BusClient, region: str
) -> None:
    """Staff withdraw a fact recorded by mistake, with why: it is no longer counted, stays
    listed as withdrawn (by whom, why), and the fact as it really was can be recorded. The
    same command again answers as before; a second withdrawal, a change of a withdrawn
    introduction, another region's staff and other roles are refused."""
    anna = staff(region)
    sme = await client.call(c.REGISTER_SME, new_sme(), region, actor=anna)
    show = c.RecordTradeShowPresentation(
        sme_id=sme.sme_id, show="MEDICA", country="DE", presented_on=TODAY
    )
    wrong = await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, show, region, actor=anna)
    asked = c.WithdrawFact(fact_id=wrong.fact_id, reason="the wrong SME was chosen")
    for role in ("sme", "organiser", "steering"):
        other = Actor(id=f"x@{region}.example", role=role, region=region, sme_id=sme.sme_id)
        with pytest.raises(Refused) as refused:
            await client.call(c.WITHDRAW_FACT, asked, region, actor=other)
        assert refused.value.code == "forbidden"
    elsewhere = Actor(id="staff@riga.example", role="map_staff", region="riga")
    with pytest.raises(Refused) as refused:
        await client.call(c.WITHDRAW_FACT, asked, region, actor=elsewhere)
    assert refused.value.code == "forbidden"

    done = await client.call(c.WITHDRAW_FACT, asked, region, actor=anna, id="withdraw-1")
    assert (done.fact_id, done.version) == (wrong.fact_id, 2)
    assert await client.call(c.WITHDRAW_FACT, asked, region, actor=anna, id="withdraw-1") == done
    with pytest.raises(Refused) as refused:
        await client.call(c.WITHDRAW_FACT, asked, region, actor=anna)
    assert refused.value.code == "conflict"
    with pytest.raises(Refused) as refused:
        await client.call(
            c.WITHDRAW_FACT, c.WithdrawFact(fact_id="nothing", reason="x"), region, actor=anna
        )
    assert refused.value.code == "not_found"

    listed = (await client.call(c.LIST_FACTS, c.ListFacts(), region, actor=anna)).items
    [kept] = [f for f in listed if f.fact_id == wrong.fact_id]
    assert (kept.withdrawn, kept.withdrawn_reason, kept.withdrawn_by) == (
        True, "the wrong SME was chosen", anna.id
    )  # fmt: skip
    t = (await client.call(c.GET_KPIS, period(), region)).total
    assert t.trade_show_presentations == 0
    # Recorded as it really was: counted again, once.
    await client.call(c.RECORD_TRADE_SHOW_PRESENTATION, show, region, actor=anna)
    t = (await client.call(c.GET_KPIS, period(), region)).total
    assert t.trade_show_presentations == 1

    intro = c.RecordCompanyIntroduction(
        sme_id=sme.sme_id, company="Nokia Oyj", company_country="FI", introduced_on=TODAY
    )
    met = await client.call(c.RECORD_COMPANY_INTRODUCTION, intro, region, actor=anna)
    gone = c.WithdrawFact(fact_id=met.fact_id, reason="typed twice")
    await client.call(c.WITHDRAW_FACT, gone, region, actor=anna)
    changed = intro.model_copy(update={"fact_id": met.fact_id, "outcome": "cooperation_agreed"})
    with pytest.raises(Refused) as refused:
        await client.call(c.RECORD_COMPANY_INTRODUCTION, changed, region, actor=anna)
    assert refused.value.code == "conflict"

    # Why it was withdrawn is free text that may name the SME's people: erased with the SME.
    await client.call(c.ERASE_SME, c.EraseSme(sme_id=sme.sme_id, reason="asked"), region)
    listed = (await client.call(c.LIST_FACTS, c.ListFacts(), region, actor=anna)).items
    withdrawn = [f for f in listed if f.withdrawn]
    assert len(withdrawn) == 2
    assert {(f.sme_id, f.withdrawn_reason) for f in withdrawn} == {(None, ERASED_REASON)}


async def test_a_withdrawal_and_a_change_at_once_neither_undoes_the_other(
    settings: Settings, client: BusClient, region: str
) -> None:
    """Two staff at once: one withdraws an introduction while the other tells its outcome.
    Whichever writes second read the fact before the first wrote it: it is refused (conflict,
    reason changed), not stored over the other. Without the version check the outcome's change
    silently brought the withdrawn fact back into the indicators, or the withdrawal silently
    dropped the outcome."""
    from datetime import UTC as _UTC

    from mapnet.runtime import mongo
    from mapnet.runtime.codec import make_envelope
    from services.registry.adapters.facts import CalendarRepository, FactRepository
    from services.registry.adapters.repository import SmeRepository
    from services.registry.domain.facts import Fact
    from services.registry.service_layer.facts import Facts

    anna, bert = staff(region), Actor(id=f"bert@{region}.example", role="map_staff", region=region)
    sme = await client.call(c.REGISTER_SME, new_sme(), region, actor=anna)
    intro = c.RecordCompanyIntroduction(
        sme_id=sme.sme_id, company="Ericsson AB", company_country="SE", introduced_on=TODAY
    )
    told = intro.model_copy(update={"outcome": "cooperation_agreed"})
    db = mongo.database(mongo.client(settings.mongo_url or ""), region, "registry")

    class Racing(FactRepository):
        """Reads the fact, then lets the other staff member's command in before the write."""

        meanwhile: Any = None

        async def get(self, fact_id: str) -> Fact | None:
            found = await super().get(fact_id)
            if self.meanwhile is not None:
                await self.meanwhile(fact_id)
            return found

    def facts_of(repo: FactRepository) -> Facts:
        return Facts(region, SmeRepository(db), repo, CalendarRepository(db),
                     lambda: datetime.now(_UTC))  # fmt: skip

    async def stored(fact_id: str) -> c.Fact:
        found = await FactRepository(db).get(fact_id)
        assert found is not None
        return found.view()

    # The withdrawal read the fact; the outcome was told before it wrote.
    first = await client.call(c.RECORD_COMPANY_INTRODUCTION, intro, region, actor=anna)
    racing = Racing(db)

    async def outcome_told(fact_id: str) -> None:
        racing.meanwhile = None
        change = told.model_copy(update={"fact_id": fact_id})
        await client.call(c.RECORD_COMPANY_INTRODUCTION, change, region, actor=bert)

    racing.meanwhile = outcome_told
    withdraw = c.WithdrawFact(fact_id=first.fact_id, reason="the wrong company")
    env = make_envelope(c.WITHDRAW_FACT, withdraw, region=region, source="test", actor=anna)
    with pytest.raises(Refused) as refused:
        await facts_of(racing).withdraw(env)
    assert (refused.value.code, refused.value.details.get("reason")) == ("conflict", "changed")
    now = await stored(first.fact_id)
    assert (now.version, now.outcome, now.withdrawn) == (2, "cooperation_agreed", False)

    # The outcome's change read the fact; it was withdrawn before it wrote.
    second = await client.call(
        c.RECORD_COMPANY_INTRODUCTION,
        intro.model_copy(update={"company": "Nokia Oyj"}),
        region,
        actor=anna,
    )

    async def withdrawn(fact_id: str) -> None:
        racing.meanwhile = None
        gone = c.WithdrawFact(fact_id=fact_id, reason="typed twice")
        await client.call(c.WITHDRAW_FACT, gone, region, actor=bert)

    racing.meanwhile = withdrawn
    change = told.model_copy(update={"fact_id": second.fact_id, "company": "Nokia Oyj"})
    env2 = make_envelope(c.RECORD_COMPANY_INTRODUCTION, change, region=region, source="test",
                         actor=anna)  # fmt: skip
    with pytest.raises(Refused) as refused:
        await facts_of(racing).record_introduction(env2)
    assert (refused.value.code, refused.value.details.get("reason")) == ("conflict", "changed")
    now = await stored(second.fact_id)
    assert (now.version, now.outcome, now.withdrawn) == (2, "pending", True)
    t = (await client.call(c.GET_KPIS, period(), region)).total
    assert t.company_introductions == 1  # Ericsson's, not the withdrawn Nokia one
    # The withdrawn fact holds no key: the introduction as it really was can be recorded.
    await client.call(c.RECORD_COMPANY_INTRODUCTION, change.model_copy(update={"fact_id": None}),
                      region, actor=anna)  # fmt: skip
    t = (await client.call(c.GET_KPIS, period(), region)).total
    assert t.company_introductions == 2


async def test_a_fact_key_held_by_a_withdrawn_fact_is_taken_over(
    settings: Settings, region: str
) -> None:
    """A change racing a withdrawal may take the fact's key again after the withdrawal freed
    it: a withdrawn fact never keeps the fact as it really was from being recorded."""
    from mapnet.runtime import mongo
    from services.registry.adapters.facts import FactRepository
    from services.registry.domain.facts import Fact

    repo = FactRepository(
        mongo.database(mongo.client(settings.mongo_url or ""), region, "registry")
    )
    fact = Fact("f-withdrawn", "park_agreement", region, TODAY, "anna", datetime.now(UTC))
    await repo.add(fact)
    assert await repo.claim("k-w", fact.fact_id) is None
    assert await repo.claim("k-w", "another") == fact.fact_id  # held while it counts
    gone = fact.withdraw("by mistake", "anna", "cmd-1")
    assert await repo.replace(gone, fact.version)
    assert await repo.replace(gone, fact.version) is False  # at version 2 now
    assert await repo.claim("k-w", "another") is None  # taken over


async def test_a_withdrawal_of_the_version_seen_is_refused_once_the_fact_changed(
    client: BusClient, region: str
) -> None:
    """Staff withdraw what they saw: if the introduction was told anew since (another SME,
    company or outcome), the withdrawal of the old version is refused (conflict, changed) and
    the fact still counts; withdrawn at the version it is now, it counts no more."""
    anna = staff(region)
    sme = await client.call(c.REGISTER_SME, new_sme(), region, actor=anna)
    intro = c.RecordCompanyIntroduction(
        sme_id=sme.sme_id, company="ABB Oy", company_country="FI", introduced_on=TODAY
    )
    seen = await client.call(c.RECORD_COMPANY_INTRODUCTION, intro, region, actor=anna)
    corrected = intro.model_copy(update={"fact_id": seen.fact_id, "outcome": "not_pursued"})
    now = await client.call(c.RECORD_COMPANY_INTRODUCTION, corrected, region, actor=anna)
    assert now.version == 2
    stale = c.WithdrawFact(fact_id=seen.fact_id, reason="the wrong SME", version=seen.version)
    with pytest.raises(Refused) as refused:
        await client.call(c.WITHDRAW_FACT, stale, region, actor=anna)
    assert (refused.value.code, refused.value.details.get("reason")) == ("conflict", "changed")
    assert (await client.call(c.GET_KPIS, period(), region)).total.company_introductions == 1
    fresh = stale.model_copy(update={"version": now.version})
    assert (await client.call(c.WITHDRAW_FACT, fresh, region, actor=anna)).version == 3
    assert (await client.call(c.GET_KPIS, period(), region)).total.company_introductions == 0
