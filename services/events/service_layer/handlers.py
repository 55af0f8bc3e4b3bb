"""Events use cases: one command in, one unit of work, events out."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial

from contracts import events as c
from contracts.common import SmeRef
from contracts.envelope import Envelope
from contracts.errors import Refused, not_found
from contracts.publishers import check_partner_acts_as_itself
from mapnet.runtime.access import command_key, id_reused, payload_digest
from mapnet.runtime.unit_of_work import Replied, UnitOfWork

from ..adapters import ical, views
from ..adapters.away import AwayRegistrations
from ..adapters.repository import (
    ENTRIES,
    REGISTRATIONS,
    EntryRepository,
    RegistrationRepository,
)
from ..adapters.seats import (
    RELEASED,
    EntryChanged,
    Note,
    SeatBook,
    has_free_seat,
    head_of_queue,
    holder_noted,
    note_of,
    old_holders,
    place,
)
from ..domain.access import (
    check_home_staff,
    check_ical_reader,
    check_may_cancel,
    check_organiser,
    check_registrant,
    check_sme_reader,
)
from ..domain.calendar import Entry, entry_id
from ..domain.registration import PENDING, SEAT, Registration

# Registration ids derive from the command id, so a retried command resumes its registration
# (entry ids: domain/calendar.py entry_id).
_NAMESPACE = uuid.UUID("3a8c2f9e-6d41-4b7a-8e0c-5f2d9b6a1c47")
_MAX_RETRIES = 20
# What an answer's envelope and headers take besides its data, of the bus's message size.
ENVELOPE_ROOM = 16 * 1024
# The bus's message size when it is not known (NATS's default).
DEFAULT_MAX_PAYLOAD = 1024 * 1024


class Calendar:
    def __init__(
        self,
        uow: UnitOfWork,
        entries: EntryRepository,
        registrations: RegistrationRepository,
        seats: SeatBook,
        away: AwayRegistrations,
        forget_replies: Callable[[str], Awaitable[None]] | None = None,
        forget_sme: Callable[[str], Awaitable[None]] | None = None,
        forget_contact: Callable[[str, str], Awaitable[None]] | None = None,
        max_reply_bytes: Callable[[], int] = lambda: DEFAULT_MAX_PAYLOAD,
    ) -> None:
        """``forget_replies``, ``forget_sme``, ``forget_contact``: drop what the runtime keeps
        of erased people (the answers cached about a record; those about an SME and who acted
        for it; who one erased contact was, by the digest of their address).
        ``max_reply_bytes``: the largest message the bus carries (its server says).
        ``away``: this region's SMEs' registrations at other regions' events (copies)."""
        self.max_reply_bytes = max_reply_bytes
        self._forget_replies = forget_replies
        self._forget_sme = forget_sme
        self._forget_contact = forget_contact
        self.uow = uow
        self.region = uow.region
        self.entries = entries
        self.registrations = registrations
        self.seats = seats
        self.away = away
        # The entries of events registered for, as last read (see _open_entry).
        self._registering: dict[str, Entry] = {}

    def now(self) -> datetime:
        return self.uow.now()

    # --- calendar entries ----------------------------------------------------------------------

    async def publish_event(self, cmd: Envelope[c.PublishEvent]) -> c.CalendarEntry:
        d = cmd.data
        check_partner_acts_as_itself(cmd.actor, d.partner_id)
        check_home_staff(cmd.actor, self.region)
        event_id = entry_id(self.region, d.partner_id, d.external_id)
        check_organiser(cmd.actor, event_id)
        if cmd.actor is None or cmd.actor.role != "partner":
            # A partner's name is the server's stamp; anyone else naming a publisher whose
            # entry is another region's read copy would republish it here as this region's.
            await self.entries.refuse_copy_of(d.partner_id, d.external_id)
        for _ in range(_MAX_RETRIES):
            previous = await self.entries.get(event_id)
            entry = Entry.publish(event_id, self.region, d, previous, self.now())
            if entry is previous:
                # (A repeat after a failure between the entry's write and the book's stamp:
                # the stamp is what stops the other instances' cached entries.)
                await self.seats.stamp_if_behind(event_id, entry.capacity, entry.version)
                return entry.view()
            expected = previous.version if previous else None
            try:
                await self.uow.save(
                    entry, cmd, collection=ENTRIES, key=event_id,
                    write=partial(self.entries.save, entry, expected),
                )  # fmt: skip
            except Refused as refused:
                if refused.code == "conflict":
                    continue  # the publisher sent two versions at once: apply the later one again
                raise
            await self._entry_saved(entry)
            await self._promote(event_id, cmd.correlationid)
            await self._tell_guests_their_places(event_id, cmd.correlationid)
            return entry.view()
        raise Refused("conflict", f"event {event_id} keeps changing; try again")

    async def cancel_event(self, cmd: Envelope[c.CancelEvent]) -> c.CalendarEntry:
        check_home_staff(cmd.actor, self.region)
        entry = await self.entries.require(cmd.data.event_id)
        check_partner_acts_as_itself(cmd.actor, entry.data.partner_id)
        check_organiser(cmd.actor, entry.event_id)
        read_version = entry.version
        entry.cancel(cmd.data.reason, self.now())
        if entry.version != read_version:
            await self.uow.save(
                entry, cmd, collection=ENTRIES, key=entry.event_id,
                write=lambda events: self.entries.save(entry, read_version, events),
            )  # fmt: skip
            await self._entry_saved(entry)
        else:  # cancelled before: a repeat after a failure before the stamp stamps it now
            await self.seats.stamp_if_behind(entry.event_id, entry.capacity, entry.version)
        return entry.view()

    async def _entry_saved(self, entry: Entry) -> None:
        """After a change of the entry: this process's copy of it goes, and the seat book is
        stamped with the version saved, so that registrations checked against an earlier one
        (in any instance) take no seat now (SeatBook.claim)."""
        self._registering.pop(entry.event_id, None)
        await self.seats.open(entry.event_id, entry.capacity, entry.version)

    async def get_event(self, query: Envelope[c.GetEvent]) -> c.EventDetails:
        return (await self.entries.require(query.data.event_id, copy_will_do=True)).details()

    # --- registrations -------------------------------------------------------------------------

    async def register_participant(self, cmd: Envelope[c.RegisterParticipant]) -> Replied:
        """Its first answer is kept in the registration, in the write that settles it (not in
        the reply cache: two writes less each): a repeat of the command gets that answer byte
        for byte, however the registration changed since; the same id with other content is
        ``id_reused``, as the reply cache would say."""
        check_registrant(cmd.actor, cmd.data, self.region)
        rid = str(uuid.uuid5(_NAMESPACE, f"registration:{self.region}:{command_key(cmd)}"))
        digest = payload_digest(cmd)
        try:
            entry = await self._open_entry(cmd.data)
        except Refused as refused:
            if refused.code in ("not_found", "not_home"):
                raise
            if await self.registrations.first_answer(rid) is None:
                raise
            return await self._repeated(cmd, rid, digest)  # a repeat: it resumes
        reg = Registration(rid, entry.event_id, self.region, cmd.data, self.now())
        # Stored pending first (a repeat of the command finds it there and resumes it).
        if not await self.registrations.add_pending(reg, digest):
            return await self._repeated(cmd, rid, digest)
        found: tuple[Registration, int] | None = (reg, 1)
        for _ in range(_MAX_RETRIES):
            try:
                settled = await self._settle(rid, cmd.correlationid, found, cmd, entry.version)
                return await self._answered(cmd, rid, settled)
            except EntryChanged:
                # The entry changed since it was checked (another instance's change, or this
                # one's cached entry): checked again as it is now, before any seat is taken.
                found = None
                try:
                    entry = await self._open_entry(cmd.data, fresh=True)
                except Refused:
                    await self.registrations.withdraw_pending(rid)
                    raise
        raise Refused("conflict", f"event {cmd.data.event_id} keeps changing; try again")

    async def _open_entry(self, data: c.RegisterParticipant, *, fresh: bool = False) -> Entry:
        """The event's entry, open for this registration. Kept from the last registration for
        it (a read less each): the seat book is stamped with the version each change of the
        entry saves (publish_event, cancel_event), and a seat is claimed only on the version
        checked here (``SeatBook.claim``). A refusal is checked on the entry read again."""
        entry = None if fresh else self._registering.get(data.event_id)
        if entry is not None:
            try:
                entry.check_open_for_registration(data.participation, self.now())
                return entry
            except Refused:
                pass  # perhaps no longer so: read it
        entry = await self.entries.require(data.event_id)
        if fresh:
            # (A book of a version that kept no stamp, or one stamped late: as saved now.)
            await self.seats.open(entry.event_id, entry.capacity, entry.version)
        self._registering[entry.event_id] = entry
        entry.check_open_for_registration(data.participation, self.now())
        return entry

    async def _repeated(
        self, cmd: Envelope[c.RegisterParticipant], rid: str, digest: str
    ) -> Replied:
        """The same registration again: its first answer, or (still pending after a crash, or
        its answer erased with its person) what it is now, kept as the answer from now on."""
        first = await self.registrations.first_answer(rid)
        if first is None:
            raise not_found("registration", rid)
        if first.digest is not None and first.digest != digest:
            raise id_reused(cmd)
        if first.reply is not None:
            return Replied(first.reply, rid)
        return await self._answered(cmd, rid, await self._settle(rid, cmd.correlationid, cmd=cmd))

    async def _answered(
        self, cmd: Envelope[c.RegisterParticipant], rid: str, settled: c.Registration | bytes
    ) -> Replied:
        """The answer to a registration command: the one its settling stored, else this one,
        kept unless another run of the same command kept one first (then that one)."""
        if isinstance(settled, bytes):
            return Replied(settled, rid)
        answer = self.uow.answer(c.REGISTER_PARTICIPANT, cmd, settled, rid)
        first = await self.registrations.keep_answer(rid, answer.envelope)
        return Replied(first, rid) if first is not None else answer

    async def _settle(
        self, rid: str, correlationid: str, found: tuple[Registration, int] | None = None,
        cmd: Envelope[c.RegisterParticipant] | None = None, entry_version: int | None = None,
    ) -> c.Registration | bytes:  # fmt: skip
        """Claim a seat or a waitlist place for a pending registration and store the outcome;
        resumable at any point. With the command (``cmd``): its answer is stored with the
        outcome, and answered (bytes) as stored. ``entry_version``: the entry it was checked
        against (see ``_open_entry``)."""
        reg, version = found or await self.registrations.require(rid)
        if reg.status != PENDING:
            return reg.view()
        claim = await self.seats.claim(reg.event_id, rid, entry_version)
        for _ in range(_MAX_RETRIES):
            if reg.status == PENDING and not claim.note.released:
                if claim.held == SEAT:
                    reg.confirm(claim.note.token)
                elif isinstance(claim.held, int):
                    reg.waitlist(claim.held, claim.position or 0, claim.note.token)
                answer = None
                if cmd is not None:
                    answer = self.uow.answer(c.REGISTER_PARTICIPANT, cmd, reg.view(), rid)
                if await self._store(reg, version, correlationid, answer):
                    # (Promoted meanwhile, the note is the promotion's: its promoter stores
                    # that, and this process leaves the note alone.)
                    self.seats.stored(reg.event_id, rid, claim.note)
                    return answer.envelope if answer is not None else reg.view()
            # Promoted, cancelled or settled by a repeat meanwhile: what is stored now is the
            # answer, and what the book did for this one is given back if nothing holds it.
            await self._square(reg.event_id, rid, correlationid)
            reg, version = await self.registrations.require(rid)
            if reg.status != PENDING:
                if reg.status == "cancelled":
                    await self._promote(reg.event_id, correlationid)
                return reg.view()
            claim = await self.seats.claim(reg.event_id, rid, entry_version)
        raise Refused("conflict", f"registration {rid} keeps changing; try again")

    async def _store(
        self, reg: Registration, version: int, correlationid: str, answer: Replied | None = None
    ) -> bool:
        reg.tell_home(version + 1)  # an SME of another region: its home hears, same write
        events = self.uow.events_of(reg, correlationid, subject=reg.registration_id)
        reply = answer.envelope if answer is not None else None
        if not await self.registrations.save(reg, version, events, reply):
            return False
        self.uow.written(REGISTRATIONS, reg.registration_id, events)
        return True

    async def _square(self, event_id: str, rid: str, correlationid: str) -> None:
        """Make the seat book and one registration agree, from the book's note about it (see
        adapters/seats.py) and the registration as stored: the book is read first, so that a
        registration read after it is never older than the book's changes to it. After a
        change that went through, the next step follows from it without reading both again."""
        read = True
        for _ in range(2 * _MAX_RETRIES):
            if read:
                book = await self.seats.book(event_id)
                found = await self.registrations.get(rid)
                if found is None:
                    return
                reg, version = found
                note = note_of(book, rid)
            read = True
            if reg.status == PENDING and not (note and note.promoted):
                return  # its settling is under way (or the next start's): it stores the note
            if note is None:
                if reg.status != "cancelled" or reg.held is None:
                    return  # the book counts what the registration says
                if await self.seats.give_back(book, rid, reg.held):
                    note, read = Note(RELEASED), False
            elif note.released:
                if reg.held is not None:
                    reg.given_back()
                    if not await self._store(reg, version, correlationid):
                        continue
                    version += 1
                if await self.seats.forget(event_id, rid, note):
                    return
            elif note.token is not None and note.token == reg.book_change:
                # Stored with it already: the note goes; a cancelled one then gives it back.
                if await self.seats.forget(event_id, rid, note):
                    book["claims"] = {k: v for k, v in book["claims"].items() if k != rid}
                    note, read = None, False
            elif note.promoted and reg.status in (PENDING, "waitlisted"):
                reg.confirm(note.token)  # (its settling, if under way, finds it confirmed)
                if await self._store(reg, version, correlationid):
                    version, read = version + 1, False
            else:  # the registration was never stored with it: nothing holds what it counts
                await self.seats.drop(book, rid, note)
        raise Refused("conflict", f"registration {rid} keeps changing; try again")

    async def _promote(self, event_id: str, correlationid: str) -> None:
        """Free seats to the head of the queue, in order, one at a time: the head's number is
        the book's, its holder found by equality on that number."""
        misses = 0
        while misses < _MAX_RETRIES:
            book = await self.seats.book(event_id)
            number = head_of_queue(book)
            if number is None or not has_free_seat(book):
                return
            rid = holder_noted(book, number)
            if rid is None:
                holding = await self.registrations.holding(event_id, number)
                if holding is None:
                    raise Refused("conflict", f"nobody holds place {number} of {event_id}")
                rid, status = holding
                if status == "cancelled":  # cancelled, not yet given back: give it back first
                    await self._square(event_id, rid, correlationid)
                    misses += 1
                    continue
            noted = note_of(book, rid)
            if noted is not None and noted.what != number:
                await self._square(event_id, rid, correlationid)
                misses += 1
                continue
            if await self.seats.promote(book, rid, number, noted):
                await self._square(event_id, rid, correlationid)  # stores its seat
                misses = 0
                if book["capacity"] is not None and book["confirmed"] + 1 >= book["capacity"]:
                    return  # (the seats it was guarded on, and the one it took)
            else:
                misses += 1  # the book changed meanwhile: read it again
        raise Refused("conflict", f"the waiting list of {event_id} keeps changing; try again")

    async def cancel_registration(self, cmd: Envelope[c.CancelRegistration]) -> c.Registration:
        rid = cmd.data.registration_id
        found: tuple[Registration, int] | None = await self.registrations.require(rid)
        assert found is not None
        check_may_cancel(cmd.actor, found[0].event_id, found[0].data.sme, self.region)
        for _ in range(_MAX_RETRIES):
            reg, version = found or await self.registrations.require(rid)
            found = None
            if reg.status == "cancelled":
                break
            reg.cancel()
            if await self._store(reg, version, cmd.correlationid):
                break
        else:
            raise Refused("conflict", f"registration {rid} keeps changing; try again")
        await self._give_back(reg.event_id, rid, cmd.correlationid)
        return reg.view()

    async def _give_back(self, event_id: str, rid: str, correlationid: str) -> None:
        await self._square(event_id, rid, correlationid)
        await self._promote(event_id, correlationid)
        await self._tell_guests_their_places(event_id, correlationid)

    async def _tell_guests_their_places(self, event_id: str, correlationid: str) -> None:
        """Places on the waitlist are the seat book's order, read when listed here; another
        region's copy hears them: each guest waiting whose place moved is stored with it,
        which tells its home (see ``_store``)."""
        for rid in await self.registrations.waiting_guests(event_id):
            for _ in range(_MAX_RETRIES):
                found = await self.registrations.get(rid)
                if found is None:
                    break
                reg, version = found
                now = place(await self.seats.book(event_id), reg.held)
                if now is None:
                    break  # got a seat or left meanwhile: that change tells it
                reg.move_on_waitlist(now)
                if not reg.moved or await self._store(reg, version, correlationid):
                    break

    async def record_attendance(self, cmd: Envelope[c.RecordAttendance]) -> c.Registration:
        check_home_staff(cmd.actor, self.region)
        reg, version = await self.registrations.require(cmd.data.registration_id)
        check_organiser(cmd.actor, reg.event_id)
        entry = await self.entries.require(reg.event_id)
        reg.attend(cmd.data.session, entry)
        if reg.events and not await self._store(reg, version, cmd.correlationid):
            raise Refused("conflict", "the registration changed meanwhile; check in again")
        return reg.view()

    async def forget_sme(self, sme: SmeRef) -> None:
        """An SME was erased (here or in its home region): the people registered for it go from
        every registration, and from the answers cached about those registrations; one of this
        region's, its copies of its registrations at other regions' events go too."""
        await self._erase_people(sme)
        await self.away.forget_sme(sme)
        if self._forget_sme is not None:
            await self._forget_sme(sme.sme_id)

    async def forget_contact(self, sme: SmeRef, email_sha256: str) -> None:
        """One contact of an SME was erased: they leave the registrations they made for it."""
        if email_sha256:  # (a tombstone from before tombstones named the person: nobody)
            await self._erase_people(sme, email_sha256)
            if self._forget_contact is not None:
                await self._forget_contact(sme.sme_id, email_sha256)

    async def _erase_people(self, sme: SmeRef, email_sha256: str | None = None) -> None:
        for rid in await self.registrations.erase_people_of(sme, email_sha256):
            if self._forget_replies is not None:
                await self._forget_replies(rid)

    async def reconcile(self) -> None:
        """After a crash: an old seat book's holders go into its registrations; registrations
        left pending are finished; what the books noted and no registration was stored with,
        and what cancelled registrations still hold, is given back; free seats go to the
        queue."""
        for event_id, _ in await self.seats.noted():
            book = await self.seats.book(event_id)
            if (held := old_holders(book)) is not None:
                await self.registrations.hold(held)
                await self.seats.migrated(book, held)
        for rid in await self.registrations.pending():
            await self._settle(rid, correlationid=f"reconcile-{rid}")
        for event_id, rids in await self.seats.noted():
            for rid in rids:
                await self._square(event_id, rid, f"reconcile-{event_id}")
        for event_id, rid in await self.registrations.giving_back():
            await self._square(event_id, rid, f"reconcile-{event_id}")
        for event_id, _ in await self.seats.noted():
            await self._promote(event_id, f"reconcile-{event_id}")
            # A crash may have cut the places' telling.
            await self._tell_guests_their_places(event_id, f"reconcile-{event_id}")

    # --- reads -------------------------------------------------------------------------------

    async def list_calendar(self, query: Envelope[c.ListCalendar]) -> c.CalendarPage:
        """A page of the calendar, with the clusters of every entry not over yet (the
        filter's choices)."""
        page = await views.list_calendar(self.entries.entries, query.data)
        page.clusters = await self.entries.clusters_on(self.now())
        return page

    async def get_registrations(self, query: Envelope[c.GetRegistrations]) -> c.RegistrationPage:
        check_home_staff(query.actor, self.region)
        return await views.registrations_by_id(
            self.registrations.registrations, self.seats, query.data.registration_ids
        )

    async def list_registrations(self, query: Envelope[c.ListRegistrations]) -> c.RegistrationPage:
        """The people registered for an event: to this region's staff, and to the event's
        own organisers."""
        check_home_staff(query.actor, self.region)
        check_organiser(query.actor, query.data.event_id)
        await self.entries.require(query.data.event_id)
        return await views.list_registrations(
            self.registrations.registrations, self.seats, query.data
        )

    async def keep_guest_copy(self, told: Envelope[c.GuestRegistration]) -> None:
        """Another region's fact about a registration at its event: kept if about one of this
        region's SMEs. Only the host speaks for its registrations (the event's region is the
        region the fact happened in)."""
        if told.region != told.data.region:
            return
        # The event must be the teller's, as far as the calendar knows it (a network entry's
        # copy; one it does not know yet is taken on the teller's word, and no other region
        # can overwrite that copy after: AwayRegistrations.keep).
        try:
            entry: Entry | None = await self.entries.require(
                told.data.registration.event_id, copy_will_do=True
            )
        except Refused:
            entry = None
        if entry is not None and entry.region != told.data.region:
            teller = told.data.region
            raise Refused(
                "forbidden", f"event {entry.event_id} is {entry.region}'s, not {teller}'s"
            )
        await self.away.keep(told.data)

    async def list_sme_registrations(
        self, query: Envelope[c.ListSmeRegistrations]
    ) -> c.SmeRegistrationPage:
        """An SME's seats and waitlist places, at this region's events and (copies) at other
        regions': to its own contacts and this region's staff; with ``upcoming`` only those of
        events not over yet (by this service's clock, from each event's end in UTC: the
        calendar holds the other regions' network entries too)."""
        check_sme_reader(query.actor, query.data.sme, self.region)
        upcoming = None
        if query.data.upcoming:
            upcoming = await views.not_over(self.entries.entries, self.now())
        return await views.sme_registrations(
            self.registrations.registrations, self.away.copies, self.seats, query.data, upcoming
        )

    async def get_ical(self, query: Envelope[c.GetIcal]) -> c.IcalDocument:
        """The calendar as iCal, the whole of the filter's (a subscribed calendar cannot ask
        for a next page); with an email, that person's events, those they left marked
        cancelled so that a subscribed calendar drops them. One larger than an answer carries
        is refused, saying so, never cut."""
        q = query.data
        room = self.max_reply_bytes() - ENVELOPE_ROOM
        if q.email is None:
            at_most = room // ical.SMALLEST_VEVENT
            found = await views.calendar_entries(self.entries.entries, q, at_most)
            if len(found) > at_most:
                raise too_large(f"more than {at_most} entries", room)
            # Rendered beside the event loop: a long calendar must not hold up other requests.
            text = await asyncio.to_thread(ical.to_ical, found, f"MAPnet {self.region} calendar")
            return c.IcalDocument(ical=fitting(text, room))
        check_ical_reader(query.actor, str(q.email), self.region)
        # Another region vouches only for its own people: asked from there, only what the
        # person registered for one of that region's SMEs.
        asking = query.actor.region if query.actor else self.region
        mine = await views.registrations_of(
            self.registrations.registrations,
            str(q.email),
            sme_region=asking if asking != self.region else None,
        )
        found = [e.view() for event_id in mine if (e := await self.entries.get(event_id))]
        withdrawn = {event_id for event_id, status in mine.items() if status == "cancelled"}
        text = await asyncio.to_thread(ical.to_ical, found, f"MAPnet: {q.email}", withdrawn)
        return c.IcalDocument(ical=fitting(text, room))


def fitting(text: str, room: int) -> str:
    """The iCal text, if its answer fits in one message (it travels as a JSON string, its
    line breaks escaped)."""
    size = len(json.dumps(text, ensure_ascii=False).encode())
    if size > room:
        raise too_large(f"{size} bytes", room)
    return text


def too_large(what: str, room: int) -> Refused:
    return Refused(
        "validation_failed",
        f"the calendar ({what}) is larger than one answer carries ({room} bytes): narrow it "
        "by period, region, country, kind or cluster",
        max_bytes=room,
        fields=[{"field": "data.period_from", "message": "narrow the calendar",
                 "type": "too_large"}],
    )  # fmt: skip
