"""What notify asks the other services of its region over the bus: an event it has not heard
of yet (its event_published may still be on its way), the people of registrations (their events
do not carry them), a meeting's message, and an SME's consenting contacts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError

from contracts import events as ev
from contracts import matching as mt
from contracts import registry as rg
from contracts.errors import Refused
from mapnet.runtime.bus import BusClient

from ..domain.rules import Person


class Directory:
    def __init__(self, connection: Callable[[], NATS | None], region: str, source: str) -> None:
        """``connection``: the service's NATS connection once it is started."""
        self._connection = connection
        self.region = region
        self.source = source

    def _bus(self) -> BusClient | None:
        nc = self._connection()
        return BusClient(nc, source=self.source, role="service") if nc is not None else None

    async def event(self, event_id: str) -> dict[str, Any] | None:
        """The calendar entry as its owner answers it; None if unknown or not reachable."""
        if (bus := self._bus()) is None:
            return None
        try:
            entry = await bus.call(ev.GET_EVENT, ev.GetEvent(event_id=event_id), self.region)
        except Refused:
            return None
        found: dict[str, Any] = entry.model_dump(mode="json")
        return found

    async def registrations(self, ids: list[str]) -> list[dict[str, Any]]:
        """The registrations with these ids with their people, as the events service answers
        (those erased left out). Unreachable, it raises: the registrations' events are then
        taken again later, not dropped."""
        bus = self._bus()
        if bus is None:
            raise RuntimeError("notify is not connected yet")
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), 100):
            query = ev.GetRegistrations(registration_ids=ids[start : start + 100])
            page = await bus.call(ev.GET_REGISTRATIONS, query, self.region)
            found += [r.model_dump(mode="json") for r in page.items]
        return found

    async def message(self, meeting_id: str) -> str:
        """A meeting's message as the matching service keeps it ("" if gone or unreachable:
        the mail is sent without it)."""
        if (bus := self._bus()) is None:
            return ""
        try:
            meeting = await bus.call(
                mt.GET_MEETING, mt.GetMeeting(meeting_id=meeting_id), self.region
            )
        except Refused:
            return ""
        return meeting.message

    async def rooms(self, event_id: str) -> dict[str, str]:
        """The room links of an event's remote meetings, by meeting id, as matching names them
        (none if it names none, or is not reachable now)."""
        if (bus := self._bus()) is None:
            return {}
        try:
            schedule = await bus.call(
                mt.GET_SCHEDULE, mt.GetSchedule(event_id=event_id), self.region
            )
        except (Refused, TimeoutError, NatsError):  # the mail goes without: the agenda has them
            return {}
        return {m.meeting_id: m.room_url for m in schedule.meetings if m.room_url}

    async def contacts(self, sme: dict[str, Any]) -> list[Person]:
        """The contacts of an SME of this region who consented to be contacted; none of an SME
        the registry does not know (erased). Unreachable, it raises: the survey's event is then
        taken again later, not dropped as if the SME had nobody to mail."""
        if sme.get("region") != self.region:
            return []
        bus = self._bus()
        if bus is None:
            raise RuntimeError("notify is not connected yet")
        try:
            view = await bus.call(rg.GET_SME, rg.GetSme(sme_id=sme["sme_id"]), self.region)
        except Refused as refused:
            if refused.code == "not_found":
                return []
            raise
        return [
            Person(str(p.email), p.name, p.language) for p in view.contacts if p.consent_contact
        ]
