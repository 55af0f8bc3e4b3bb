"""Unsubscribe links are signed with a secret made per installation on first start, not with a
default anyone can read in the source: a token computed with the old public default is refused,
and two installations sign the same address differently."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from contracts import notify as c
from contracts.errors import Refused
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from services.notify.adapters.repository import NotifyStore
from services.notify.domain.rules import unsubscribe_token
from tests.fixtures import Servers, unique_region

pytestmark = pytest.mark.usefixtures("region_app")
PUBLIC_DEFAULT = "mapnet-development-secret"


async def test_a_token_from_the_public_default_secret_is_refused(
    client: BusClient, region: str
) -> None:
    email = "mari@example.ee"
    for token in (
        hmac.new(PUBLIC_DEFAULT.encode(), email.encode(), hashlib.sha256).hexdigest()[:32],
        unsubscribe_token(PUBLIC_DEFAULT, email),
    ):
        with pytest.raises(Refused) as refused:
            await client.call(c.UNSUBSCRIBE, c.Unsubscribe(email=email, token=token), region)
        assert refused.value.code == "forbidden"


async def test_each_installation_makes_its_own_secret_once(servers: Servers, region: str) -> None:
    client = mongo.client(servers.mongo_url)
    here = NotifyStore(mongo.database(client, region, "notify"))
    elsewhere = NotifyStore(mongo.database(client, unique_region(), "notify"))
    first = await here.installation_secret()
    assert await here.installation_secret() == first  # kept, not made again
    assert await elsewhere.installation_secret() != first
    assert len(first) >= 32


async def test_a_token_of_any_text_is_refused_not_a_fault(client: BusClient, region: str) -> None:
    """Found by schemathesis through the portal's API: a non-ASCII token was an internal error."""
    with pytest.raises(Refused) as refused:
        await client.call(c.UNSUBSCRIBE, c.Unsubscribe(email="a@b.ee", token="ÿ-token"), region)
    assert refused.value.code == "forbidden"
