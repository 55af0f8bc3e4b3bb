"""Notify asks the registry for an SME's consenting contacts (a survey's, an expiring
profile's). An SME the registry does not know (erased) has no one to mail; a registry that does
not answer is not the same: the mail is not dropped, the event is taken again later."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from contracts.errors import Refused
from mapnet.runtime.bus import BusClient
from mapnet.runtime.mongo import Client
from services.notify.adapters.directory import Directory
from services.notify.adapters.repository import NotifyStore
from services.notify.domain.rules import Person
from services.notify.service_layer.handlers import Notifier
from tests.fixtures import Servers, unique_region


async def test_a_registry_that_does_not_answer_is_no_empty_list_of_contacts(
    client: BusClient,
) -> None:
    region = unique_region()  # no service of it runs: nobody answers
    directory = Directory(lambda: client.nc, region, "mapnet/tests")
    with pytest.raises(Refused) as refused:
        await directory.contacts({"sme_id": "sme-1", "region": region})
    assert refused.value.code == "region_unavailable"
    # Another region's SME has no contacts here, asked of nobody.
    assert await directory.contacts({"sme_id": "sme-1", "region": "elsewhere"}) == []


async def test_one_sme_whose_contacts_cannot_be_read_holds_up_no_other_expiry_notice(
    servers: Servers,
) -> None:
    client: Client = Client(servers.mongo_url)
    name = f"expiry_{uuid.uuid4().hex[:8]}"
    store = NotifyStore(client[name])
    queued: list[dict[str, Any]] = []

    async def admit(docs: list[dict[str, Any]]) -> None:
        queued.extend(docs)

    notifier = Notifier("tallinn", store, sender="map@example.ee", public_url="https://p.example",
                        secret="s" * 32, admit=admit)  # fmt: skip
    today = date.today()
    for n in (1, 2):
        await store.put_profile(
            {"_id": f"p{n}", "title": f"Offer {n}", "type": "technology_offer",
             "expires_on": (today + timedelta(days=3)).isoformat(), "received_at": "x",
             "sme": {"sme_id": f"sme-{n}", "region": "tallinn", "legal_name": f"SME {n}"}}
        )  # fmt: skip

    async def contacts(sme: dict[str, Any]) -> list[Person]:
        if sme["sme_id"] == "sme-1":
            raise Refused("region_unavailable", "the registry does not answer")
        return [Person("mari@sme2.example", "Mari")]

    try:
        with pytest.raises(Refused):
            await notifier.expiring_profiles(14, contacts, today)
        assert [d["recipient"] for d in queued] == ["mari@sme2.example"]
    finally:
        await client.drop_database(name)
        client.close()
