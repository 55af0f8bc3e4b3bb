"""The marketplace's rules without servers: a company that does not share itself with the
network is shown to another region's people only as a participant of its region; expired,
private and draft profiles are never shown."""

from __future__ import annotations

from datetime import date, timedelta

from services.matching.domain.marketplace import Wanted, fits, participant

TODAY = date(2026, 12, 5)


def profile(title: str, **extra: object) -> dict[str, object]:
    return {"profile_id": title, "type": "technology_offer", "title": title, "summary": "s",
            "status": "published", "visibility": "network",
            "expires_on": (TODAY + timedelta(days=1)).isoformat()} | extra  # fmt: skip


JOINED = {"sme": {"sme_id": "a", "region": "tallinn"}, "remote": True}
SME = {"sme_id": "a", "region": "tallinn", "legal_name": "Alpha OÜ", "country": "EE",
       "clusters": ["ict"], "description": "d", "share_with_network": False}  # fmt: skip
PROFILES = [
    profile("shown"),
    profile("old", expires_on=(TODAY - timedelta(days=1)).isoformat()),
    profile("mine only", visibility="private"),
    profile("draft", status="draft"),
]


def test_a_company_not_shared_is_shown_elsewhere_only_as_its_region_s_participant() -> None:
    home = participant(JOINED, SME, PROFILES, "tallinn", TODAY)
    assert (home.legal_name, [p.title for p in home.profiles]) == ("Alpha OÜ", ["shown"])
    elsewhere = participant(JOINED, SME, PROFILES, "riga", TODAY)
    assert (elsewhere.legal_name, elsewhere.profiles, elsewhere.sme.region) == ("", [], "tallinn")
    shared = participant(JOINED, SME | {"share_with_network": True}, PROFILES, "riga", TODAY)
    assert shared.legal_name == "Alpha OÜ"
    unknown = participant(JOINED, None, [], "tallinn", TODAY)
    assert unknown.legal_name == "" and unknown.remote


def test_the_filters_ask_for_everything_they_name() -> None:
    alpha = participant(JOINED, SME, PROFILES, "tallinn", TODAY)
    assert fits(alpha, Wanted(country="EE", cluster="ict", profile_type="technology_offer"))
    assert fits(alpha, Wanted(text="ALPHA shown"))
    assert not fits(alpha, Wanted(text="alpha nowhere"))
    assert not fits(alpha, Wanted(profile_type="business_request"))
    assert not fits(alpha, Wanted(sme="tallinn:b"))
