"""Registry use cases: one command in, one unit of work, events out."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from typing import Any

from contracts import registry as c
from contracts.envelope import Envelope
from contracts.errors import Refused
from mapnet.runtime.access import command_key, id_reused, payload_digest
from mapnet.runtime.unit_of_work import RecordOutcome, Replied, UnitOfWork

from ..domain.access import as_seen_by, check_home_staff, check_may_change
from ..domain.kpis import Counted, kpis
from ..domain.model import Sme
from .ports import FirstAnswer, NameTaken, NewSme, SmeStore, StoryStore

# SME ids are derived from the command id, so that a command retried after a crash between the
# write and the reply finds the SME it already created instead of creating a second one.
_SME_NAMESPACE = uuid.UUID("7b0c7d0e-2d6c-4f3b-9a55-6f1f0e5b2a10")


class Registry:
    def __init__(
        self,
        uow: UnitOfWork,
        smes: SmeStore,
        stories: StoryStore,
        forget_sme: Callable[[str], Awaitable[None]] | None = None,
        forget_contact: Callable[[str, str], Awaitable[None]] | None = None,
        counted: Callable[[], Awaitable[list[Counted]]] | None = None,
        forget_facts: Callable[[str], Awaitable[None]] | None = None,
        profile_review: bool = False,
    ) -> None:
        """``forget_sme``: drops what the runtime keeps of an erased SME's people (the answers
        cached about it, who acted for it in the audit trail); ``forget_contact`` the same of
        one erased contact (by the SHA-256 of their address). ``counted``: what else the
        indicators count (the facts staff record, the region's calendar); ``forget_facts``:
        unnames an erased SME in the facts recorded of it. ``profile_review``: a contact's
        profile is published only once staff approve it (the region's MAPNET_PROFILE_REVIEW)."""
        self.profile_review = profile_review
        self.counted = counted
        self.forget_facts = forget_facts
        self.uow = uow
        self.forget_sme = forget_sme
        self.forget_contact = forget_contact
        self.repo = smes
        self.stories = stories
        self.region = uow.region

    def now(self) -> datetime:
        return self.uow.now()

    async def register_sme(self, cmd: Envelope[c.RegisterSme]) -> Replied:
        """Its first answer is stored in the SME's record, in the write that creates it: a
        repeated command gets that answer byte for byte, however the SME changed since."""
        check_home_staff(cmd.actor, self.region)
        sme_id = str(uuid.uuid5(_SME_NAMESPACE, f"{self.region}:{command_key(cmd)}"))
        sme = Sme.register(sme_id, self.region, cmd.data, actor=_who(cmd), now=self.now())
        events = self.uow.events_of(sme, cmd, subject=sme_id)
        digest = payload_digest(cmd)

        async def add(claim_name: bool) -> Replied:
            answer = self.uow.answer(c.REGISTER_SME, cmd, sme.view(self.now().date()), sme_id)
            sent_and_got = FirstAnswer(digest, answer.envelope)
            write = self.repo.add(sme, events, sent_and_got, claim_name=claim_name)
            await self.uow.commit(self.repo.name, sme_id, events, write)
            return answer

        try:
            try:
                # A name no SME holds is claimed by the insert itself: no look-up first.
                return await add(claim_name=True)
            except NameTaken:
                sme.near_duplicates = await self.repo.similar_names(sme)
                return await add(claim_name=False)
        except Refused as refused:
            # The same command again, unless the id comes back with other content.
            if refused.details.get("existing_sme_id") == sme_id:
                first = await self.repo.first_answer(sme_id)
                if first is not None and first.digest != digest:
                    raise id_reused(cmd) from None
                if first is not None and first.reply:
                    return Replied(first.reply, sme_id)
                if existing := await self.repo.get(sme_id):
                    # Its contact was erased since: the answer now is the SME as it is.
                    return self.uow.answer(
                        c.REGISTER_SME, cmd, existing.view(self.now().date()), sme_id
                    )
            raise

    async def register_smes(self, cmd: Envelope[c.RegisterSmes]) -> Replied:
        """Each row as register_sme registers it (its checks, near duplicates by the name's
        claim, its sme_registered event, the same SME id for the same row from the same caller),
        the batch's new SMEs written together: one insert (two when a row's name is taken,
        with its near duplicates looked up between) and one write of the clusters' counts.
        A row registered before (a re-run of an import) is answered with its SME, nothing
        written. Each row that registered an SME, or was refused as a duplicate, gets an audit
        entry of its own (record_id its SME), besides the batch's. The answer names ids and
        reasons only, never a person: an erasure has nothing to take from the cached answer
        of a repeated batch."""
        check_home_staff(cmd.actor, self.region)
        now, who = self.now(), _who(cmd)
        results: dict[int, c.SmeRowResult] = {}
        new: dict[str, _Row] = {}
        again: dict[int, _Row] = {}  # a row id given twice: the later ones as repeats
        for index, row in enumerate(cmd.data.rows):
            sme_id = str(uuid.uuid5(_SME_NAMESPACE, f"{self.region}:{command_key(cmd, row.id)}"))
            digest = sha256(row.sme.model_dump_json().encode()).hexdigest()
            if (first := new.get(sme_id)) is not None:
                again[index] = _Row(index, row.id, first.sme, [], digest)
                continue
            try:
                sme = Sme.register(sme_id, self.region, row.sme, actor=who, now=now)
            except Refused as refused:
                results[index] = _row_refused(row.id, refused)
                continue
            events = self.uow.events_of(sme, cmd, subject=sme_id)
            new[sme_id] = _Row(index, row.id, sme, events, digest)
        written = await self._add_rows(list(new.values()), results)
        for row_ in written:
            self.uow.written(self.repo.name, row_.sme.sme_id, row_.events)
        for index, row_ in again.items():
            first_result = results[new[row_.sme.sme_id].index]
            if row_.digest != new[row_.sme.sme_id].digest:
                results[index] = _row_refused(row_.row_id, id_reused_row(row_.row_id))
            elif first_result.outcome == "refused":
                results[index] = first_result.model_copy(update={"id": row_.row_id})
            else:
                results[index] = first_result.model_copy(update={"repeated": True})
        answer = c.SmesRegistered(rows=[results[i] for i in range(len(cmd.data.rows))])
        # Every row in the trail as its own register_sme would be: bad input aside.
        audited = tuple(
            RecordOutcome(r.sme_id, "accepted")
            if r.error is None
            else RecordOutcome(
                r.error.details.get("existing_sme_id"), r.error.code, r.error.message
            )
            for r in answer.rows
            if r.error is None or r.error.code != "validation_failed"
        )
        replied = self.uow.answer(c.REGISTER_SMES, cmd, answer, refers_to="")
        return Replied(replied.envelope, None, audited)

    async def _add_rows(self, rows: list[_Row], results: dict[int, c.SmeRowResult]) -> list[_Row]:
        """The rows' SMEs written (the name claimed), those whose name is taken written again
        with their near duplicates; each row's result put in ``results``. Returns the rows
        written."""
        written: list[_Row] = []
        to_claim = rows
        for claim_name in (True, False):
            outcomes = await self.repo.add_many(
                [NewSme(r.sme, r.events, FirstAnswer(r.digest, b"")) for r in to_claim],
                claim_name=claim_name,
            )
            failed = [(r, e) for r, e in zip(to_claim, outcomes, strict=True) if e is not None]
            written += [r for r, e in zip(to_claim, outcomes, strict=True) if e is None]
            # Registered before (a re-run): its SME, found by id in one read.
            stored = await self.repo.registrations([r.sme.sme_id for r, _ in failed])
            to_claim = []
            for row, error in failed:
                before = stored.get(row.sme.sme_id)
                if before is not None:
                    if before.digest != row.digest:
                        results[row.index] = _row_refused(row.row_id, id_reused_row(row.row_id))
                    else:
                        results[row.index] = _row_result(
                            row.row_id, row.sme.sme_id, before.near_duplicates, repeated=True
                        )
                elif isinstance(error, NameTaken):
                    row.sme.near_duplicates = await self.repo.similar_names(row.sme)
                    to_claim.append(row)
                elif isinstance(error, Refused):
                    results[row.index] = _row_refused(row.row_id, error)
                else:
                    raise error
            if not to_claim:
                break
        for row in written:
            results[row.index] = _row_result(row.row_id, row.sme.sme_id, row.sme.near_duplicates)
        return written

    async def _change(
        self, sme_id: str, expected: int | None, cmd: Envelope[Any], change: Any
    ) -> c.SmeView:
        check_may_change(getattr(cmd, "actor", None), sme_id, self.region)
        sme = await self.repo.require(sme_id)
        read_version = sme.version
        if expected is not None and expected != read_version:
            raise Refused(
                "conflict",
                f"SME {sme_id} is at version {read_version}, not {expected}",
                expected_version=expected,
                current_version=read_version,
            )
        change(sme)
        await self.uow.save(
            sme, cmd, collection=self.repo.name, key=sme_id,
            write=lambda events: self.repo.save(sme, read_version, events),
        )  # fmt: skip
        return sme.view(self.now().date())

    async def update_sme(self, cmd: Envelope[c.UpdateSme]) -> c.SmeView:
        d = cmd.data
        return await self._change(
            d.sme_id, d.expected_version, cmd, lambda sme: sme.update(d.changes, self.now())
        )

    async def change_stage(self, cmd: Envelope[c.ChangeStage]) -> c.SmeView:
        d = cmd.data
        return await self._change(
            d.sme_id,
            None,
            cmd,
            # Who moved it is who the request acts for, not what its data says.
            lambda sme: sme.change_stage(d.to_stage, _who(cmd), d.reason, self.now()),
        )

    async def publish_profile(self, cmd: Envelope[c.PublishProfile]) -> c.SmeView:
        return await self._put_profile(cmd, publish=True)

    async def draft_profile(self, cmd: Envelope[c.PublishProfile]) -> c.SmeView:
        return await self._put_profile(cmd, publish=False)

    async def _put_profile(self, cmd: Envelope[c.PublishProfile], *, publish: bool) -> c.SmeView:
        d = cmd.data
        profile_id = str(uuid.uuid5(_SME_NAMESPACE, f"profile:{command_key(cmd)}"))
        # Where the region reviews profiles, a contact's goes to staff first; staff's own
        # publishing is their approval.
        review = self.profile_review and cmd.actor is not None and cmd.actor.role == "sme"

        def put(sme: Sme) -> None:
            if publish:
                sme.publish_profile(d.profile, profile_id, self.now(), review=review)
            else:
                sme.draft_profile(d.profile, profile_id, self.now())

        return await self._change(d.sme_id, d.expected_version, cmd, put)

    async def review_profile(self, cmd: Envelope[c.ReviewProfile]) -> c.SmeView:
        d = cmd.data
        return await self._change(
            d.sme_id, None, cmd,
            lambda sme: sme.review_profile(d.profile_id, d.approve, d.note, self.now()),
        )  # fmt: skip

    async def list_profile_reviews(self, query: Envelope[c.ListProfileReviews]) -> Any:
        """The queue, the longest waiting first, a page at a time (the cursor: how many came
        before)."""
        check_home_staff(query.actor, self.region)
        given = query.data.cursor or "0"
        if not given.isdecimal():
            raise Refused("validation_failed", "not a cursor of this list", cursor=given)
        today = self.now().date()
        waiting = sorted(
            (c.ProfileInReview(sme_id=s.sme_id, legal_name=s.data.legal_name, profile=p)
             for s in await self.repo.in_review() for p in s.profiles_on(today)
             if p.status == "in_review"),
            key=lambda r: (r.profile.submitted_at or today, r.sme_id, r.profile.profile_id),
        )  # fmt: skip
        start, limit = int(given), query.data.limit
        after = start + limit
        more = str(after) if after < len(waiting) else None
        return c.ProfileReviewPage(items=waiting[start:after], next_cursor=more)

    async def withdraw_profile(self, cmd: Envelope[c.WithdrawProfile]) -> c.SmeView:
        d = cmd.data
        return await self._change(
            d.sme_id,
            None,
            cmd,
            lambda sme: sme.withdraw_profile(d.profile_id, d.reason, self.now()),
        )

    async def training_completed(self, sme_id: str, cmd: Envelope[Any]) -> None:
        """A completed course moves a selected SME to trained; anything else is left as it is."""
        sme = await self.repo.get(sme_id)
        if sme is None or sme.stage != "selected":
            return
        await self._change(
            sme_id,
            None,
            cmd,
            lambda s: s.change_stage(
                "trained", cmd.source, f"completed training {cmd.subject or ''}".strip(), self.now()
            ),
        )

    async def erase_sme(self, cmd: Envelope[c.EraseSme]) -> c.Accepted:
        check_may_change(cmd.actor, cmd.data.sme_id, self.region)
        try:
            sme = await self.repo.require(cmd.data.sme_id)
        except Refused as refused:
            if refused.code == "not_found":  # erased before? told again (a lost feed entry)
                await self.repo.told_again([cmd.data.sme_id])
            raise
        sme.erase(self.now())
        await self.uow.save(
            sme, cmd, collection=self.repo.name, key=sme.sme_id,
            write=lambda events: self.repo.erase(sme.sme_id, events),
        )  # fmt: skip
        await self._forget(sme.sme_id)
        if self.forget_facts is not None:
            await self.forget_facts(sme.sme_id)
        return c.Accepted(id=sme.sme_id, version=-1)

    async def erase_contact(self, cmd: Envelope[c.EraseContact]) -> c.SmeView:
        d = cmd.data
        erased: list[str] = []
        view = await self._change(
            d.sme_id, None, cmd,
            lambda sme: erased.append(sme.erase_contact(d.contact_id, self.now()).email),
        )  # fmt: skip
        await self.repo.forget_first_answer(d.sme_id)
        # Only the erased person goes from the answers and the trail: the SME's others stay.
        if self.forget_contact is not None:
            await self.forget_contact(d.sme_id, c.email_digest(erased[0]))
        return view

    async def _forget(self, sme_id: str) -> None:
        """Earlier answers may quote the erased person; they go too."""
        if self.forget_sme is not None:
            await self.forget_sme(sme_id)

    async def publish_success_story(self, cmd: Envelope[c.PublishSuccessStory]) -> c.StoryAccepted:
        """Stored either way, so it counts in the KPIs; published only with consent."""
        check_home_staff(cmd.actor, self.region)
        story_id = str(uuid.uuid5(_SME_NAMESPACE, f"story:{command_key(cmd)}"))
        d = cmd.data
        events = []
        if d.publication_consent:
            published = c.SuccessStoryPublished(
                story_id=story_id,
                region=self.region,
                title=d.title,
                text=d.text,
                smes=d.smes,
                agreement_type=d.agreement_type,
                happened_on=d.happened_on,
                clusters=d.clusters,
            )
            events.append(
                self.uow.event(c.SUCCESS_STORY_PUBLISHED, published, cmd, subject=story_id)
            )
        story = d.model_dump(mode="json")
        if await self.stories.add(story_id, story, events):  # not for a story stored before
            self.uow.written(self.stories.name, story_id, events)
        return c.StoryAccepted(story_id=story_id)

    async def get_kpis(self, query: Envelope[c.GetKpis]) -> c.Kpis:
        d = query.data
        if d.period_to < d.period_from:
            raise Refused(
                "validation_failed",
                "the period ends before it starts",
                fields=[
                    {"field": "data.period_to", "message": "before period_from", "type": "period"}
                ],
            )
        journeys = await self.repo.journeys()
        stories = await self.stories.dates_and_clusters()
        counted = await self.counted() if self.counted is not None else []
        return kpis(self.region, d.period_from, d.period_to, journeys, stories, counted)

    async def list_clusters(self, query: Envelope[c.ListClusters]) -> c.ClusterList:
        """The clusters of the region's SMEs by name (case aside), each with its count."""
        check_home_staff(query.actor, self.region)
        counts = await self.repo.clusters()
        named = sorted(counts, key=lambda name: (name.casefold(), name))
        return c.ClusterList(items=[c.ClusterCount(cluster=n, smes=counts[n]) for n in named])

    async def get_sme(self, query: Envelope[c.GetSme]) -> c.SmeView:
        check_home_staff(query.actor, self.region)
        sme = await self.repo.require(query.data.sme_id)
        today = self.now().date()
        return as_seen_by(query.actor, sme.view(today), today)


@dataclass
class _Row:
    """A row of register_smes on its way: where it is in the batch, its id, its SME and the
    events its registration caused, and its content's digest."""

    index: int
    row_id: str
    sme: Sme
    events: list[Envelope[Any]]
    digest: str


def _row_result(
    row_id: str, sme_id: str, near_duplicates: list[str], *, repeated: bool = False
) -> c.SmeRowResult:
    return c.SmeRowResult(
        id=row_id,
        outcome="near_duplicate" if near_duplicates else "registered",
        sme_id=sme_id,
        near_duplicates=near_duplicates,
        repeated=repeated,
    )


def _row_refused(row_id: str, refused: Refused) -> c.SmeRowResult:
    """A row refused as register_sme would refuse it (its fields named data.<field>)."""
    return c.SmeRowResult(id=row_id, outcome="refused", error=refused.body())


def id_reused_row(row_id: str) -> Refused:
    return Refused(
        "id_reused",
        f"row id {row_id} was used before for other content; a repeat must be the same row, "
        "a new row needs a new id",
        id=row_id,
    )


def _who(cmd: Envelope[Any]) -> str:
    """Who a change is recorded as made by: the actor the runtime let act, else the sender."""
    actor = getattr(cmd, "actor", None)
    return actor.id if actor is not None else str(cmd.source)
