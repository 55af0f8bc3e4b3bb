"""Finance eligibility as properties: every offer is suggested or left out with at least one
reason; widening an offer's criteria never removes it from the suggestions; an offer past its
deadline, or withdrawn, is never suggested. Plus the offer's own rules, field by field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import finance as c
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from services.guide.domain.finance import (
    Offer,
    check_publisher,
    check_sme_reader,
    offer_problems,
    suggest,
)

TODAY = date(2030, 6, 1)
NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)
COUNTRIES = ["EE", "FI", "DE", "SE", "PL", "LV"]
SIZES: list[rg.SizeClass] = ["micro", "small", "medium", "not_sme", "unknown"]


def subset(values: list[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(values), min_size=1, unique=True)


amounts = st.integers(min_value=0, max_value=2_000_000).map(Decimal)


@st.composite
def offers(draw: st.DrawFn) -> c.FinanceOffer:
    low, high = sorted([draw(amounts), draw(amounts)])
    deadline = draw(st.none() | st.integers(-30, 400).map(lambda d: TODAY + timedelta(days=d)))
    return c.FinanceOffer(
        partner_id="nordbank",
        external_id=draw(st.text("abc123", min_size=1, max_size=6)),
        offer_id=draw(st.uuids()).hex,
        region="tallinn",
        kind=draw(st.sampled_from(c.FINANCE_KINDS)),
        title="An offer",
        provider="Nordbank",
        markets=draw(subset(COUNTRIES)),
        sme_sizes=draw(subset(SIZES)),
        growth_classes=draw(subset(list(c.GROWTH_CLASSES))),
        stages=draw(subset(list(c.STAGES))),
        purposes=draw(subset(list(c.PURPOSES))),
        amount_min=low,
        amount_max=high,
        currency=draw(st.sampled_from(["EUR", "SEK"])),
        deadline=deadline,
        status=draw(st.sampled_from(["published", "published", "withdrawn"])),
        version=1,
        updated_at=NOW,
    )


facts = st.builds(
    c.SmeFinanceFacts,
    country=st.sampled_from(COUNTRIES),
    size_class=st.sampled_from(SIZES),
    growth_class=st.sampled_from(c.GROWTH_CLASSES),
    stage=st.sampled_from(c.STAGES),
)


@st.composite
def needs(draw: st.DrawFn) -> c.FinanceNeed | None:
    if draw(st.booleans()):
        return None
    return c.FinanceNeed(
        sme=SmeRef(region="tallinn", sme_id="s1"),
        amount=draw(amounts),
        currency=draw(st.sampled_from(["EUR", "SEK"])),
        purpose=draw(st.sampled_from(c.PURPOSES)),
        instruments=draw(st.lists(st.sampled_from(c.FINANCE_KINDS), unique=True)),
        by_when=TODAY + timedelta(days=90),
        target_markets=draw(st.lists(st.sampled_from(COUNTRIES), unique=True)),
        version=1,
        set_by="contact@sme.example",
        updated_at=NOW,
    )


@given(st.lists(offers(), max_size=8), facts, needs())
def test_every_offer_is_suggested_or_left_out_with_a_reason(
    found: list[c.FinanceOffer], sme: c.SmeFinanceFacts, need: c.FinanceNeed | None
) -> None:
    suggested, left_out = suggest(found, sme, need, TODAY)
    assert sorted(w.offer.offer_id for w in suggested + left_out) == sorted(
        o.offer_id for o in found
    )
    assert all(w.reasons and all(not r.fits for r in w.reasons) for w in left_out)
    assert all(all(r.fits for r in w.reasons) for w in suggested)


@given(offers(), facts, needs())
def test_a_past_deadline_or_a_withdrawn_offer_is_never_suggested(
    offer: c.FinanceOffer, sme: c.SmeFinanceFacts, need: c.FinanceNeed | None
) -> None:
    suggested, left_out = suggest([offer], sme, need, TODAY)
    if offer.deadline is not None and offer.deadline < TODAY:
        assert not suggested
        assert "deadline" in {r.criterion for r in left_out[0].reasons}
    if offer.status == "withdrawn":
        assert not suggested
        assert "status" in {r.criterion for r in left_out[0].reasons}


def fitting(data: st.DataObject, offer: c.FinanceOffer) -> tuple[c.SmeFinanceFacts, c.FinanceNeed]:
    """An SME and a need the offer mostly fits (else few drawn cases would be suggested)."""
    sme = c.SmeFinanceFacts(
        country=data.draw(st.sampled_from(offer.markets)),
        size_class=data.draw(st.sampled_from(offer.sme_sizes)),
        growth_class=data.draw(st.sampled_from(offer.growth_classes)),
        stage=data.draw(st.sampled_from(offer.stages)),
    )
    need = c.FinanceNeed(
        sme=SmeRef(region="tallinn", sme_id="s1"),
        amount=data.draw(st.integers(int(offer.amount_min), int(offer.amount_max)).map(Decimal)),
        currency=offer.currency,
        purpose=data.draw(st.sampled_from(offer.purposes)),
        instruments=data.draw(st.sampled_from([[], [offer.kind]])),
        by_when=TODAY,
        version=1,
        set_by="x",
        updated_at=NOW,
    )
    return sme, need


@given(offers(), facts, needs(), st.data())
def test_widening_an_offer_never_removes_it_from_the_suggestions(
    offer: c.FinanceOffer, sme: c.SmeFinanceFacts, need: c.FinanceNeed | None, data: st.DataObject
) -> None:
    if data.draw(st.booleans()):
        offer = offer.model_copy(update={"status": "published", "deadline": None})
        sme, need = fitting(data, offer)
    before, _ = suggest([offer], sme, need, TODAY)
    wider = offer.model_copy(
        update={
            "markets": sorted({*offer.markets, *data.draw(st.lists(st.sampled_from(COUNTRIES)))}),
            "sme_sizes": sorted({*offer.sme_sizes, *data.draw(st.lists(st.sampled_from(SIZES)))}),
            "growth_classes": sorted(
                {*offer.growth_classes, *data.draw(st.lists(st.sampled_from(c.GROWTH_CLASSES)))}
            ),
            "stages": sorted({*offer.stages, *data.draw(st.lists(st.sampled_from(c.STAGES)))}),
            "purposes": sorted(
                {*offer.purposes, *data.draw(st.lists(st.sampled_from(c.PURPOSES)))}
            ),
            "amount_min": offer.amount_min - min(offer.amount_min, data.draw(amounts)),
            "amount_max": offer.amount_max + data.draw(amounts),
            "deadline": None
            if offer.deadline is None or data.draw(st.booleans())
            else offer.deadline + timedelta(days=data.draw(st.integers(0, 100))),
        }
    )
    after, _ = suggest([wider], sme, need, TODAY)
    assert len(after) >= len(before)


def test_the_reasons_name_each_criterion() -> None:
    offer = c.FinanceOffer(
        partner_id="nordbank", external_id="g1", offer_id="o1", region="tallinn", kind="loan",
        title="Growth loan", provider="Nordbank", markets=["EE"], sme_sizes=["small"],
        amount_min=Decimal(10_000), amount_max=Decimal(100_000), status="published", version=1,
        updated_at=NOW,
    )  # fmt: skip
    sme = c.SmeFinanceFacts(
        country="EE", size_class="small", growth_class="neither", stage="trained"
    )
    need = c.FinanceNeed(
        sme=SmeRef(region="tallinn", sme_id="s1"), amount=Decimal(50_000), purpose="growth",
        by_when=TODAY, version=1, set_by="x", updated_at=NOW,
    )  # fmt: skip
    (fits,), () = suggest([offer], sme, need, TODAY)
    assert {r.criterion for r in fits.reasons} == {
        "status", "deadline", "size", "growth", "stage", "market", "purpose", "instrument",
        "amount",
    }  # fmt: skip
    micro = sme.model_copy(update={"size_class": "micro", "country": "FI"})
    (), (out,) = suggest([offer], micro, need.model_copy(update={"amount": 5}), TODAY)
    assert {r.criterion for r in out.reasons} == {"size", "market", "amount"}


def _input(**changes: Any) -> c.FinanceOfferInput:
    base: dict[str, Any] = {
        "partner_id": "nordbank", "external_id": "g1", "kind": "grant", "title": "A grant",
        "provider": "Nordbank", "markets": ["EE"], "amount_min": 1000, "amount_max": 5000,
    }  # fmt: skip
    return c.FinanceOfferInput.model_validate(base | changes)


def test_bad_offers_are_named_field_by_field() -> None:
    raw = _input().model_dump(mode="json") | {"amount_max": "10", "deadline": "2030-01-01"}
    assert [p["field"] for p in offer_problems(raw, TODAY)] == ["data.amount_max", "data.deadline"]
    with pytest.raises(Refused) as refused:
        Offer.publish("o1", "tallinn", _input(amount_max=10), None, NOW)
    assert refused.value.code == "validation_failed"


def test_publishing_the_same_offer_again_changes_nothing_and_a_withdrawn_one_stays_so() -> None:
    first = Offer.publish("o1", "tallinn", _input(), None, NOW)
    assert [op.name for op, _ in first.events] == [
        "finance_offer_published", "finance_offer_shared"
    ]  # fmt: skip
    first.events.clear()
    assert Offer.publish("o1", "tallinn", _input(), first, NOW) is first
    second = Offer.publish("o1", "tallinn", _input(title="A bigger grant"), first, NOW)
    assert second.version == 2
    second.withdraw("closed", NOW)
    assert (second.status, second.version) == ("withdrawn", 3)
    with pytest.raises(Refused) as refused:
        Offer.publish("o1", "tallinn", _input(), second, NOW)
    assert refused.value.code == "conflict"


def test_who_may_publish_and_read_needs() -> None:
    bank = Actor(id="nordbank", role="partner", region="tallinn", partner_kind="finance")
    park = Actor(id="park", role="partner", region="tallinn", partner_kind="general")
    check_publisher(bank, "nordbank", "tallinn")
    for actor, partner_id in ((park, "park"), (bank, "otherbank")):
        with pytest.raises(Refused) as refused:
            check_publisher(actor, partner_id, "tallinn")
        assert refused.value.code == "forbidden"
    # Staff and operators publish as their region's MAP only, never under a partner's name.
    for role in ("map_staff", "map_admin", "operator"):
        actor = Actor(id=f"{role}@tallinn.example", role=role, region="tallinn")
        check_publisher(actor, "map-tallinn", "tallinn")
        for partner_id, field in (("nordbank", "data.partner_id"), ("map-riga", "data.offer_id")):
            with pytest.raises(Refused) as refused:
                check_publisher(actor, partner_id, "tallinn", field)
            assert refused.value.code == "forbidden", (role, partner_id)
            assert [f["field"] for f in refused.value.details["fields"]] == [field]
    mine = SmeRef(region="tallinn", sme_id="s1")
    contact = Actor(id="a@s1.example", role="sme", region="tallinn", sme_id="s1")
    check_sme_reader(contact, mine, "tallinn")
    other = contact.model_copy(update={"sme_id": "s2"})
    staff_elsewhere = Actor(id="b@map.example", role="map_staff", region="riga")
    for actor in (other, staff_elsewhere):
        with pytest.raises(Refused) as refused:
            check_sme_reader(actor, mine, "tallinn")
        assert refused.value.code == "forbidden"
    with pytest.raises(Refused) as refused:
        check_sme_reader(contact, SmeRef(region="riga", sme_id="s1"), "tallinn")
    assert refused.value.code == "not_home"
