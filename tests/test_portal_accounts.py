"""The portal's promises about accounts, over HTTP on real servers: twenty failed sign-ins per
address, then a pause; a password reset ends every session of that person."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic_settings import BaseSettings

from mapnet.dev.mailbox import MailStore
from mapnet.runner import Assembly
from services.notify.settings import NotifySettings
from services.portal.settings import PortalSettings
from tests.fixtures import Servers
from tests.test_portal import PASSWORD, add_person, csrf_of, mailed_link, portal_url, sign_in

GUESSER, OWNER = "203.0.113.7", "198.51.100.9"


@pytest.fixture
def service_configs(notify_settings: NotifySettings) -> dict[str, BaseSettings]:
    """The region's mail goes to this test's mailbox; the portal believes the address this
    test's client says it forwards for (as behind a reverse proxy), so that two people at two
    addresses can be told apart."""
    portal = PortalSettings.model_validate({"MAPNET_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    return {"notify": notify_settings, "portal": portal}


async def test_twenty_failed_sign_ins_from_one_address_then_it_waits(
    region_app: Assembly, servers: Servers, region: str
) -> None:
    people = [f"staff{n}@tallinn.example" for n in range(6)]
    for email in people:
        await add_person(servers, region, email, "map_staff")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        form = csrf_of(await http.get("/signin"))

        async def attempt(email: str, password: str, address: str) -> httpx.Response:
            sent = {"email": email, "password": password, "csrf": form}
            return await http.post("/signin", data=sent, headers={"X-Forwarded-For": address})

        # Twenty wrong passwords from one address, four for each of five accounts (below the
        # five an account may have from one address): each is only wrong. (One after another:
        # attempts at the same instant are told to wait a second, by design.)
        for n in range(20):
            twentieth_sent = time.monotonic()
            wrong = await attempt(people[n % 5], "a wrong guess!", GUESSER)
            assert wrong.status_code == 401 and "wrong email or password" in wrong.text, n
        # The address's twenty-first waits, whatever it is (here a sixth account's right
        # password): a guesser does not get round the pause by moving to other accounts.
        paused = await attempt(people[5], PASSWORD, GUESSER)
        since_twentieth_s = time.monotonic() - twentieth_sent
        assert paused.status_code == 429 and "too many failed sign-ins" in paused.text
        # The first pause, 30 s from the twentieth: what is left of it, rounded up, so that
        # waiting as told is never too soon (rounded down, it would be less than what is left).
        retry_after_s = int(paused.headers["Retry-After"])
        assert 28 <= retry_after_s <= 30
        assert retry_after_s >= 30 - since_twentieth_s - 0.01, since_twentieth_s  # ms stored
        # The same person from another address is let in.
        owner = await attempt(people[5], PASSWORD, OWNER)
        assert owner.status_code == 303 and "mapnet_session" in owner.cookies


async def test_a_password_reset_ends_every_session_of_that_person(
    region_app: Assembly, servers: Servers, region: str, mailbox: tuple[MailStore, int]
) -> None:
    store, _ = mailbox
    mari, jaan = "mari@tallinn.example", "jaan@tallinn.example"
    await add_person(servers, region, mari, "map_staff")
    await add_person(servers, region, jaan, "map_staff")
    base = portal_url(region_app, region)
    async with (
        httpx.AsyncClient(base_url=base) as laptop,
        httpx.AsyncClient(base_url=base) as phone,
        httpx.AsyncClient(base_url=base) as colleague,
        httpx.AsyncClient(base_url=base) as someone,
    ):
        for device, email in ((laptop, mari), (phone, mari), (colleague, jaan)):
            assert (await sign_in(device, email)).status_code == 303
            assert (await device.get("/smes")).status_code == 200
        form = await someone.get("/forgot")
        await someone.post("/forgot", data={"email": mari, "csrf": csrf_of(form)})
        reset = await mailed_link(store, "password_reset", mari)
        form = await someone.get(reset)
        new = "a new and longer secret"
        done = await someone.post(reset, data={"password": new, "repeat": new,
                                               "csrf": csrf_of(form)})  # fmt: skip
        assert done.status_code == 303  # signed in with the new password, a new session
        assert (await someone.get("/smes")).status_code == 200
        # Mari's sessions on her laptop and phone ended with the reset; Jaan's did not.
        for device in (laptop, phone):
            ended = await device.get("/smes")
            assert ended.status_code == 303 and ended.headers["location"].startswith("/signin")
        assert (await colleague.get("/smes")).status_code == 200
