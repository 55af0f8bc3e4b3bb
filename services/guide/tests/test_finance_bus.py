"""The finance link over real NATS and the MongoDB-compatible server: offers published by staff
and by finance partners (the server's stamp says who and of what kind), idempotent, withdrawn,
refused field by field; an SME's need kept for its own people; suggestions from the registry's
facts; SMEs needing finance listed to finance partners only where they consented; and a finance
partner over the HTTP API."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts import finance as c
from contracts import registry as rg
from contracts.access import Actor, PartnerKind, Role
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from mapnet.runtime.credentials import with_login, without_login
from mapnet.runtime.declaration import service_names
from services.guide.adapters.finance_repository import OfferRepository
from services.guide.domain.finance import Offer
from tests.fixtures import Servers
from tests.helpers import connect_when_let_in, eventually, published
from tests.test_portal import portal_url

pytestmark = pytest.mark.usefixtures("region_app")

SOON = (datetime.now(UTC) + timedelta(days=60)).date()
Partner = Callable[[PartnerKind], Awaitable[tuple[str, BusClient, str]]]


def staff(region: str, role: Role = "map_staff") -> Actor:
    return Actor(id=f"staff@{region}.example", role=role, region=region)


def offer(partner_id: str, external_id: str = "loan-1", **extra: Any) -> c.PublishFinanceOffer:
    base: dict[str, Any] = {
        "partner_id": partner_id,
        "external_id": external_id,
        "kind": "loan",
        "title": "Internationalisation loan",
        "provider": "Nordbank",
        "instrument": "Up to 5 years, no collateral below 100,000",
        "markets": ["EE", "FI"],
        "sme_sizes": ["micro", "small"],
        "amount_min": "25000",
        "amount_max": "500000",
        "deadline": SOON.isoformat(),
        "url": "https://nordbank.example/loans/int",
    }
    return c.PublishFinanceOffer.model_validate(base | extra)


@pytest.fixture
async def partner(servers: Servers) -> AsyncIterator[Partner]:
    """Adds a partner system of a kind (as `mapnet partner add --kind` does) and connects with
    its own credentials; its envelopes claim to be the region's administrator, never believed."""
    book = servers.partner_book()
    made: list[tuple[str, BusClient]] = []

    async def connect(kind: PartnerKind) -> tuple[str, BusClient, str]:
        added = book.add(f"{kind[:3]}{secrets.token_hex(3)}", kind)
        assert book.reload_server()
        url = with_login(without_login(servers.nats_url), added.user, added.password)
        nc = await connect_when_let_in(url, inbox_prefix=added.inbox_prefix)
        bus = BusClient(nc, source=f"https://{added.user}.example", role="map_admin")
        made.append((added.user, bus))
        return added.user, bus, f"{added.user}:{added.password}"

    yield connect
    for name, bus in made:
        await bus.nc.close()
        book.remove(name)
    book.reload_server()


async def register(client: BusClient, region: str, reg: str, **extra: Any) -> rg.SmeView:
    sme: dict[str, Any] = {
        "legal_name": f"Photon Forge {reg} OÜ",
        "registration_number": reg,
        "country": "EE",
        "founded_on": "2021-05-01",
        "figures": [
            {"year": 2022, "staff_headcount": 12, "turnover_eur": "900000"},
            {"year": 2025, "staff_headcount": 30, "turnover_eur": "4000000"},
        ],
    }
    data = rg.RegisterSme.model_validate(sme | extra)
    return await client.call(rg.REGISTER_SME, data, region, actor=staff(region))


def need(sme: SmeRef, **extra: Any) -> c.SetFinanceNeed:
    base: dict[str, Any] = {
        "sme": sme.model_dump(),
        "amount": "100000",
        "purpose": "internationalisation",
        "instruments": ["loan", "guarantee"],
        "by_when": SOON.isoformat(),
        "target_markets": ["DE"],
    }
    return c.SetFinanceNeed.model_validate(base | extra)


async def test_staff_publish_an_offer_once_per_external_id_and_withdraw_it(
    servers: Servers, client: BusClient, region: str
) -> None:
    me = staff(region)
    first = await client.call(c.PUBLISH_FINANCE_OFFER, offer(f"map-{region}"), region, actor=me)
    same = await client.call(c.PUBLISH_FINANCE_OFFER, offer(f"map-{region}"), region, actor=me)
    changed = await client.call(
        c.PUBLISH_FINANCE_OFFER, offer(f"map-{region}", title="Export loan"), region, actor=me
    )
    assert first.offer_id == same.offer_id == changed.offer_id
    assert (first.version, same.version, changed.version) == (1, 1, 2)
    shared = await published(servers.nats_url, c.FINANCE_OFFER_SHARED, region, at_least=2)
    assert [s["version"] for s in shared] == [1, 2]
    withdraw = c.WithdrawFinanceOffer(offer_id=first.offer_id, reason="funds used up")
    gone = await client.call(c.WITHDRAW_FINANCE_OFFER, withdraw, region, actor=me)
    again = await client.call(c.WITHDRAW_FINANCE_OFFER, withdraw, region, actor=me)
    assert (gone.status, gone.version, again.version) == ("withdrawn", 3, 3)
    shared = await published(servers.nats_url, c.FINANCE_OFFER_SHARED, region, at_least=3)
    assert shared[-1]["status"] == "withdrawn"
    listed = await client.call(c.LIST_FINANCE_OFFERS, c.ListFinanceOffers(region=region), region)
    assert listed.items == []
    everything = c.ListFinanceOffers(region=region, include_withdrawn=True)
    listed = await client.call(c.LIST_FINANCE_OFFERS, everything, region)
    assert [o.status for o in listed.items] == ["withdrawn"]
    with pytest.raises(Refused) as refused:  # a withdrawn offer is not published again
        await client.call(c.PUBLISH_FINANCE_OFFER, offer(f"map-{region}"), region, actor=me)
    assert refused.value.code == "conflict"
    other = staff("elsewhere")
    with pytest.raises(Refused) as refused:
        await client.call(c.PUBLISH_FINANCE_OFFER, offer("map-x", "2"), region, actor=other)
    assert refused.value.code == "forbidden"


async def test_bad_offers_are_named_field_by_field_and_nothing_is_stored(
    client: BusClient, region: str
) -> None:
    doc = json.loads(encode(make_envelope(
        c.PUBLISH_FINANCE_OFFER, offer(f"map-{region}"), region=region, source="t",
        actor=staff(region),
    )))  # fmt: skip
    doc["data"] |= {
        "amount_min": "9000",
        "amount_max": "10",
        "deadline": "2020-01-01",
        "currency": "XYZ",
        "markets": ["XX"],
        "kind": "mortgage",
    }
    msg = await client.nc.request(c.PUBLISH_FINANCE_OFFER.subject(region), json.dumps(doc).encode())
    error = json.loads(msg.data)["data"]["error"]
    assert error["code"] == "validation_failed"
    fields = {f["field"] for f in error["details"]["fields"]}
    assert {"data.amount_max", "data.deadline", "data.currency", "data.markets.0",
            "data.kind"} <= fields  # fmt: skip
    everything = c.ListFinanceOffers(region=region, include_withdrawn=True)
    assert (await client.call(c.LIST_FINANCE_OFFERS, everything, region)).items == []


async def test_a_finance_partner_publishes_as_itself_and_other_partners_not_at_all(
    client: BusClient, region: str, partner: Partner
) -> None:
    bank, bank_bus, _ = await partner("finance")
    park, park_bus, _ = await partner("general")
    mine = await bank_bus.call(c.PUBLISH_FINANCE_OFFER, offer(bank), region)
    assert (mine.partner_id, mine.version) == (bank, 1)
    again = await bank_bus.call(c.PUBLISH_FINANCE_OFFER, offer(bank), region)
    assert again.offer_id == mine.offer_id and again.version == 1
    with pytest.raises(Refused) as refused:  # never under another's name
        await bank_bus.call(c.PUBLISH_FINANCE_OFFER, offer("otherbank"), region)
    assert refused.value.code == "forbidden"
    assert refused.value.details["fields"][0]["field"] == "data.partner_id"
    # Nor do the region's staff or operators publish or withdraw under the bank's name: they
    # publish as the region's MAP.
    for who in (staff(region, "map_admin"), Actor(id="ops", role="operator", region=region)):
        changed = offer(bank, title="Not the bank's terms")
        with pytest.raises(Refused) as refused:
            await client.call(c.PUBLISH_FINANCE_OFFER, changed, region, actor=who)
        assert refused.value.code == "forbidden", who.role
        assert refused.value.details["fields"][0]["field"] == "data.partner_id"
    withdraw = c.WithdrawFinanceOffer(offer_id=mine.offer_id, reason="not the bank")
    with pytest.raises(Refused) as refused:
        await client.call(c.WITHDRAW_FINANCE_OFFER, withdraw, region, actor=staff(region))
    assert refused.value.details["fields"][0]["field"] == "data.offer_id"
    kept = await client.call(c.GET_FINANCE_OFFER, c.GetFinanceOffer(offer_id=mine.offer_id),
                             region)  # fmt: skip
    assert (kept.title, kept.status, kept.version) == (mine.title, "published", 1)
    # A general partner, whatever its envelope claims (the region's administrator), is not a
    # finance partner: the server's stamp says so.
    with pytest.raises(Refused) as refused:
        await park_bus.call(c.PUBLISH_FINANCE_OFFER, offer(park), region)
    assert refused.value.code == "forbidden"
    assert refused.value.details["partner_kind"] == "general"
    claims = Actor(id=park, role="partner", region=region, partner_kind="finance")
    with pytest.raises(Refused) as refused:
        await park_bus.call(c.PUBLISH_FINANCE_OFFER, offer(park), region, actor=claims)
    assert refused.value.code == "forbidden"
    # Nor does it withdraw the bank's offer; the bank does.
    withdraw = c.WithdrawFinanceOffer(offer_id=mine.offer_id, reason="closed")
    with pytest.raises(Refused) as refused:
        await park_bus.call(c.WITHDRAW_FINANCE_OFFER, withdraw, region)
    assert refused.value.code == "forbidden"
    gone = await bank_bus.call(c.WITHDRAW_FINANCE_OFFER, withdraw, region)
    assert gone.status == "withdrawn"
    # Anyone reads offers, partners too.
    got = await park_bus.call(
        c.GET_FINANCE_OFFER, c.GetFinanceOffer(offer_id=mine.offer_id), region
    )
    assert got.status == "withdrawn"


async def test_an_smes_need_is_its_own_and_suggestions_give_reasons(
    client: BusClient, region: str
) -> None:
    me = staff(region)
    forge = await register(client, region, "14000009")
    other = await register(client, region, "14000015")
    ref = SmeRef(region=region, sme_id=forge.sme_id)
    contact = Actor(id="mari@forge.example", role="sme", region=region, sme_id=forge.sme_id)
    stranger = Actor(id="jaan@other.example", role="sme", region=region, sme_id=other.sme_id)
    await client.call(c.PUBLISH_FINANCE_OFFER, offer(f"map-{region}"), region, actor=me)
    await client.call(
        c.PUBLISH_FINANCE_OFFER,
        offer(f"map-{region}", "grant-1", kind="grant", markets=["LV"], title="Riga grant"),
        region,
        actor=me,
    )
    await client.call(
        c.PUBLISH_FINANCE_OFFER,
        offer(f"map-{region}", "eq-1", kind="equity", sme_sizes=["medium"], title="Equity"),
        region,
        actor=me,
    )
    stored = await client.call(c.SET_FINANCE_NEED, need(ref), region, actor=contact)
    assert (stored.version, stored.set_by) == (1, contact.id)
    for who in (stranger, staff("elsewhere")):
        asks: list[tuple[Any, Any]] = [
            (c.SET_FINANCE_NEED, need(ref)),
            (c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=ref)),
            (c.SUGGEST_FINANCE, c.SuggestFinance(sme=ref)),
        ]
        for op, data in asks:
            with pytest.raises(Refused) as refused:
                await client.call(op, data, region, actor=who)
            assert refused.value.code == "forbidden", (who.id, op.name)
    got = await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=ref), region, actor=me)
    assert got == stored
    # Bad input named field by field; nothing stored.
    bad = need(ref).model_dump(mode="json") | {"by_when": "2020-01-01", "amount": "-5",
                                               "purpose": "holiday"}  # fmt: skip
    doc = json.loads(encode(make_envelope(c.SET_FINANCE_NEED, need(ref), region=region,
                                          source="t", actor=contact)))  # fmt: skip
    doc["data"] = bad
    msg = await client.nc.request(c.SET_FINANCE_NEED.subject(region), json.dumps(doc).encode())
    error = json.loads(msg.data)["data"]["error"]
    assert {f["field"] for f in error["details"]["fields"]} >= {
        "data.by_when", "data.amount", "data.purpose"}  # fmt: skip
    assert (
        await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=ref), region, actor=me) == stored
    )

    found = await client.call(c.SUGGEST_FINANCE, c.SuggestFinance(sme=ref), region, actor=contact)
    assert (found.facts.size_class, found.facts.country) == ("small", "EE")
    assert [w.offer.title for w in found.suggested] == ["Internationalisation loan"]
    assert {r.criterion for r in found.suggested[0].reasons} >= {"size", "market", "amount"}
    why = {w.offer.title: {r.criterion for r in w.reasons} for w in found.left_out}
    assert why == {"Riga grant": {"market", "instrument"}, "Equity": {"size", "instrument"}}
    # An SME the registry does not know has no need here.
    ghost = SmeRef(region=region, sme_id="nobody")
    with pytest.raises(Refused) as refused:
        await client.call(c.SET_FINANCE_NEED, need(ghost), region, actor=me)
    assert refused.value.code == "not_found"
    cleared = await client.call(c.CLEAR_FINANCE_NEED, c.ClearFinanceNeed(sme=ref), region,
                                actor=contact)  # fmt: skip
    assert cleared == stored
    with pytest.raises(Refused) as refused:
        await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=ref), region, actor=me)
    assert refused.value.code == "not_found"


async def test_finance_partners_list_only_smes_that_consented(
    client: BusClient, region: str, partner: Partner
) -> None:
    shown = await register(client, region, "14000009", show_to_finance_partners=True)
    hidden = await register(client, region, "14000015")
    note = "Call Mari Maasikas on +372 5555 0101"
    for sme in (shown, hidden):
        ref = SmeRef(region=region, sme_id=sme.sme_id)
        await client.call(c.SET_FINANCE_NEED, need(ref, note=note), region, actor=staff(region))
    everyone = c.ListSmesNeedingFinance()
    listed = await client.call(c.LIST_SMES_NEEDING_FINANCE, everyone, region, actor=staff(region))
    assert {i.sme.sme_id for i in listed.items} == {shown.sme_id, hidden.sme_id}
    assert {i.note for i in listed.items} == {note}  # the region's staff read the note
    _, bank_bus, _ = await partner("finance")
    listed = await bank_bus.call(c.LIST_SMES_NEEDING_FINANCE, everyone, region)
    assert [i.sme.sme_id for i in listed.items] == [shown.sme_id]
    assert listed.items[0].need.amount == 100000
    # A partner sees the need, not who set it (an address) nor the free-text note.
    answer = listed.model_dump_json()
    assert staff(region).id not in answer and "set_by" not in answer
    assert "Maasikas" not in answer and listed.items[0].note is None
    _, park_bus, _ = await partner("general")
    with pytest.raises(Refused) as refused:
        await park_bus.call(c.LIST_SMES_NEEDING_FINANCE, everyone, region)
    assert refused.value.code == "forbidden"
    # A consent withdrawn is honoured at once.
    changes = rg.UpdateSme(sme_id=shown.sme_id, expected_version=shown.version,
                           changes=rg.SmeChanges(show_to_finance_partners=False))  # fmt: skip
    await client.call(rg.UPDATE_SME, changes, region, actor=staff(region))
    listed = await bank_bus.call(c.LIST_SMES_NEEDING_FINANCE, everyone, region)
    assert listed.items == []
    # An SME's contact lists no one (the role may not).
    contact = Actor(id="a@b.example", role="sme", region=region, sme_id=shown.sme_id)
    with pytest.raises(Refused) as refused:
        await client.call(c.LIST_SMES_NEEDING_FINANCE, everyone, region, actor=contact)
    assert refused.value.code == "forbidden"


@pytest.mark.parametrize(
    "region_services", [service_names()], ids=["whole region"]
)  # its HTTP API is the portal's
async def test_a_finance_partner_publishes_over_http(
    region_app: Assembly, region: str, partner: Partner
) -> None:
    bank, _, bank_key = await partner("finance")
    park, _, park_key = await partner("general")
    body = offer(bank).model_dump(mode="json")
    async with httpx.AsyncClient(base_url=f"{portal_url(region_app, region)}/api/v1") as http:
        auth = {"Authorization": f"Bearer {bank_key}", "Idempotency-Key": str(uuid.uuid4())}

        async def publish() -> httpx.Response:
            return await http.post("/guide/publish_finance_offer", json=body, headers=auth)

        first = await eventually(publish, until=lambda r: r.status_code not in (401, 429))
        assert first.status_code == 200, first.text
        assert (first.json()["partner_id"], first.json()["version"]) == (bank, 1)
        assert (await publish()).json() == first.json()
        # The schema's problems are named by the API itself, the offer's rules by the service.
        for change, field in (({"currency": "XYZ"}, "data.currency"),
                              ({"amount_max": "1"}, "data.amount_max")):  # fmt: skip
            bad = await http.post("/guide/publish_finance_offer", json=body | change,
                                  headers={"Authorization": f"Bearer {bank_key}"})  # fmt: skip
            assert bad.status_code == 422
            assert [f["field"] for f in bad.json()["error"]["details"]["fields"]] == [field]
        refused = await eventually(
            lambda: http.post("/guide/publish_finance_offer",
                              json=offer(park).model_dump(mode="json"),
                              headers={"Authorization": f"Bearer {park_key}"}),
            until=lambda r: r.status_code not in (401, 429),
        )  # fmt: skip
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


async def test_an_erased_smes_finance_need_goes_with_it(client: BusClient, region: str) -> None:
    """Erasure reaches the finance link: the SME's need itself is removed (get_finance_need
    reads the guide's record alone, the registry not asked)."""
    sme = await register(client, region, "14000009", show_to_finance_partners=True)
    ref = SmeRef(region=region, sme_id=sme.sme_id)
    me = staff(region, "map_admin")
    await client.call(c.SET_FINANCE_NEED, need(ref), region, actor=me)
    erase = rg.EraseSme(sme_id=sme.sme_id, reason="the company asked")
    await client.call(rg.ERASE_SME, erase, region, actor=me)

    async def kept() -> str:
        try:
            await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=ref), region, actor=me)
        except Refused as refused:
            return refused.code
        return "kept"

    await eventually(kept, until=lambda code: code == "not_found")


async def test_an_erased_contact_no_longer_set_a_finance_need(
    client: BusClient, region: str
) -> None:
    """A contact person sets the SME's need (set_by: their address); the person is erased
    (contact_erased names them by the address's SHA-256): the need stays, without them."""
    email = f"Mari.{secrets.token_hex(3)}@photon.example"
    person = rg.ContactInput(name="Mari Maasikas", email=email)
    sme = await register(client, region, "14000009", contacts=[person.model_dump()])
    ref = SmeRef(region=region, sme_id=sme.sme_id)
    other = await register(client, region, "14000015")
    other_ref = SmeRef(region=region, sme_id=other.sme_id)
    contact = Actor(id=email, role="sme", region=region, sme_id=sme.sme_id)
    await client.call(c.SET_FINANCE_NEED, need(ref), region, actor=contact)
    me = staff(region, "map_admin")
    await client.call(c.SET_FINANCE_NEED, need(other_ref), region, actor=me)
    erase = rg.EraseContact(sme_id=sme.sme_id, contact_id=sme.contacts[0].id, reason="asked")
    await client.call(rg.ERASE_CONTACT, erase, region, actor=me)

    async def set_by() -> str:
        got = await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=ref), region, actor=me)
        return got.set_by

    assert await eventually(set_by, until=lambda who: who == "", timeout_s=20) == ""
    kept = await client.call(c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=ref), region, actor=me)
    assert kept.amount == 100000  # the company's need stays
    untouched = await client.call(
        c.GET_FINANCE_NEED, c.GetFinanceNeed(sme=other_ref), region, actor=me
    )
    assert untouched.set_by == me.id  # another person's need is not theirs


async def test_suggestions_weigh_every_open_offer_however_many(
    servers: Servers, region: str
) -> None:
    """The offers suggest_finance weighs are read a page at a time until none is left: with
    pages of two, all five open offers (two sharing a deadline across a page's edge, one
    without a deadline) are read, in deadline order; a withdrawn one is not."""
    db = mongo.database(mongo.client(servers.mongo_url), region, "guide")
    offers = OfferRepository(db, region)
    now = datetime.now(UTC)
    days = [10, 20, 20, 30, None, 40]
    made = []
    for n, day in enumerate(days):
        deadline = (now + timedelta(days=day)).date().isoformat() if day else None
        sent = offer("otherbank", f"paged-{n}", deadline=deadline)
        made.append(Offer.publish(f"o{n}", "elsewhere", sent, None, now))
    made[-1].withdraw("funds used up", now)
    for one in made:
        await offers.put_copy(one.view())
    read = await offers.open_offers(now.date().isoformat(), page_size=2)
    assert [o.offer_id for o in read] == ["o0", "o1", "o2", "o3", "o4"]
