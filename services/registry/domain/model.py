"""The SME aggregate: its data, the classes derived from it, its contacts, cooperation profiles
and coaching journey. It enforces its rules and records the events its changes cause; no I/O."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from contracts import registry as c
from contracts.errors import Refused, conflict
from contracts.operations import Operation

from .classification import Derived, growth_class, size_class
from .journey import check_transition
from .validation import profile_problems, require, sme_problems

Recorded = tuple[Operation[Any, Any], BaseModel]
# Legal forms as they read once accents and punctuation are gone.
_LEGAL_FORMS = re.compile(
    r"\b(ou|as|ab|oy|oyj|aps|a s|gmbh|ag|sia|uab|sp z o o|ltd|llc|ooo|asa|se|inc)\b"
)


def name_key(legal_name: str) -> str:
    """A legal name without case, accents, punctuation or legal form: for near duplicates."""
    plain = unicodedata.normalize("NFKD", legal_name).encode("ascii", "ignore").decode().lower()
    plain = " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())
    return " ".join(_LEGAL_FORMS.sub(" ", plain).split())


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Sme:
    sme_id: str
    region: str
    version: int
    data: c.SmeFields
    contacts: list[c.Contact]
    profiles: list[c.Profile]
    stage: c.Stage
    stage_history: list[c.StageChange]
    created_at: datetime
    updated_at: datetime
    near_duplicates: list[str] = field(default_factory=list)
    events: list[Recorded] = field(default_factory=list)

    # --- creation ----------------------------------------------------------------------------

    @classmethod
    def register(
        cls, sme_id: str, region: str, cmd: c.RegisterSme, actor: str, now: datetime
    ) -> Sme:
        require(lambda: sme_problems(cmd.model_dump(mode="json"), "data", cmd.country))
        fields = c.SmeFields.model_validate(cmd.model_dump(exclude={"contacts"}))
        first = c.StageChange(
            from_stage=None, to_stage="identified", actor=actor, reason="registered", at=now
        )
        sme = cls(
            sme_id=sme_id,
            region=region,
            version=1,
            data=fields,
            contacts=[_contact(ci, None, now) for ci in cmd.contacts],
            profiles=[],
            stage="identified",
            stage_history=[first],
            created_at=now,
            updated_at=now,
        )
        sme._record(c.SME_REGISTERED, c.SmeRegistered(**sme.public().model_dump()))
        sme._share(was_shared=False)
        return sme

    # --- changes -----------------------------------------------------------------------------

    def update(self, changes: c.SmeChanges, now: datetime) -> None:
        # A field left out (or null) is not changed.
        given = changes.model_dump(exclude_none=True)
        was_shared = self.data.share_with_network
        contacts = given.pop("contacts", None)
        if not given and contacts is None:
            raise Refused("validation_failed", "no change given", fields=[])
        require(lambda: sme_problems(given, "data.changes", self.data.country))
        self.data = c.SmeFields.model_validate({**self.data.model_dump(), **given})
        self.__dict__.pop("classes", None)
        if contacts is not None:
            previous = {ct.email: ct for ct in self.contacts}
            self.contacts = [
                _contact(ci, previous.get(ci.email), now) for ci in (changes.contacts or [])
            ]
        self._touch(now)
        self._record(c.SME_UPDATED, c.SmeUpdated(**self.public().model_dump()))
        self._share(was_shared)

    def change_stage(self, to_stage: c.Stage, actor: str, reason: str, now: datetime) -> None:
        check_transition(self.stage, to_stage)
        change = c.StageChange(
            from_stage=self.stage, to_stage=to_stage, actor=actor, reason=reason, at=now
        )
        self.stage = to_stage
        self.stage_history.append(change)
        self._touch(now)
        self._record(
            c.SME_STAGE_CHANGED,
            c.SmeStageChanged(
                sme_id=self.sme_id,
                region=self.region,
                change=change,
                clusters=list(self.data.clusters),
            ),
        )
        self._share(self.data.share_with_network)

    def draft_profile(self, given: c.ProfileInput, new_profile_id: str, now: datetime) -> c.Profile:
        """Keep a profile being written: nobody outside the MAP sees it, no event is sent."""
        return self._put_profile(given, new_profile_id, now, publish=False)

    def publish_profile(
        self, given: c.ProfileInput, new_profile_id: str, now: datetime, *, review: bool = False
    ) -> c.Profile:
        """Published, or with ``review`` (a contact's, where the region reviews profiles)
        sent for review: nobody outside the MAP sees it until staff approve it. A published
        profile sent for review again leaves the network's view until then (withdrawn)."""
        if not review:
            return self._put_profile(given, new_profile_id, now, publish=True)
        was = self._profile(given.profile_id) if given.profile_id else None
        profile = self._put_profile(given, new_profile_id, now, publish=False, checked=False)
        profile.status, profile.submitted_at = "in_review", now
        if was is not None and was.status == "published":
            self._record(
                c.PROFILE_WITHDRAWN,
                c.ProfileWithdrawn(
                    sme_id=self.sme_id,
                    region=self.region,
                    profile_id=profile.profile_id,
                    reason="changed: in review again",
                ),
            )
            self._share(self.data.share_with_network)
        return profile

    def review_profile(self, profile_id: str, approve: bool, note: str, now: datetime) -> None:
        """Staff's decision on a profile in review: published, or a draft again with the note
        saying why."""
        profile = self._profile(profile_id)
        if profile is None:
            raise Refused("not_found", f"profile {profile_id} does not exist", id=profile_id)
        if profile.status != "in_review":
            raise conflict(f"profile {profile_id} is not in review", profile_id=profile_id,
                           status=profile.status)  # fmt: skip
        if not approve and not note.strip():
            raise Refused("validation_failed", "say what to change: a note goes with it back",
                          fields=[{"field": "data.note", "message": "empty",
                                   "type": "missing"}])  # fmt: skip
        self._touch(now)
        if not approve:
            profile.status, profile.review_note = "draft", note.strip()
            return
        profile.status, profile.published_at, profile.review_note = "published", now, ""
        self._record(c.PROFILE_PUBLISHED, c.ProfilePublished(sme=self.public(), profile=profile))
        self._share(self.data.share_with_network)

    def _put_profile(
        self, given: c.ProfileInput, new_profile_id: str, now: datetime, *, publish: bool,
        checked: bool = True,
    ) -> c.Profile:  # fmt: skip
        if given.expires_on < now.date():
            raise Refused(
                "validation_failed",
                "a profile cannot expire before it is written",
                fields=[
                    {
                        "field": "data.profile.expires_on",
                        "message": "in the past",
                        "type": "date_past",
                    }
                ],
            )
        require(lambda: profile_problems(given.model_dump(mode="json"), "data.profile"))
        profile_id = given.profile_id or new_profile_id
        existing = self._profile(profile_id) if given.profile_id else None
        if given.profile_id and existing is None:
            raise Refused("not_found", f"profile {profile_id} does not exist", id=profile_id)
        if existing and existing.status == "withdrawn":
            raise conflict(f"profile {profile_id} was withdrawn", profile_id=profile_id)
        if existing and existing.status == "published" and not publish and checked:
            raise conflict(
                f"profile {profile_id} is published; withdraw it instead", profile_id=profile_id
            )
        profile = c.Profile(
            **{**given.model_dump(), "profile_id": profile_id},
            status="published" if publish else "draft",
            published_at=now if publish else None,
        )
        self.profiles = [p for p in self.profiles if p.profile_id != profile_id] + [profile]
        self._touch(now)
        if publish:
            self._record(
                c.PROFILE_PUBLISHED, c.ProfilePublished(sme=self.public(), profile=profile)
            )
            self._share(self.data.share_with_network)
        return profile

    def withdraw_profile(self, profile_id: str, reason: str, now: datetime) -> None:
        profile = self._profile(profile_id)
        if profile is None:
            raise Refused("not_found", f"profile {profile_id} does not exist", id=profile_id)
        if profile.status == "withdrawn":
            raise conflict(f"profile {profile_id} is already withdrawn", profile_id=profile_id)
        profile.status = "withdrawn"
        self._touch(now)
        self._record(
            c.PROFILE_WITHDRAWN,
            c.ProfileWithdrawn(
                sme_id=self.sme_id, region=self.region, profile_id=profile_id, reason=reason
            ),
        )
        self._share(self.data.share_with_network)

    def erase_contact(self, contact_id: str, now: datetime) -> c.Contact:
        """Remove one contact; answers who was removed."""
        erased = next((ct for ct in self.contacts if ct.id == contact_id), None)
        if erased is None:
            raise Refused("not_found", f"contact {contact_id} does not exist", id=contact_id)
        self.contacts = [ct for ct in self.contacts if ct.id != contact_id]
        self._touch(now)
        self._record(
            c.CONTACT_ERASED,
            c.ContactErased(
                sme_id=self.sme_id,
                region=self.region,
                contact_id=contact_id,
                erased_at=now,
                email_sha256=c.email_digest(erased.email),
            ),
        )
        return erased

    def erase(self, now: datetime) -> None:
        self._record(
            c.SME_ERASED, c.SmeErased(sme_id=self.sme_id, region=self.region, erased_at=now)
        )

    # --- reading -----------------------------------------------------------------------------

    def profiles_on(self, today: date) -> list[c.Profile]:
        """Profiles as they stand today: a published profile past its expiry date is expired,
        without anyone having to touch it."""
        return [
            p.model_copy(update={"status": "expired"})
            if p.status == "published" and p.expires_on < today
            else p
            for p in self.profiles
        ]

    @cached_property
    def classes(self) -> tuple[Derived, Derived]:
        """Size and growth class, derived once per state of the data (update() forgets them)."""
        return size_class(self.data.figures), growth_class(self.data.figures, self.data.founded_on)

    def view(self, today: date) -> c.SmeView:
        size, growth = self.classes
        return c.SmeView(
            **self.data.model_dump(),
            sme_id=self.sme_id,
            region=self.region,
            version=self.version,
            stage=self.stage,
            stage_history=self.stage_history,
            size_class=c.SizeClassification(value=size.value, reasons=size.reasons),
            growth_class=c.GrowthClassification(value=growth.value, reasons=growth.reasons),
            contacts=self.contacts,
            profiles=self.profiles_on(today),
            near_duplicates=self.near_duplicates,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )

    def public(self) -> c.SmePublic:
        return c.SmePublic(
            sme_id=self.sme_id,
            region=self.region,
            version=self.version,
            legal_name=self.data.legal_name,
            country=self.data.country,
            nace_codes=list(self.data.nace_codes),
            clusters=list(self.data.clusters),
            keywords=list(self.data.keywords),
            description=self.data.description,
            size_class=self.classes[0].value,
            growth_class=self.classes[1].value,
            stage=self.stage,
            share_with_network=self.data.share_with_network,
        )

    @classmethod
    def from_view(cls, view: c.SmeView) -> Sme:
        data = c.SmeFields.model_validate(view.model_dump(include=set(c.SmeFields.model_fields)))
        return cls(
            sme_id=view.sme_id,
            region=view.region,
            version=view.version,
            data=data,
            contacts=list(view.contacts),
            profiles=list(view.profiles),
            stage=view.stage,
            stage_history=list(view.stage_history),
            created_at=view.created_at,
            updated_at=view.updated_at,
            near_duplicates=list(view.near_duplicates),
        )

    # --- internals ---------------------------------------------------------------------------

    def _profile(self, profile_id: str) -> c.Profile | None:
        return next((p for p in self.profiles if p.profile_id == profile_id), None)

    def _touch(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now

    def _record(self, op: Operation[Any, Any], data: BaseModel) -> None:
        self.events.append((op, data))

    def _share(self, was_shared: bool) -> None:
        """Tell the network what it may now see of this SME: everything shareable as it stands,
        or, once consent is withdrawn, that it sees nothing. Private profiles and contacts never
        leave the region."""
        if self.data.share_with_network:
            shown = [
                p for p in self.profiles if p.status == "published" and p.visibility != "private"
            ]
            self._record(c.SME_SHARED, c.SmeShared(sme=self.public(), profiles=shown))
        elif was_shared:
            self._record(
                c.SME_UNSHARED,
                c.SmeUnshared(sme_id=self.sme_id, region=self.region, version=self.version),
            )


def _contact(given: c.ContactInput, before: c.Contact | None, now: datetime) -> c.Contact:
    """Each consent keeps the time it was first given; withdrawing it clears the time."""

    def since(flag: bool, previous_at: datetime | None) -> datetime | None:
        if not flag:
            return None
        return previous_at or now

    return c.Contact(
        **given.model_dump(),
        id=before.id if before else new_id(),
        consent_contact_at=since(
            given.consent_contact, before.consent_contact_at if before else None
        ),
        consent_share_network_at=since(
            given.consent_share_network,
            before.consent_share_network_at if before else None,
        ),
    )
