"""Events service on the bus: the routes of every operation it offers."""

from __future__ import annotations

from functools import partial

from contracts import events as c
from contracts import registry as rg
from contracts.common import SmeRef
from contracts.envelope import Envelope
from mapnet.runtime.service import Runtime

from ..adapters.away import AwayRegistrations
from ..adapters.repository import (
    ENTRIES,
    REGISTRATIONS,
    EntryRepository,
    RegistrationRepository,
)
from ..adapters.seats import SeatBook
from ..domain.calendar import entry_rules
from ..service_layer.handlers import DEFAULT_MAX_PAYLOAD, Calendar


def largest_message(rt: Runtime) -> int:
    """The largest message the bus carries, as the NATS server says (8 MB under mapnet up)."""
    return rt.nc.max_payload if rt.nc else DEFAULT_MAX_PAYLOAD


def build(rt: Runtime) -> None:
    entries = EntryRepository(rt.db, rt.region)
    registrations = RegistrationRepository(rt.db)
    seats = SeatBook(rt.db)
    away = AwayRegistrations(rt.db, rt.region)
    calendar = Calendar(
        rt.unit_of_work(), entries, registrations, seats, away, rt.forget_replies,
        rt.forget_sme, rt.forget_contact, max_reply_bytes=partial(largest_message, rt),
    )  # fmt: skip
    rt.outbox_collections += [ENTRIES, REGISTRATIONS]
    rt.startup += [
        entries.create_indexes,
        registrations.create_indexes,
        away.create_indexes,
        calendar.reconcile,
    ]

    # publish_event answers a repeat by itself (same external id, same content: no change).
    rt.handles(c.PUBLISH_EVENT, rules=entry_rules)(calendar.publish_event)
    rt.handles(c.CANCEL_EVENT)(calendar.cancel_event)
    # A registration's id derives from the caller and command id: a repeat after a crash
    # resumes it. Its first answer is kept in the registration (the handler answers repeats
    # and refuses an id reused for other content), not in the reply cache: two writes less.
    rt.handles(c.REGISTER_PARTICIPANT, remember_replies=False)(calendar.register_participant)
    rt.handles(c.CANCEL_REGISTRATION)(calendar.cancel_registration)
    rt.handles(c.RECORD_ATTENDANCE)(calendar.record_attendance)
    rt.handles(c.GET_EVENT)(calendar.get_event)

    rt.handles(c.LIST_CALENDAR)(calendar.list_calendar)
    rt.handles(c.LIST_REGISTRATIONS)(calendar.list_registrations)
    rt.handles(c.LIST_SME_REGISTRATIONS)(calendar.list_sme_registrations)
    rt.handles(c.GET_REGISTRATIONS)(calendar.get_registrations)
    rt.handles(c.GET_ICAL)(calendar.get_ical)

    _erasures(rt, calendar)
    _network_copies(rt, entries)
    # This region's SMEs' registrations at other regions' events, as their hosts tell them.
    rt.consumes_network(c.GUEST_REGISTRATION_CHANGED)(calendar.keep_guest_copy)

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
        c.GUEST_REGISTRATION_CHANGED,
    )


def _erasures(rt: Runtime, calendar: Calendar) -> None:
    """An erased SME's people leave every registration: its own region's and, from the
    network, those at this region's events."""

    async def on_sme_erased(event: Envelope[rg.SmeErased]) -> None:
        await calendar.forget_sme(SmeRef(sme_id=event.data.sme_id, region=event.data.region))

    rt.consumes(rg.SME_ERASED)(on_sme_erased)
    rt.consumes_network(rg.SME_ERASED)(on_sme_erased)

    async def on_contact_erased(event: Envelope[rg.ContactErased]) -> None:
        sme = SmeRef(sme_id=event.data.sme_id, region=event.data.region)
        await calendar.forget_contact(sme, event.data.email_sha256)

    rt.consumes(rg.CONTACT_ERASED)(on_contact_erased)
    rt.consumes_network(rg.CONTACT_ERASED)(on_contact_erased)


def _network_copies(rt: Runtime, entries: EntryRepository) -> None:
    """The other regions' network entries, kept beside this region's own."""

    # A copy is kept at its newest version: handling it twice changes nothing. Copies piling
    # up under load are written a batch at a time.
    @rt.consumes_network_batches(c.ENTRY_SHARED, idempotent=True)
    async def on_network_entries(events: list[Envelope[c.CalendarEntry]]) -> None:
        await entries.put_copies([event.data for event in events])

    @rt.consumes_network(c.ENTRY_UNSHARED)
    async def on_network_entry_unshared(event: Envelope[c.EntryUnshared]) -> None:
        await entries.drop_copy(event.data)
