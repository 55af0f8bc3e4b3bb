"""Events service on the bus: the routes of every operation it offers."""

from __future__ import annotations

from contracts import events as c
from contracts.envelope import Envelope
from mapnet.runtime.service import Runtime

from ..adapters import ical, views
from ..adapters.repository import (
    ENTRIES,
    REGISTRATIONS,
    EntryRepository,
    RegistrationRepository,
)
from ..adapters.seats import SeatBook
from ..service_layer.handlers import Calendar


def build(rt: Runtime) -> None:
    entries = EntryRepository(rt.db, rt.region)
    registrations = RegistrationRepository(rt.db)
    seats = SeatBook(rt.db)
    calendar = Calendar(
        rt.region,
        entries,
        registrations,
        seats,
        rt.envelope,
        lambda event_id, events: rt.written(ENTRIES, event_id, events),
        lambda rid, events: rt.written(REGISTRATIONS, rid, events),
    )
    rt.outbox_collections += [ENTRIES, REGISTRATIONS]
    rt.startup += [entries.create_indexes, registrations.create_indexes, calendar.reconcile]

    # publish_event answers a repeat by itself (same external id, same content: no change).
    rt.handles(c.PUBLISH_EVENT, remember_replies=False)(calendar.publish_event)
    rt.handles(c.CANCEL_EVENT)(calendar.cancel_event)
    # A registration's id derives from the command id: a repeat resumes or returns it.
    rt.handles(c.REGISTER_PARTICIPANT, remember_replies=False)(calendar.register_participant)
    rt.handles(c.CANCEL_REGISTRATION)(calendar.cancel_registration)
    rt.handles(c.RECORD_ATTENDANCE)(calendar.record_attendance)
    rt.handles(c.GET_EVENT)(calendar.get_event)

    @rt.handles(c.LIST_CALENDAR)
    async def list_calendar(query: Envelope[c.ListCalendar]) -> c.CalendarPage:
        return await views.list_calendar(entries.entries, query.data)

    @rt.handles(c.LIST_REGISTRATIONS)
    async def list_registrations(query: Envelope[c.ListRegistrations]) -> c.RegistrationPage:
        await entries.require(query.data.event_id)
        return await views.list_registrations(registrations.registrations, seats, query.data)

    @rt.handles(c.GET_ICAL)
    async def get_ical(query: Envelope[c.GetIcal]) -> c.IcalDocument:
        q = query.data
        if q.email is None:
            found = await views.calendar_entries(entries.entries, q)
            return c.IcalDocument(ical=ical.to_ical(found, f"MAPnet {rt.region} calendar"))
        mine = await views.registrations_of(registrations.registrations, str(q.email))
        found = [e.view() for event_id in mine if (e := await entries.get(event_id))]
        withdrawn = {event_id for event_id, status in mine.items() if status == "cancelled"}
        return c.IcalDocument(ical=ical.to_ical(found, f"MAPnet: {q.email}", withdrawn))

    @rt.consumes_network(c.ENTRY_SHARED)
    async def on_network_entry(event: Envelope[c.CalendarEntry]) -> None:
        await entries.put_copy(event.data)

    @rt.consumes_network(c.ENTRY_UNSHARED)
    async def on_network_entry_unshared(event: Envelope[c.EntryUnshared]) -> None:
        await entries.drop_copy(event.data)

    rt.publishes(
        c.ATTENDANCE_RECORDED,
        c.EVENT_CANCELLED,
        c.EVENT_PUBLISHED,
        c.REGISTRATION_CANCELLED,
        c.REGISTRATION_CONFIRMED,
        c.REGISTRATION_WAITLISTED,
        c.TRAINING_COMPLETED,
        c.ENTRY_SHARED,
        c.ENTRY_UNSHARED,
    )
