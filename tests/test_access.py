"""Who may do what, against the real NATS server and services: nobody connects anonymously,
partners are known by the server's stamp and reach only what they were given, roles are
checked before any handler, record rules after, and bad actors are typed errors."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import nats.errors
import pytest

from contracts import events as ev
from contracts import registry as rg
from contracts.access import Actor
from contracts.errors import Refused
from contracts.operations import Operation
from mapnet.ops.partners import PartnerBook, PartnerError
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from mapnet.runtime.credentials import with_login, without_login
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import connect_when_let_in
from tests.three_regions import an_entry

pytestmark = pytest.mark.usefixtures("region_app")

Connect = Callable[..., Awaitable[tuple[str, BusClient]]]


@pytest.fixture
def book(servers: Servers) -> PartnerBook:
    return servers.partner_book()


@pytest.fixture
async def partner(servers: Servers, book: PartnerBook) -> AsyncIterator[Connect]:
    """Adds a partner system to the running server (as `mapnet partner add` does) and
    connects with its own credentials, as a plain nats-py client."""
    made: list[tuple[str, BusClient]] = []

    async def connect(errors: list[str] | None = None) -> tuple[str, BusClient]:
        """``errors``: where the server's complaints about this connection are kept."""
        added = book.add("acme" + secrets.token_hex(3))
        assert book.reload_server()
        url = with_login(without_login(servers.nats_url), added.user, added.password)

        async def complaint(exc: Exception) -> None:
            if errors is not None:
                errors.append(str(exc))

        nc = await connect_when_let_in(url, inbox_prefix=added.inbox_prefix, error_cb=complaint)
        bus = BusClient(nc, source=f"https://{added.user}.example", role="map_admin")
        made.append((added.user, bus))
        return added.user, bus

    yield connect
    for name, bus in made:
        await bus.nc.close()
        if name in book.list():
            book.remove(name)
    book.reload_server()


async def test_an_anonymous_connection_is_refused(servers: Servers) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(
            without_login(servers.nats_url), allow_reconnect=False, max_reconnect_attempts=0
        )


async def test_a_partner_publishes_as_itself_and_never_as_another(
    partner: Connect, client: BusClient, region: str
) -> None:
    name, bus = await partner()
    mine = await bus.call(ev.PUBLISH_EVENT, an_entry("Acme Days", partner_id=name), region)
    assert mine.partner_id == name
    with pytest.raises(Refused) as refused:
        await bus.call(ev.PUBLISH_EVENT, an_entry("Not ours", partner_id="other"), region)
    assert refused.value.code == "forbidden"
    page = await client.call(ev.LIST_CALENDAR, ev.ListCalendar(region=region), region)
    assert [e.title for e in page.items] == ["Acme Days"]  # nothing stored for "other"


async def test_a_partner_hears_nothing_of_another_partner_and_cannot_answer_for_it(
    partner: Connect, region: str
) -> None:
    """Partners share an account, not their traffic: a partner may subscribe only to its own
    inbox (not to ``>``, not to the other's inbox, not to the services' subjects) and publish
    only the operations open to partners (not into the other's inbox, to answer it first)."""
    complaints: list[str] = []
    spy_name, spy = await partner(errors=complaints)
    victim_name, victim = await partner()
    heard: list[str] = []

    async def overhear(msg: Any) -> None:
        heard.append(msg.subject)

    for pattern in (">", f"_INBOX.{victim_name}.>", "mapnet.>", "_INBOX.>"):
        await spy.nc.subscribe(pattern, cb=overhear)
    await spy.nc.flush()
    forged_answers: list[bytes] = []

    async def keep(msg: Any) -> None:
        forged_answers.append(msg.data)

    await victim.nc.subscribe(f"_INBOX.{victim_name}.trap", cb=keep)
    await spy.nc.publish(f"_INBOX.{victim_name}.trap", b'{"data": "forged"}')
    await spy.nc.flush()
    # The victim's own request and reply go through; the spy's own request after it shows the
    # server has handled all that the spy sent before, and delivered what it would deliver.
    secret = "whsec_" + secrets.token_hex(16)
    entry = an_entry("Victim Days", partner_id=victim_name, description=secret)
    assert (await victim.call(ev.PUBLISH_EVENT, entry, region)).partner_id == victim_name
    await victim.nc.flush()
    with pytest.raises(Refused) as missing:
        await spy.call(ev.GET_EVENT, ev.GetEvent(event_id="none"), region)
    assert missing.value.code == "not_found"  # the spy's own replies do arrive
    assert [s for s in heard if not s.startswith(f"_INBOX.{spy_name}.")] == []
    assert forged_answers == []
    said = [c.lower() for c in complaints]
    assert sum("permissions violation for subscription" in c for c in said) == 4, said
    assert f'nats: permissions violation for publish to "_inbox.{victim_name}.trap"' in said


async def test_a_request_naming_a_partner_without_the_servers_stamp_is_refused(
    client: BusClient, region: str
) -> None:
    """Only the partners' account makes a partner: a request from the region's own account
    that says it acts for one is refused, whatever partner it names."""
    claimed = Actor(id="acme", role="partner", region=region)
    with pytest.raises(Refused) as refused:
        await client.call(ev.PUBLISH_EVENT, an_entry("Claimed", partner_id="acme"), region,
                          actor=claimed)  # fmt: skip
    assert refused.value.code == "forbidden" and "stamp" in refused.value.message
    page = await client.call(ev.LIST_CALENDAR, ev.ListCalendar(region=region), region)
    assert "Claimed" not in [e.title for e in page.items]


async def test_a_forged_request_info_header_is_not_believed(partner: Connect, region: str) -> None:
    name, bus = await partner()
    env = make_envelope(
        ev.PUBLISH_EVENT, an_entry("Forged", partner_id="other"), region=region, source="x",
        actor=Actor(id="admin@tallinn.example", role="map_admin", region=region),
    )  # fmt: skip
    forged = json.dumps({"acc": "MAPNET", "user": "mapnet", "kind": "Client"})
    msg = await bus.nc.request(
        ev.PUBLISH_EVENT.subject(region), encode(env), timeout=5,
        headers={"Nats-Request-Info": forged},
    )  # fmt: skip
    error = json.loads(msg.data)["data"]["error"]
    assert error["code"] == "forbidden" and name in error["message"]


async def test_a_partner_reaches_only_what_it_was_given(
    partner: Connect, client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    _, bus = await partner()
    attempts: list[tuple[Operation[Any, Any], Any]] = [
        (rg.ERASE_SME, rg.EraseSme(sme_id=sme.sme_id, reason="hostile")),
        (rg.GET_SME, rg.GetSme(sme_id=sme.sme_id)),
        (rg.SEARCH_SMES, rg.SearchSmes()),
    ]
    for op, data in attempts:
        with pytest.raises(Refused) as refused:
            await bus.raw(op, data, region, timeout_s=2)
        assert refused.value.code == "region_unavailable", op.name  # no such subject for it
    still = await client.call(rg.GET_SME, rg.GetSme(sme_id=sme.sme_id), region)
    assert still.contacts  # not erased


@pytest.mark.parametrize("name", ["map-tallinn", "tallinn-map", "map"])
def test_a_partner_cannot_take_the_name_the_map_publishes_under(
    book: PartnerBook, name: str
) -> None:
    """The portal publishes staff's entries as map-<region>, the demo as <region>-map: a partner
    of that name would own (rewrite, cancel) them."""
    with pytest.raises(PartnerError, match="kept for the MAP"):
        book.add(name)
    assert name not in book.list()


def test_the_partners_files_are_for_the_owners_eyes_only(book: PartnerBook) -> None:
    name = "mode" + secrets.token_hex(3)
    book.add(name)
    try:
        for file in ("partners.conf", "partners.json"):
            assert (book.home / file).stat().st_mode & 0o777 == 0o600, file
    finally:
        book.remove(name)
    assert (book.home / "partners.conf").stat().st_mode & 0o777 == 0o600


async def test_removing_a_partner_closes_its_connection(
    partner: Connect, book: PartnerBook
) -> None:
    name, bus = await partner()
    book.remove(name)
    assert book.reload_server()
    for _ in range(50):
        if not bus.nc.is_connected:
            break
        await asyncio.sleep(0.1)
    assert not bus.nc.is_connected


async def test_a_contact_sees_other_smes_without_contacts_and_changes_only_its_own(
    client: BusClient, region: str
) -> None:
    own = await client.call(rg.REGISTER_SME, new_sme(), region)
    # (An SME that does not share with the network is not shown to other SMEs' contacts at all:
    # services/registry/tests/test_who_may.py.)
    shared = new_sme(reg="14000015", name="Other OÜ", share_with_network=True)
    other = await client.call(rg.REGISTER_SME, shared, region)
    contact = Actor(id="mari@photonforge.ee", role="sme", region=region, sme_id=own.sme_id)
    seen = await client.call(rg.GET_SME, rg.GetSme(sme_id=other.sme_id), region, actor=contact)
    assert seen.contacts == [] and seen.legal_name == "Other OÜ"
    mine = await client.call(rg.GET_SME, rg.GetSme(sme_id=own.sme_id), region, actor=contact)
    assert mine.contacts
    change = rg.UpdateSme(sme_id=other.sme_id, expected_version=1, changes={"description": "x"})
    with pytest.raises(Refused) as refused:
        await client.call(rg.UPDATE_SME, change, region, actor=contact)
    assert refused.value.code == "forbidden"
    after = await client.call(rg.GET_SME, rg.GetSme(sme_id=other.sme_id), region)
    assert after.version == 1


async def test_staff_of_another_region_cannot_change_this_regions_sme(
    client: BusClient, region: str
) -> None:
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    elsewhere = Actor(id="staff@riga.example", role="map_staff", region="riga")
    change = rg.UpdateSme(sme_id=sme.sme_id, expected_version=1, changes={"description": "x"})
    with pytest.raises(Refused) as refused:
        await client.call(rg.UPDATE_SME, change, region, actor=elsewhere)
    assert refused.value.code == "forbidden"
    stage = rg.ChangeStage(sme_id=sme.sme_id, to_stage="selected", actor="x", reason="y")
    with pytest.raises(Refused):
        await client.call(rg.CHANGE_STAGE, stage, region, actor=elsewhere)


async def test_a_role_not_declared_for_an_operation_is_forbidden_before_the_handler(
    client: BusClient, region: str
) -> None:
    steering = Actor(id="official@tallinn.example", role="steering", region=region)
    with pytest.raises(Refused) as refused:
        await client.call(rg.REGISTER_SME, new_sme(), region, actor=steering)
    assert refused.value.code == "forbidden"
    assert refused.value.details["allowed"] == ["map_admin", "map_staff", "operator"]
    staff = Actor(id="staff@tallinn.example", role="map_staff", region=region)
    with pytest.raises(Refused) as only_admin:
        await client.call(rg.ERASE_SME, rg.EraseSme(sme_id="any", reason="x"), region, actor=staff)
    assert only_admin.value.code == "forbidden"
    page = await client.call(rg.SEARCH_SMES, rg.SearchSmes(), region)
    assert page.items == []


@pytest.mark.parametrize(
    ("actor", "field"),
    [
        (None, "actor"),
        ({"id": "x", "role": "emperor", "region": "tallinn"}, "actor.role"),
        ({"id": "x", "role": "map_admin", "region": "tallinn", "badge": 1}, "actor.badge"),
        ({"role": "map_admin", "region": "tallinn"}, "actor.id"),
    ],
)
async def test_a_missing_or_malformed_actor_is_a_typed_error_and_nothing_is_stored(
    client: BusClient, region: str, actor: dict[str, Any] | None, field: str
) -> None:
    env = json.loads(encode(make_envelope(rg.REGISTER_SME, new_sme(), region=region, source="x")))
    env.pop("actor", None)
    if actor is not None:
        env["actor"] = actor
    msg = await client.nc.request(rg.REGISTER_SME.subject(region), json.dumps(env).encode())
    error = json.loads(msg.data)["data"]["error"]
    assert error["code"] == "validation_failed"
    assert field in {f["field"] for f in error["details"]["fields"]}
    page = await client.call(rg.SEARCH_SMES, rg.SearchSmes(), region)
    assert page.items == []
