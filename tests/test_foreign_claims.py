"""A region speaks only for itself on the network: an event whose envelope names another region
than its subject, or a shared record naming another region than its publisher, is refused by
every consumer (dead-lettered, never applied), and a region copies only its origins' own
subjects. Found by the review of issue 30: another region's operator could put a monthly
figures snapshot for Riga into its own shared stream, and every region stored it as Riga's."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.events import ENTRY_UNSHARED, EntryUnshared
from contracts.registry import SME_ERASED, SME_REGISTERED, SmeErased
from mapnet.federation.links import source_of
from mapnet.runtime.codec import make_envelope
from mapnet.runtime.consumer import foreign_claim
from tests.helpers import sme_registered


def test_a_shared_record_of_another_region_is_refused() -> None:
    erased = SmeErased(sme_id="s-1", region="riga", erased_at=datetime.now(UTC))
    forged = make_envelope(SME_ERASED, erased, region="tallinn", source="mapnet/tallinn/registry")
    subject = "mapnet.tallinn.registry.event.sme_erased"
    refused = foreign_claim(SME_ERASED, subject, forged) or ""
    assert "'riga' is not its publisher's 'tallinn'" in refused
    own = make_envelope(SME_ERASED, erased, region="riga", source="mapnet/riga/registry")
    assert foreign_claim(SME_ERASED, "mapnet.riga.registry.event.sme_erased", own) is None


def test_an_envelope_of_another_region_than_its_subject_is_refused() -> None:
    gone = EntryUnshared(event_id="e-1", region="riga", version=2)
    env = make_envelope(ENTRY_UNSHARED, gone, region="riga", source="mapnet/riga/events")
    assert foreign_claim(ENTRY_UNSHARED, "mapnet.tallinn.events.event.entry_unshared", env)
    assert foreign_claim(ENTRY_UNSHARED, "mapnet.riga.events.event.entry_unshared", env) is None


def test_a_local_event_is_checked_against_its_subject_only() -> None:
    env = sme_registered(region="tallinn")  # an envelope, as the registry publishes it
    assert (
        foreign_claim(SME_REGISTERED, "mapnet.tallinn.registry.event.sme_registered", env) is None
    )


def test_a_region_copies_only_its_origins_own_subjects() -> None:
    assert source_of("tallinn", "riga").filter_subject == "mapnet.tallinn.>"
