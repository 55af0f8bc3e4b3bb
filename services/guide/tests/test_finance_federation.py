"""The finance link across three real regions and a real hub (as tests/test_federation.py): an
offer published in one region reaches the two others as a read copy, and so does its
withdrawal; another region cannot change the copy (not_home), and an SME of another region gets
the copied offer suggested from its own region's copy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from contracts import finance as c
from contracts import registry as rg
from contracts.access import Actor
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.dev.localnet import LocalNetwork
from mapnet.runtime import logs
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(240)

T, H, B = "tallinn", "helsinki", "berlin"
SOON = (datetime.now(UTC) + timedelta(days=60)).date()


@pytest.fixture(scope="module")
async def net(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalNetwork]:
    logs.configure("WARNING")
    # The registry too: suggest_finance weighs the SME's facts as its region's registry says.
    services = ("registry", "guide")
    async with LocalNetwork(Path(tmp_path_factory.mktemp("finance-net")), [T, H, B], services) as n:
        yield n


def staff(region: str) -> Actor:
    return Actor(id=f"staff@{region}.example", role="map_staff", region=region)


def export_loan(**extra: Any) -> c.PublishFinanceOffer:
    return c.PublishFinanceOffer.model_validate(
        {"partner_id": f"map-{T}", "external_id": "export-loan", "kind": "loan",
         "title": "Export loan for Baltic SMEs", "provider": "Example Export Bank (test)",
         "markets": ["EE", "FI", "DE"], "sme_sizes": ["micro", "small"],
         "amount_min": "20000", "amount_max": "300000", "deadline": SOON.isoformat()} | extra
    )  # fmt: skip


async def offer_in(client: BusClient, region: str, offer_id: str) -> c.FinanceOffer | str:
    """The offer as ``region`` answers it, or the code of its refusal."""
    try:
        return await client.call(c.GET_FINANCE_OFFER, c.GetFinanceOffer(offer_id=offer_id), region)
    except Refused as refused:
        return refused.code


def has(version: int, status: str) -> Any:
    def seen(found: c.FinanceOffer | str) -> bool:
        return isinstance(found, c.FinanceOffer) and (found.version, found.status) == (
            version, status
        )  # fmt: skip

    return seen


async def test_an_offer_and_its_withdrawal_reach_every_region_as_read_copies(
    net: LocalNetwork,
) -> None:
    tallinn, helsinki, berlin = await net.client(T), await net.client(H), await net.client(B)
    first = await tallinn.call(c.PUBLISH_FINANCE_OFFER, export_loan(), T, actor=staff(T))
    changed = await tallinn.call(
        c.PUBLISH_FINANCE_OFFER, export_loan(amount_max="400000"), T, actor=staff(T)
    )
    assert changed.offer_id == first.offer_id and changed.version == 2

    for client, region in ((helsinki, H), (berlin, B)):
        copy = await eventually(
            partial(offer_in, client, region, first.offer_id), until=has(2, "published")
        )
        assert isinstance(copy, c.FinanceOffer)
        assert (copy.region, copy.partner_id, copy.amount_max) == (T, f"map-{T}", 400000)
        listed = await client.call(c.LIST_FINANCE_OFFERS, c.ListFinanceOffers(region=T), region)
        assert [o.offer_id for o in listed.items] == [first.offer_id]

    # Helsinki changes nothing of Tallinn's offer: neither republishing it under Tallinn's
    # publisher and external id (its staff publish as Helsinki's MAP only), nor withdrawing it.
    hanna = staff(H)
    with pytest.raises(Refused) as refused:
        await helsinki.call(c.PUBLISH_FINANCE_OFFER, export_loan(title="Ours now"), H, actor=hanna)
    assert refused.value.code == "forbidden"
    assert refused.value.details["fields"][0]["field"] == "data.partner_id"
    withdraw = c.WithdrawFinanceOffer(offer_id=first.offer_id, reason="not ours to close")
    with pytest.raises(Refused) as refused:
        await helsinki.call(c.WITHDRAW_FINANCE_OFFER, withdraw, H, actor=hanna)
    assert (refused.value.code, refused.value.details["region"]) == ("not_home", T)
    copy = await offer_in(helsinki, H, first.offer_id)
    assert isinstance(copy, c.FinanceOffer) and (copy.title, copy.version) == (first.title, 2)

    # An SME of Helsinki gets Tallinn's offer suggested from Helsinki's own copy.
    sme = await helsinki.call(rg.REGISTER_SME, an_sme("14000009"), H, actor=hanna)
    ref = SmeRef(region=H, sme_id=sme.sme_id)
    need = c.SetFinanceNeed.model_validate(
        {"sme": ref.model_dump(), "amount": "100000", "purpose": "internationalisation",
         "instruments": ["loan"], "by_when": SOON.isoformat(), "target_markets": ["DE"]}
    )  # fmt: skip
    await helsinki.call(c.SET_FINANCE_NEED, need, H, actor=hanna)
    found = await helsinki.call(c.SUGGEST_FINANCE, c.SuggestFinance(sme=ref), H, actor=hanna)
    assert [(w.offer.offer_id, w.offer.region) for w in found.suggested] == [(first.offer_id, T)]
    assert {r.criterion for r in found.suggested[0].reasons} >= {"size", "market", "amount"}

    # Withdrawn at home: every copy shows it withdrawn, and it is suggested no more.
    await tallinn.call(
        c.WITHDRAW_FINANCE_OFFER,
        c.WithdrawFinanceOffer(offer_id=first.offer_id, reason="funds used up"),
        T,
        actor=staff(T),
    )
    for client, region in ((helsinki, H), (berlin, B)):
        gone = await eventually(
            partial(offer_in, client, region, first.offer_id), until=has(3, "withdrawn")
        )
        assert isinstance(gone, c.FinanceOffer) and gone.withdrawn_reason == "funds used up"
        listed = await client.call(c.LIST_FINANCE_OFFERS, c.ListFinanceOffers(region=T), region)
        assert listed.items == []
    found = await helsinki.call(c.SUGGEST_FINANCE, c.SuggestFinance(sme=ref), H, actor=hanna)
    assert found.suggested == []


async def test_an_offer_shared_under_another_region_s_map_is_not_kept(net: LocalNetwork) -> None:
    """Helsinki shares, on its own stream (a faulty or forged sharer; the runtime has checked
    it speaks only for Helsinki), an offer published 'as map-tallinn': Tallinn and Berlin would
    show it as Tallinn's MAP's offer. They drop it, and keep Helsinki's offer as its own MAP."""
    tallinn, helsinki, berlin = await net.client(T), await net.client(H), await net.client(B)
    now = datetime.now(UTC)

    def shared(partner_id: str, external_id: str) -> c.FinanceOffer:
        sent = export_loan(partner_id=partner_id, external_id=external_id)
        return c.FinanceOffer.model_validate(
            sent.model_dump() | {"offer_id": f"{H}-{external_id}", "region": H,
                                 "status": "published", "version": 1, "updated_at": now}
        )  # fmt: skip

    for data in (shared(f"map-{T}", "forged"), shared(f"map-{H}", "control")):
        env = make_envelope(c.FINANCE_OFFER_SHARED, data, region=H, source=f"mapnet/{H}/guide")
        await helsinki.nc.jetstream().publish(c.FINANCE_OFFER_SHARED.subject(H), encode(env))
    for client, region in ((tallinn, T), (berlin, B)):
        control = await eventually(
            partial(offer_in, client, region, f"{H}-control"), until=has(1, "published")
        )
        assert isinstance(control, c.FinanceOffer) and control.partner_id == f"map-{H}"
        assert await offer_in(client, region, f"{H}-forged") == "not_found"


def an_sme(number: str) -> rg.RegisterSme:
    """A small Estonian SME (30 staff, 4 million turnover) registered in Helsinki."""
    return rg.RegisterSme.model_validate(
        {"legal_name": f"Photon Forge {number} OÜ", "registration_number": number,
         "country": "EE", "founded_on": "2021-05-01",
         "figures": [{"year": 2022, "staff_headcount": 12, "turnover_eur": "900000"},
                     {"year": 2025, "staff_headcount": 30, "turnover_eur": "4000000"}]}
    )  # fmt: skip
