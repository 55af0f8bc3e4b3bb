"""The portal over HTTP on real servers: sign-in, sessions, CSRF, roles, and the pages reading
the other services on the bus for the signed-in person."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from pydantic_settings import BaseSettings

from contracts import matching as mt
from contracts import registry as rg
from mapnet.dev.mailbox import MailStore
from mapnet.runner import Assembly
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.settings import Settings
from services.notify.adapters.repository import NotifyStore
from services.notify.domain.rules import unsubscribe_token
from services.notify.settings import NotifySettings
from services.notify.tests.test_mail import mails
from services.portal.adapters.store import PortalStore
from services.portal.entrypoints.wiring import accounts_on
from services.registry.tests.test_registry_bus import new_sme
from tests.fixtures import Servers
from tests.helpers import eventually

PASSWORD = "correct horse battery"


def portal_url(app: Assembly, region: str) -> str:
    [rt] = [rt for rt in app.runtimes if rt.service == "portal" and rt.region == region]
    assert rt.http_url
    return rt.http_url


async def add_person(servers: Servers, region: str, email: str, role: str, **extra: Any) -> None:
    store = PortalStore(mongo.database(mongo.client(servers.mongo_url), region, "portal"))
    accounts = accounts_on(store, session_hours=1)
    await accounts.add_user(email, role, region, PASSWORD, **extra)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    form = await http.get("/signin")
    return await http.post("/signin", data={"email": email, "password": password,
                                            "csrf": csrf_of(form), "next": "/smes"})  # fmt: skip


async def test_staff_sign_in_and_search_the_registry(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        gone = await http.get("/smes")
        assert gone.status_code == 303 and gone.headers["location"] == "/signin?next=/smes"
        wrong = await sign_in(http, "staff@tallinn.example", "not the password")
        assert wrong.status_code == 401 and "wrong email or password" in wrong.text
        signed = await sign_in(http, "Staff@Tallinn.example")
        assert signed.status_code == 303 and signed.headers["location"] == "/smes"
        table = await http.get("/smes", params={"text": "Photon"})
        assert table.status_code == 200 and "Photon Forge OÜ" in table.text
        rows = await http.get("/smes", params={"text": "nothing like it"},
                              headers={"HX-Request": "true"})  # fmt: skip
        assert "No SME matches" in rows.text and "<html" not in rows.text  # only the part
        sme_id = re.search(r'href="/smes/([0-9a-f-]{36})"', table.text).group(1)  # type: ignore[union-attr]
        page = await http.get(f"/smes/{sme_id}")
        assert "Coaching journey" in page.text and "identified" in page.text


async def test_posts_without_the_forms_token_are_refused_and_guessing_is_limited(
    region_app: Assembly, servers: Servers, region: str
) -> None:
    await add_person(servers, region, "admin@tallinn.example", "map_admin")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        guessed = {"email": "admin@tallinn.example", "password": PASSWORD, "csrf": "guess"}
        forged = await http.post("/signin", data=guessed)
        assert forged.status_code == 403 and "mapnet_session" not in forged.cookies
        for _ in range(5):
            await sign_in(http, "admin@tallinn.example", "wrong password!")
        paused = await sign_in(http, "admin@tallinn.example")  # even the right one, for now
        assert paused.status_code == 429 and "too many failed sign-ins" in paused.text
        # The pause is 30 s from the fifth failure; the answer names what is left of it, rounded
        # up (never sooner than the pause ends), so a slow hash of the sixth may leave 29.
        assert paused.headers["Retry-After"] in {"29", "30"}


async def test_an_sme_contact_sees_no_registry_and_no_other_companys_people(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    mine = await client.call(rg.REGISTER_SME, new_sme(), region)
    contact = [{"name": "Olev Teine", "email": "olev@other.ee"}]
    other = await client.call(rg.REGISTER_SME, new_sme(reg="14000015", name="Other OÜ",
                              contacts=contact, share_with_network=True), region)  # fmt: skip
    private = await client.call(rg.REGISTER_SME, new_sme(reg="14000038", name="Private OÜ"), region)
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=mine.sme_id)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, "mari@photonforge.ee")
        assert (await http.get("/smes")).status_code == 403
        own = await http.get(f"/smes/{mine.sme_id}")
        assert "Photon Forge OÜ" in own.text and "mari@photonforge.ee" in own.text
        # Another SME as the network sees it: the registry leaves out its people.
        seen = await http.get(f"/smes/{other.sme_id}")
        assert "Other OÜ" in seen.text and "olev@other.ee" not in seen.text
        # One that does not share with the network is not shown to another company at all.
        assert (await http.get(f"/smes/{private.sme_id}")).status_code == 403


async def test_the_public_calendar_and_a_one_click_unsubscribe(
    region_app: Assembly, servers: Servers, region: str
) -> None:
    notify = NotifyStore(mongo.database(mongo.client(servers.mongo_url), region, "notify"))
    token = unsubscribe_token(await notify.installation_secret(), "ann@example.ee")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        assert (await http.get("/calendar")).status_code == 200
        page = await http.get("/unsubscribe", params={"email": "ann@example.ee", "token": token})
        assert page.status_code == 200 and "ann@example.ee" in page.text
        done = await http.post("/unsubscribe", data={"email": "ann@example.ee", "token": token,
                                                     "csrf": csrf_of(page)})  # fmt: skip
        assert done.status_code == 200 and "sends no more mail" in done.text
        forged = await http.post("/unsubscribe", data={"email": "bob@example.ee", "token": token,
                                                       "csrf": csrf_of(page)})  # fmt: skip
        assert forged.status_code == 403  # the token is Ann's
    # A mail program's one-click unsubscribe (RFC 8058): a POST to the link itself, no cookie,
    # no form token; the signed token is the proof.
    bob = unsubscribe_token(await notify.installation_secret(), "bob@example.ee")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as mail_program:
        one_click = await mail_program.post(
            "/unsubscribe", params={"email": "bob@example.ee", "token": bob},
            data={"List-Unsubscribe": "One-Click"},
        )  # fmt: skip
        assert one_click.status_code == 200 and "sends no more mail" in one_click.text
        wrong = await mail_program.post(
            "/unsubscribe", params={"email": "ann@example.ee", "token": bob},
            data={"List-Unsubscribe": "One-Click"},
        )  # fmt: skip
        assert wrong.status_code == 403


pytestmark = pytest.mark.usefixtures("region_app")


async def test_an_erased_smes_contact_can_no_longer_sign_in(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    from tests.helpers import eventually

    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "mari@photonforge.ee", "sme", sme_id=sme.sme_id)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        assert (await sign_in(http, "mari@photonforge.ee")).status_code == 303
        await client.call(rg.ERASE_SME, rg.EraseSme(sme_id=sme.sme_id, reason="asked"), region)

        async def home() -> int:
            return (await http.get("/")).status_code

        assert await eventually(home, until=lambda status: status == 303) == 303  # signed out
        assert (await sign_in(http, "mari@photonforge.ee")).status_code == 401


async def test_an_sme_contact_finds_partners_with_the_reasons(
    region_app: Assembly, servers: Servers, client: BusClient, region: str
) -> None:
    from services.matching.tests.test_matching_bus import profile, sme
    from tests.helpers import eventually

    async def registered(name: str, number: str, p: rg.ProfileInput) -> str:
        view = await client.call(rg.REGISTER_SME, sme(name, number, nace_codes=["26.70"],
                                                      clusters=["photonics"]), region)  # fmt: skip
        await client.call(rg.PUBLISH_PROFILE, rg.PublishProfile(sme_id=view.sme_id, profile=p),
                          region)  # fmt: skip
        return view.sme_id

    wanted = profile("technology_request", "Femtosecond laser for glass cutting",
                     "We need an ultrafast laser source for cutting thin glass",
                     nace_codes=["26.70"])  # fmt: skip
    seeker = await registered("Laser Seekers OÜ", "14000009", wanted)
    await registered("Ultrafast Optics OÜ", "14000015", profile(
        "technology_offer", "Ultrafast femtosecond laser source",
        "Compact femtosecond laser for glass cutting", nace_codes=["26.70"]))  # fmt: skip
    await add_person(servers, region, "seeker@lasers.ee", "sme", sme_id=seeker)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, "seeker@lasers.ee")

        async def results() -> str:
            return (await http.get("/partners")).text

        page = await eventually(results, until=lambda text: "Ultrafast femtosecond" in text)
        assert "Why:" in page and "Laser Seekers" not in page.split('id="partners"')[1]
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, "staff@tallinn.example")
        assert (await http.get("/partners")).status_code == 403  # for a company's contact


@pytest.fixture
def service_configs(notify_settings: NotifySettings) -> dict[str, BaseSettings]:
    """The region's mail goes to this test's mailbox: the portal's links arrive as mail."""
    return {"notify": notify_settings}


async def mailed_link(store: MailStore, kind: str, to: str) -> str:
    """The portal link in the newest mail of this kind to this address (its path and query)."""

    def found() -> list[str]:
        texts = [m.get_body(("plain",)).get_content() for m in mails(store, kind, to)]  # type: ignore[union-attr]
        return [u for t in texts for u in re.findall(r"http://\S+/(?:welcome|reset)/\S+", t)]

    links = await eventually(lambda: _now(found()), until=bool)
    return "/" + links[-1].split("/", 3)[3]


async def _now(value: Any) -> Any:
    return value


async def test_staff_invite_a_contact_who_joins_once_and_resets_a_forgotten_password(
    region_app: Assembly, servers: Servers, client: BusClient, region: str,
    mailbox: tuple[MailStore, int],
) -> None:  # fmt: skip
    store, _ = mailbox
    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    base = portal_url(region_app, region)
    async with httpx.AsyncClient(base_url=base) as staff:
        await sign_in(staff, "staff@tallinn.example")
        page = await staff.get(f"/smes/{sme.sme_id}")
        assert "Invite to the portal" in page.text
        invite = {"email": "mari@photonforge.ee", "name": "Mari Maasikas", "role": "sme",
                  "sme_id": sme.sme_id, "csrf": csrf_of(page)}  # fmt: skip
        sent = await staff.post("/invitations", data=invite)
        assert sent.status_code == 200 and "mari@photonforge.ee is invited" in sent.text
        again = await staff.post("/invitations", data=invite)
        assert again.status_code == 200  # a mail gone astray is sent again; either link works
        beyond = await staff.post("/invitations", data=invite | {"role": "map_admin",
                                                                  "email": "x@t.ee"})  # fmt: skip
        assert beyond.status_code == 403  # staff do not make administrators

    link = await mailed_link(store, "invitation", "mari@photonforge.ee")
    assert link.startswith("/welcome/")
    async with httpx.AsyncClient(base_url=base) as mari:
        form = await mari.get(link)
        assert form.status_code == 200 and "mari@photonforge.ee" in form.text
        chosen = {"password": PASSWORD, "repeat": PASSWORD, "csrf": csrf_of(form)}
        joined = await mari.post(link, data=chosen)
        assert joined.status_code == 303 and joined.headers["location"] == "/"
        home = await mari.get("/")
        assert "as <strong>sme</strong>" in home.text
        used = await mari.post(link, data=chosen)
        assert used.status_code == 404 and "used already" in used.text
    async with httpx.AsyncClient(base_url=base) as staff:
        await sign_in(staff, "staff@tallinn.example")
        page = await staff.get("/people")
        assert "mari@photonforge.ee" in page.text
        joined_already = await staff.post("/invitations", data=invite | {"csrf": csrf_of(page)})
        assert joined_already.status_code == 409

    async with httpx.AsyncClient(base_url=base) as someone:
        form = await someone.get("/forgot")
        for email in ("mari@photonforge.ee", "nobody@photonforge.ee"):
            asked = await someone.post("/forgot", data={"email": email, "csrf": csrf_of(form)})
            assert "If that address has an account" in asked.text  # the same either way
        older = await mailed_link(store, "password_reset", "mari@photonforge.ee")
        await someone.post("/forgot", data={"email": "mari@photonforge.ee",
                                            "csrf": csrf_of(form)})  # fmt: skip
        reset = await eventually(
            lambda: mailed_link(store, "password_reset", "mari@photonforge.ee"),
            until=lambda link: link != older,
        )
        form = await someone.get(reset)
        new = "a new and longer secret"
        await someone.post(reset, data={"password": new, "repeat": new, "csrf": csrf_of(form)})
        assert (await sign_in(someone, "mari@photonforge.ee", new)).status_code == 303
        assert (await sign_in(someone, "mari@photonforge.ee")).status_code == 401
        # The older mail's link went with the reset: it is no key to the account any more.
        assert (await someone.get(older)).status_code == 404
    assert not mails(store, "password_reset", "nobody@photonforge.ee")


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every page of the portal, each path parameter filled in."""
    from fastapi.routing import APIRoute

    from services.portal.entrypoints.web import Portal, create_app
    from services.portal.settings import PortalSettings

    app = create_app(Portal("x", accounts_on(None), PortalSettings()))  # type: ignore[arg-type]
    return sorted(
        (method, re.sub(r"{[^}]+}", "x", route.path))
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    )


def test_a_portal_listening_beyond_this_machine_needs_its_public_address(
    settings: Settings, region: str
) -> None:
    """Else the links in mails (invitations, resets) would point at 0.0.0.0."""
    from services.portal.entrypoints.web import PortalConfigError
    from services.portal.settings import PortalSettings

    wide = PortalSettings.model_validate({"MAPNET_HTTP_HOST": "0.0.0.0"})
    with pytest.raises(PortalConfigError, match="MAPNET_PUBLIC_URL"):
        Assembly(settings, ["portal"], [region], configs={"portal": wide})
    named = wide.model_copy(update={"public_url": "https://portal.example.eu"})
    assert Assembly(settings, ["portal"], [region], configs={"portal": named}).runtimes


PUBLIC = {"/healthz", "/signin", "/calendar", "/calendar.ics", "/events/x", "/unsubscribe",
          "/forgot", "/welcome/x", "/reset/x", "/guide", "/guide/markets", "/guide/markets/x",
          "/guide/articles/x", "/finance"}  # fmt: skip


async def test_signed_out_every_page_but_the_public_ones_sends_to_sign_in_and_no_post_works(
    region_app: Assembly, servers: Servers, region: str
) -> None:
    routes = every_route()
    assert ("POST", "/meetings/x") in routes and len(routes) > 30  # the list is the app's
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        for method, path in routes:
            if method == "GET" and path not in PUBLIC:
                answer = await http.get(path)
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/signin?next="), path
        await add_person(servers, region, "admin@tallinn.example", "map_admin")
        await sign_in(http, "admin@tallinn.example")
        for method, path in routes:
            if method == "POST" and path != "/unsubscribe":  # a mail's token is its proof
                answer = await http.post(path, data={"csrf": "forged", "email": "a@b.ee"})
                assert answer.status_code == 403, (path, answer.status_code)
        assert (await http.post("/signout", data={"csrf": "forged"})).status_code == 403
        assert (await http.get("/")).status_code == 200  # a forged sign-out signs nobody out


async def test_sign_in_attempts_are_counted_before_the_slow_check_per_account_and_address(
    servers: Servers, region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    from typer.testing import CliRunner

    from contracts.errors import Refused
    from services.portal.adapters import passwords
    from services.portal.entrypoints.cli import app as user_cli
    from services.portal.service_layer.accounts import Accounts

    store = PortalStore(mongo.database(mongo.client(servers.mongo_url), region, "portal"))
    checked: list[str] = []

    async def verified(password: str, hashed: str | None) -> bool:
        checked.append(password)
        return await passwords.verified(password, hashed)

    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    accounts = Accounts(store, passwords.hashed, verified, 1.0, clock=lambda: now[0])
    await accounts.add_user("admin@tallinn.example", "map_admin", region, PASSWORD)

    async def attempt(password: str, address: str) -> str:
        try:
            await accounts.sign_in("admin@tallinn.example", password, address)
        except Refused as refused:
            return refused.message
        return "signed in"

    # Guesses sent at once: none passes a count taken after the slow check.
    await asyncio.gather(*(attempt(f"guess number {n}", "10.0.0.66") for n in range(30)))
    while "too many" not in await attempt("one more guess", "10.0.0.66"):
        pass
    assert 1 <= len(checked) <= 5  # (an attempt refused on one counter may count on another)
    # The owner, elsewhere, is not locked out by the guesser.
    assert await attempt(PASSWORD, "10.0.0.7") == "signed in"
    # The guesser waits 30 s, then 60 s after the next wrong guess.
    with pytest.raises(Refused) as paused:
        await accounts.sign_in("admin@tallinn.example", PASSWORD, "10.0.0.66")
    assert paused.value.details["retry_after_s"] == 30
    now[0] += timedelta(seconds=31)
    assert await attempt("still guessing", "10.0.0.66") == "wrong email or password"
    with pytest.raises(Refused) as longer:
        await accounts.sign_in("admin@tallinn.example", PASSWORD, "10.0.0.66")
    assert longer.value.details["retry_after_s"] == 60
    # An administrator lets the account in again from the command line.
    monkeypatch.setenv("MONGO_URL", servers.mongo_url)
    monkeypatch.setenv("MAPNET_HOME", str(servers.nats_home or "") + "-none")
    done = await asyncio.to_thread(CliRunner().invoke, user_cli, [
        "unlock", "--email", "admin@tallinn.example", "--region", region])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert await attempt(PASSWORD, "10.0.0.66") == "signed in"
    # An office behind one address: sign-ins that succeed are not counted against it, only
    # failures are (thirty colleagues sign in of a morning, more than the address's 20).
    office = "10.0.0.80"
    for n in range(30):
        await accounts.add_user(f"colleague{n}@tallinn.example", "map_staff", region, PASSWORD)
    for n in range(30):
        assert await accounts.sign_in(f"colleague{n}@tallinn.example", PASSWORD, office)


async def test_lists_are_read_to_the_end_and_unknown_actions_and_bad_numbers_are_refused(
    region_app: Assembly, servers: Servers, client: BusClient, region: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from services.matching.tests.test_matching_bus import event_with_participants, request
    from services.portal.entrypoints import event_pages

    monkeypatch.setattr(event_pages, "PAGE", 2)  # five registrations, three meetings: pages
    event_id, people = await event_with_participants(client, region, 5)
    asked = [await request(client, region, event_id, people[0], other) for other in people[1:4]]
    await add_person(servers, region, "staff@tallinn.example", "map_staff")
    await add_person(servers, region, "p0@example.fi", "sme", sme_id=people[0].sme_id)
    base = portal_url(region_app, region)
    async with httpx.AsyncClient(base_url=base) as staff:
        await sign_in(staff, "staff@tallinn.example")
        organise = await staff.get(f"/events/{event_id}/organise")
        assert all(f"Person {i}" in organise.text for i in range(5)), organise.text
        agendas = await staff.get(f"/events/{event_id}/organise")
        bad = await staff.post(f"/events/{event_id}/schedule",
                               data={"csrf": csrf_of(agendas), "time_limit_s": "soon"})  # fmt: skip
        assert bad.status_code == 422 and "time_limit_s" in bad.text
    async with httpx.AsyncClient(base_url=base) as contact:
        await sign_in(contact, "p0@example.fi")
        mine = await contact.get(f"/events/{event_id}/meetings")
        assert all(other.sme_id in mine.text for other in people[1:4]), mine.text
        odd = await contact.post(f"/meetings/{asked[0].meeting_id}",
                                 data={"csrf": csrf_of(mine), "action": "acept"})  # fmt: skip
        assert odd.status_code == 422
        kept = await client.call(
            mt.LIST_MEETINGS, mt.ListMeetings(event_id=event_id, participant=people[0]), region
        )
        assert {m.status for m in kept.items} == {"requested"}  # not cancelled by default


async def test_a_services_fault_is_shown_as_something_went_wrong_and_its_detail_is_logged(
    region_app: Assembly, servers: Servers, client: BusClient, region: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from structlog.testing import capture_logs

    from services.registry.service_layer import handlers

    sme = await client.call(rg.REGISTER_SME, new_sme(), region)
    await add_person(servers, region, "staff@tallinn.example", "map_staff")

    def broken(*_: Any) -> Any:
        raise TypeError("a bug in the registry")

    monkeypatch.setattr(handlers, "as_seen_by", broken)
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        await sign_in(http, "staff@tallinn.example")
        with capture_logs() as logged:
            page = await http.get(f"/smes/{sme.sme_id}")
    assert page.status_code == 500 and "something went wrong: try again" in page.text
    assert "TypeError" not in page.text and "get_sme" not in page.text
    reference = re.search(r"Reference: <code>([0-9a-f-]{36})</code>", page.text)
    assert reference, page.text
    [said] = [e for e in logged if e["event"] == "service_failed"]
    assert said["correlation_id"] == reference.group(1)
    assert said["error"] == "TypeError while handling get_sme" and said["operation"] == "get_sme"


async def publish_entries(client: BusClient, region: str, count: int, **extra: Any) -> list[str]:
    """`count` calendar entries published on the events service's bus, 20 at a time: their
    titles (Fair 000, Fair 001, ...)."""
    import asyncio

    from contracts import events as ev
    from services.events.tests.test_events_bus import entry

    at_once = asyncio.Semaphore(20)
    titles = [f"Fair {n:03d} {extra.get('country', 'EE')}" for n in range(count)]

    async def one(title: str) -> None:
        async with at_once:
            await client.call(ev.PUBLISH_EVENT, entry(title, title=title, **extra), region)

    await asyncio.gather(*(one(title) for title in titles))
    return titles


async def test_the_calendar_page_links_to_its_next_page_with_the_same_filters(
    region_app: Assembly, client: BusClient, region: str
) -> None:
    from services.portal.entrypoints.pages import CALENDAR_PAGE

    estonian = await publish_entries(client, region, CALENDAR_PAGE * 2 + 7)
    finnish = await publish_entries(client, region, 3, country="FI", city="Helsinki")
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        page = await http.get("/calendar", params={"country": "EE", "kind": "conference"})
        for _ in range(10):  # (a cursor that led back would go round forever)
            titles = re.findall(r'<a href="/events/[^"]+">(Fair [^<]+)</a>', page.text)
            assert len(titles) <= CALENDAR_PAGE
            seen += titles
            found = re.search(r'<a href="(/calendar\?[^"]+)" hx-get="\1"', page.text)
            if found is None:
                break
            assert len(titles) == CALENDAR_PAGE
            more = found.group(1).replace("&amp;", "&")
            assert "country=EE" in more and "kind=conference" in more and "cursor=" in more
            # The next page as htmx asks for it: only the table, to put in place of the last.
            page = await http.get(more, headers={"HX-Request": "true"})
            assert page.status_code == 200 and "<html" not in page.text
        assert len(seen) == len(set(seen)) and sorted(seen) == sorted(estonian)
        assert not set(seen) & set(finnish)
        odd = await http.get("/calendar", params={"cursor": "not a cursor"})
        assert odd.status_code == 422


async def test_the_calendar_feed_carries_the_whole_calendar_or_says_it_is_too_large(
    region_app: Assembly, client: BusClient, region: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import icalendar

    from services.events.adapters import views
    from services.events.service_layer import handlers

    monkeypatch.setattr(views, "ICAL_PAGE", 40)  # the events service reads it in four pages
    estonian = await publish_entries(client, region, 130)
    await publish_entries(client, region, 2, country="FI", city="Helsinki")
    async with httpx.AsyncClient(base_url=portal_url(region_app, region)) as http:
        feed = await http.get("/calendar.ics", params={"country": "EE"})
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        events = icalendar.Calendar.from_ical(feed.text).walk("VEVENT")
        assert sorted(str(e["SUMMARY"]) for e in events) == sorted(estonian)  # each, once
        # A calendar larger than one answer of the bus carries is refused, saying so: by its
        # count of entries before it is read to the end, else by its size once written.
        for room, told in ((20_000, "(more than 100 entries)"), (40_000, " bytes)")):
            monkeypatch.setattr(handlers, "ENVELOPE_ROOM", client.nc.max_payload - room)
            refused = await http.get("/calendar.ics", params={"country": "EE"})
            assert refused.status_code == 422, refused.text
            said = f"{told} is larger than one answer carries ({room} bytes)"
            assert said in refused.text, refused.text
