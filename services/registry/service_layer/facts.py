"""Recording the facts the seed counts, listing them, and keeping what the indicators count of
the region's calendar (from the events service's events)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from contracts import events as ev
from contracts import registry as c
from contracts.envelope import Envelope
from contracts.errors import Refused
from mapnet.runtime.access import command_key

from ..adapters.facts import CalendarRepository, FactRepository
from ..domain import facts
from ..domain.access import check_home_staff
from ..domain.kpis import Counted
from .ports import SmeStore

_FACT_NAMESPACE = uuid.UUID("0c6f1f7e-3b1a-4e8e-9f59-1d2b7e4c9a31")


class Facts:
    def __init__(
        self,
        region: str,
        smes: SmeStore,
        facts: FactRepository,
        calendar: CalendarRepository,
        now: Callable[[], datetime],
    ) -> None:
        self.region = region
        self.now = now
        self.smes = smes
        self.facts = facts
        self.calendar = calendar

    def _id(self, cmd: Envelope[Any]) -> str:
        # From the command: a repeat after a crash between write and reply finds the same fact.
        return str(uuid.uuid5(_FACT_NAMESPACE, f"{self.region}:{command_key(cmd)}"))

    async def _own_sme_clusters(self, cmd: Envelope[Any], sme_id: str) -> list[str]:
        """Staff record facts only of their own region's SMEs: the SME must be one of ours."""
        check_home_staff(cmd.actor, self.region)
        sme = await self.smes.require(sme_id)
        return list(sme.data.clusters)

    async def record_presentation(
        self, cmd: Envelope[c.RecordTradeShowPresentation]
    ) -> c.FactRecorded:
        clusters = await self._own_sme_clusters(cmd, cmd.data.sme_id)
        fact = facts.presentation(
            self._id(cmd), self.region, cmd.data, clusters, _who(cmd), self.now()
        )
        return await self._stored(fact)

    async def record_introduction(
        self, cmd: Envelope[c.RecordCompanyIntroduction]
    ) -> c.FactRecorded:
        clusters = await self._own_sme_clusters(cmd, cmd.data.sme_id)
        before = None
        if cmd.data.fact_id is not None:
            before = await self.facts.get(cmd.data.fact_id)
            if before is None:
                raise Refused(
                    "not_found", f"no introduction {cmd.data.fact_id}", id=cmd.data.fact_id
                )
        fact_id = before.fact_id if before else self._id(cmd)
        fact = facts.introduction(
            fact_id, self.region, cmd.data, clusters, _who(cmd), self.now(), before
        )
        return await self._stored(fact, before)

    async def record_agreement(self, cmd: Envelope[c.RecordParkAgreement]) -> c.FactRecorded:
        check_home_staff(cmd.actor, self.region)
        fact = facts.agreement(self._id(cmd), self.region, cmd.data, _who(cmd), self.now())
        return await self._stored(fact)

    async def _stored(self, fact: facts.Fact, before: facts.Fact | None = None) -> c.FactRecorded:
        """Stored once: a second record of the same fact (another command, another person) is
        refused, naming the one recorded; the same command again finds its own."""
        key = facts.same_fact(fact)
        if (recorded := await self.facts.claim(key, fact.fact_id)) is not None:
            raise facts.already_recorded(fact, recorded)
        if before is None:
            await self.facts.add(fact)
        elif not await self.facts.replace(fact, before.version):
            if key != facts.same_fact(before):  # the key it took is not its own after all
                await self.facts.release(key, fact.fact_id)
            raise facts.changed_meanwhile(before)
        if before is not None and (old := facts.same_fact(before)) != key:
            await self.facts.release(old, before.fact_id)
        return c.FactRecorded(fact_id=fact.fact_id, kind=fact.kind, version=fact.version)

    async def withdraw(self, cmd: Envelope[c.WithdrawFact]) -> c.FactRecorded:
        """No longer counted; its key freed, so the fact as it really was can be recorded."""
        check_home_staff(cmd.actor, self.region)
        before = await self.facts.get(cmd.data.fact_id)
        if before is None or before.region != self.region:
            raise Refused("not_found", f"no fact {cmd.data.fact_id}", id=cmd.data.fact_id)
        d = cmd.data
        withdrawn = before.withdraw(d.reason, _who(cmd), command_key(cmd), d.version)
        if withdrawn is not before:
            if not await self.facts.replace(withdrawn, before.version):
                raise facts.changed_meanwhile(before)
            await self.facts.release(facts.same_fact(before), before.fact_id)
        return c.FactRecorded(
            fact_id=withdrawn.fact_id, kind=withdrawn.kind, version=withdrawn.version
        )

    async def list_facts(self, query: Envelope[c.ListFacts]) -> c.FactPage:
        check_home_staff(query.actor, self.region)
        found, cursor = await self.facts.page(query.data)
        return c.FactPage(items=[f.view() for f in found], next_cursor=cursor)

    async def counted(self) -> list[Counted]:
        """Everything recorded here and in the region's calendar that the indicators count."""
        entries, attended = await self.calendar.entries_and_attended()
        return [*await self.facts.counted(), *facts.calendar_counted(entries, attended)]

    # --- the region's calendar, as the events service tells it --------------------------------

    async def entry_published(self, entry: ev.CalendarEntry) -> None:
        kept = facts.CalendarEntry(
            event_id=entry.event_id,
            kind=entry.kind,
            starts_on=entry.starts_at.date(),
            clusters=list(entry.clusters),
            country=entry.country,
            # Planned (not yet public) and cancelled entries are not counted.
            cancelled=entry.status != "published",
        )
        await self.calendar.put_entry(kept, entry.version)

    async def entry_cancelled(self, event_id: str) -> None:
        await self.calendar.cancel(event_id)

    async def attendance_recorded(self, registration: ev.RegistrationFact) -> None:
        if registration.attended_sessions:
            await self.calendar.attended_at(registration.registration_id, registration.event_id)


def _who(cmd: Envelope[Any]) -> str:
    actor = getattr(cmd, "actor", None)
    return actor.id if actor is not None else str(cmd.source)
