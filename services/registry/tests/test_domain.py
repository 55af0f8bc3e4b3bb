"""The registry's domain rules, without servers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import registry as c
from contracts.errors import Refused
from services.registry.domain.classification import growth_class, size_class
from services.registry.domain.model import Sme, name_key
from services.registry.domain.nace import ancestors

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
M = Decimal(1_000_000)


def fig(
    year: int, staff: int | Decimal, turnover: Decimal | None = None, balance: Decimal | None = None
) -> c.YearlyFigures:
    return c.YearlyFigures(
        year=year, staff_headcount=Decimal(staff), turnover_eur=turnover, balance_sheet_eur=balance
    )


money = st.decimals(min_value=0, max_value=200 * M, places=0, allow_nan=False)


@given(staff=st.integers(0, 400), turnover=money, balance=money)
def test_size_class_follows_the_eu_definition(
    staff: int, turnover: Decimal, balance: Decimal
) -> None:
    got = size_class([fig(2025, staff, turnover, balance)]).value
    if staff < 10 and (turnover <= 2 * M or balance <= 2 * M):
        assert got == "micro"
    elif staff < 50 and (turnover <= 10 * M or balance <= 10 * M):
        assert got == "small"
    elif staff < 250 and (turnover <= 50 * M or balance <= 43 * M):
        assert got == "medium"
    else:
        assert got == "not_sme"


@given(staff=st.integers(0, 400), turnover=money, balance=money)
def test_size_class_always_gives_reasons(staff: int, turnover: Decimal, balance: Decimal) -> None:
    assert size_class([fig(2025, staff, turnover, balance)]).reasons


def test_size_uses_the_latest_year_and_needs_money() -> None:
    assert size_class([fig(2020, 300, 100 * M), fig(2025, 5, M)]).value == "micro"
    assert size_class([fig(2025, 5)]).value == "unknown"
    assert size_class([]).value == "unknown"


@given(start=st.integers(10, 500), rate=st.floats(0.0, 0.5), age=st.integers(0, 30))
def test_growth_class_follows_eurostat_oecd(start: int, rate: float, age: int) -> None:
    end_staff = Decimal(start) * Decimal(1 + rate) ** 3
    figures = [fig(2022, start), fig(2025, end_staff.quantize(Decimal("0.01")))]
    got = growth_class(figures, date(2025 - age, 1, 1))
    annual = (figures[1].staff_headcount / Decimal(start)) ** (Decimal(1) / 3) - 1
    if annual <= Decimal("0.10"):
        assert got.value == "neither"
    elif age <= 5:
        assert got.value == "gazelle"
    else:
        assert got.value == "high_growth"


def test_growth_needs_ten_staff_at_the_start_and_three_years() -> None:
    assert growth_class([fig(2022, 9), fig(2025, 90)], None).value == "neither"
    assert growth_class([fig(2024, 20), fig(2025, 90)], None).value == "unknown"
    assert growth_class([fig(2022, 10), fig(2025, 20)], None).value == "high_growth"


def registered() -> Sme:
    cmd = c.RegisterSme(
        legal_name="Nano Optics OÜ",
        registration_number="14000009",
        country="EE",
        founded_on=date(2022, 3, 1),
        clusters=["photonics"],
    )
    return Sme.register("s1", "tallinn", cmd, actor="staff", now=NOW)


def test_registering_records_the_event() -> None:
    sme = registered()
    assert [op.name for op, _ in sme.events] == ["sme_registered"]
    assert sme.stage == "identified" and sme.version == 1


def test_journey_allows_only_the_next_step() -> None:
    sme = registered()
    with pytest.raises(Refused) as refused:
        sme.change_stage("trained", "staff", "skipping", NOW)
    assert refused.value.code == "conflict" and refused.value.details["allowed"] == ["selected"]
    for stage in ("selected", "trained", "coached", "internationalised"):
        sme.change_stage(stage, "staff", "earned", NOW)
    assert [h.to_stage for h in sme.stage_history][-1] == "internationalised"
    with pytest.raises(Refused):
        sme.change_stage("identified", "staff", "no way back from the end", NOW)


def profile(expires: date) -> c.ProfileInput:
    return c.ProfileInput(
        type="technology_offer",
        title="Laser welding of thin foils",
        summary="We weld",
        partnership_types=["licence"],
        expires_on=expires,
    )


def test_profiles_expire_without_being_touched_and_withdrawn_stay_withdrawn() -> None:
    sme = registered()
    published = sme.publish_profile(profile(date(2027, 1, 31)), "p1", NOW)
    assert sme.profiles_on(date(2027, 1, 31))[0].status == "published"
    assert sme.profiles_on(date(2027, 2, 1))[0].status == "expired"
    sme.withdraw_profile(published.profile_id, "sold out", NOW)
    with pytest.raises(Refused):
        sme.withdraw_profile(published.profile_id, "again", NOW)
    with pytest.raises(Refused):
        sme.publish_profile(profile(date(2020, 1, 1)), "p2", NOW)


def test_names_and_nace_levels() -> None:
    assert name_key("Nano-Optics OÜ") == name_key("nano optics")
    assert ancestors("62.01") == ["J", "62", "62.0", "62.01"]
    assert ancestors("26") == ["C", "26"]


def test_changed_figures_change_the_derived_classes() -> None:
    sme = registered()
    assert sme.view(NOW.date()).size_class.value == "unknown"
    sme.update(c.SmeChanges(figures=[fig(2025, 300, 90 * M, 90 * M)]), NOW)
    assert sme.view(NOW.date()).size_class.value == "not_sme"
    assert sme.public().size_class == "not_sme"


def test_a_draft_is_published_later_and_sends_its_event_then() -> None:
    sme = registered()
    sme.events.clear()
    draft = sme.draft_profile(profile(date(2027, 6, 30)), "p1", NOW)
    assert draft.status == "draft" and sme.events == []
    given = profile(date(2027, 6, 30)).model_copy(update={"profile_id": "p1"})
    published = sme.publish_profile(given, "ignored", NOW)
    assert published.status == "published" and [op.name for op, _ in sme.events] == [
        "profile_published"
    ]
    with pytest.raises(Refused) as refused:
        sme.draft_profile(given, "ignored", NOW)
    assert refused.value.code == "conflict"
    unknown = profile(date(2027, 6, 30)).model_copy(update={"profile_id": "nope"})
    with pytest.raises(Refused) as missing:
        sme.publish_profile(unknown, "ignored", NOW)
    assert missing.value.code == "not_found"


def _profile(profile_id: str | None = None, **extra: object) -> c.ProfileInput:
    return c.ProfileInput.model_validate(
        {"profile_id": profile_id, "type": "technology_offer", "title": "Nano optics",
         "summary": "Metasurfaces", "partnership_types": ["licence"],
         "expires_on": "2027-06-01"} | extra
    )  # fmt: skip


def _shared(sme: Sme) -> list[c.SmeShared | c.SmeUnshared]:
    return [d for op, d in sme.events if op in (c.SME_SHARED, c.SME_UNSHARED)]  # type: ignore[misc]


def test_an_sme_without_consent_shares_nothing() -> None:
    sme = registered()
    sme.publish_profile(_profile(), "p1", NOW)
    assert _shared(sme) == []


def test_the_network_sees_only_consented_smes_and_their_non_private_published_profiles() -> None:
    sme = registered()
    sme.update(c.SmeChanges(share_with_network=True), NOW)
    sme.publish_profile(_profile(), "p1", NOW)
    sme.publish_profile(_profile(visibility="private", title="Secret"), "p2", NOW)
    last = _shared(sme)[-1]
    assert isinstance(last, c.SmeShared) and last.sme.version == sme.version
    sme.draft_profile(_profile(title="Draft"), "p3", NOW)
    assert _shared(sme)[-1] is last  # a draft is nobody's business outside the MAP
    assert [p.profile_id for p in last.profiles] == ["p1"]
    sme.withdraw_profile("p1", "done", NOW)
    last = _shared(sme)[-1]
    assert isinstance(last, c.SmeShared) and last.profiles == []


def test_withdrawing_consent_tells_the_network_to_drop_the_copy() -> None:
    sme = registered()
    sme.update(c.SmeChanges(share_with_network=True), NOW)
    sme.events.clear()
    sme.update(c.SmeChanges(share_with_network=False), NOW)
    assert _shared(sme) == [c.SmeUnshared(sme_id="s1", region="tallinn", version=sme.version)]


def test_an_sme_is_found_by_the_beginnings_of_its_names_words_and_its_descriptions_words() -> None:
    from services.registry.domain.terms import query_terms, search_terms

    terms = search_terms("Photon Forge OÜ", ["Lasers"], ["photonics"], "Ultrafast lasers, fast.")
    assert {"p", "ph", "photon", "forge", "oü", "lasers", "photonics", "ultrafast", "fast"} <= set(
        terms
    )
    assert "ultra" not in terms  # a description's words are found whole
    assert query_terms("  Forge, PHOTON forge ") == ["photon", "forge"]  # longest first, once
    assert query_terms("!!!") == []
