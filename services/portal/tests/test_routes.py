"""The portal's routes and templates in FastAPI's test client, without servers: the accounts in
memory, no bus (pages that read the services are tested on real servers in tests/)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.portal.adapters import passwords
from services.portal.domain.users import Link, NewSession, User, Wait, attempt_keys
from services.portal.entrypoints.web import Portal, create_app
from services.portal.service_layer.accounts import Accounts
from services.portal.settings import PortalSettings

PASSWORD = "correct horse battery"


class MemoryStore:
    """The portal's store as a few dicts, for the rules above it."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.attempts: dict[str, dict[str, Any]] = {}
        self.links: dict[str, Link] = {}

    async def user(self, email: str) -> User | None:
        # Copies, as a database gives and takes: a change the caller does not store is lost.
        found = self.users.get(email.strip().lower())
        return replace(found) if found else None

    async def put_user(self, user: User) -> None:
        self.users[user.email] = replace(user)

    async def people(self, region: str) -> list[User]:
        return [u for u in self.users.values() if u.region == region]

    async def set_language(self, email: str, language: str | None) -> bool:
        if email not in self.users:
            return False
        self.users[email] = replace(self.users[email], language=language)
        return True

    async def add_session(self, session: NewSession, email: str) -> None:
        self.sessions[session.digest] = {"email": email, "csrf": session.csrf,
                                         "expires_at": session.expires_at.isoformat()}  # fmt: skip

    async def session(self, digest: str) -> dict[str, Any] | None:
        return self.sessions.get(digest)

    async def end_session(self, digest: str) -> None:
        self.sessions.pop(digest, None)

    async def end_sessions_of(self, email: str) -> None:
        self.sessions = {k: v for k, v in self.sessions.items() if v["email"] != email}

    async def reserve_attempt(
        self, key: str, account: str, now: datetime, since: datetime, wait: Wait
    ) -> datetime | None:
        found = self.attempts.get(key)
        if found and found["last_at"] >= since and found["next_at"] > now:
            return datetime.fromisoformat(found["next_at"].isoformat())
        count = 1 if not found or found["last_at"] < since else found["count"] + 1
        self.attempts[key] = {"account": account, "count": count, "last_at": now,
                              "next_at": now + wait(count)}  # fmt: skip
        return None

    async def clear_attempts(self, key: str) -> None:
        self.attempts.pop(key, None)

    async def release_attempt(self, key: str) -> None:
        if (found := self.attempts.get(key)) and found["count"] > 0:
            found["count"] -= 1

    async def clear_attempts_of(self, account: str) -> None:
        self.attempts = {k: v for k, v in self.attempts.items() if v["account"] != account}

    async def add_link(self, digest: str, link: Link) -> None:
        self.links[digest] = link

    async def link(self, digest: str) -> Link | None:
        return self.links.get(digest)

    async def use_link(self, digest: str) -> bool:
        return self.links.pop(digest, None) is not None

    async def drop_links_of(self, email: str) -> None:
        self.links = {k: v for k, v in self.links.items() if v.email != email}

    async def invitations(self, region: str) -> list[Link]:
        return [k for k in self.links.values() if k.purpose == "invitation" and k.region == region]

    async def drop_invitations_of(self, email: str) -> int:
        gone = [d for d, k in self.links.items() if k.purpose == "invitation" and k.email == email]
        self.links = {d: k for d, k in self.links.items() if d not in gone}
        return len(gone)


@pytest.fixture
def portal() -> TestClient:
    accounts = Accounts(MemoryStore(), passwords.hashed, passwords.verified, 1.0)
    return TestClient(
        create_app(
            Portal("tallinn", accounts, PortalSettings.model_validate({"MAPNET_DEMO": True}))
        )
    )


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_health_sign_in_page_and_the_demo_accounts_it_names(portal: TestClient) -> None:
    assert portal.get("/healthz").json() == {"status": "ok"}
    page = portal.get("/signin")
    assert page.status_code == 200 and "<h1>Sign in</h1>" in page.text
    assert "staff@tallinn.example" in page.text and "mapnet-demo" in page.text
    assert portal.cookies.get("mapnet_csrf") == csrf_of(page)  # double submit
    gone = portal.get("/smes", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/signin?next=/smes"


async def test_a_person_signs_in_sees_their_role_and_is_refused_other_roles_pages(
    portal: TestClient,
) -> None:
    accounts = portal.app.state.portal.accounts  # type: ignore[attr-defined]
    await accounts.add_user("mari@photonforge.ee", "sme", "tallinn", PASSWORD, sme_id="s1")
    page = portal.get("/signin")
    sent = {"email": "mari@photonforge.ee", "password": PASSWORD, "csrf": csrf_of(page),
            "next": "//evil.example/"}  # fmt: skip
    signed = portal.post("/signin", data=sent, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/"  # no open redirect
    for elsewhere in ("/\\evil.example/", "/\t/evil.example/", "\\\\evil.example"):
        page = portal.get("/signin", params={"next": elsewhere})
        assert 'name="next" value="/"' in page.text, elsewhere
    home = portal.get("/")
    assert "as <strong>sme</strong>" in home.text and 'href="/partners"' in home.text
    assert 'href="/smes"' not in home.text  # the registry is staff's
    refused = portal.get("/smes")
    assert refused.status_code == 403 and "this page is not for your role" in refused.text
    forged = portal.post("/preferences", data={"csrf": "forged"})
    assert forged.status_code == 403


async def test_a_wrong_password_is_said_once_and_the_link_pages_refuse_a_bad_token(
    portal: TestClient,
) -> None:
    page = portal.get("/signin")
    wrong = portal.post("/signin", data={"email": "x@y.ee", "password": "nope nope nope",
                                         "csrf": csrf_of(page)})  # fmt: skip
    assert wrong.status_code == 401 and "wrong email or password" in wrong.text
    stale = portal.get("/welcome/not-a-token")
    assert stale.status_code == 404 and "used already or has expired" in stale.text
    assert portal.get("/forgot").status_code == 200


async def _asgi_post(app: Any, path: str, length: int) -> tuple[int, bool]:
    """A POST saying its body is `length` bytes long, sent to the app as the server would:
    (the status, whether the app read any of the body)."""
    read: list[bool] = []
    started: list[int] = []

    async def receive() -> dict[str, Any]:
        read.append(True)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.append(message["status"])

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
             "headers": [(b"content-length", str(length).encode()),
                         (b"content-type", b"application/x-www-form-urlencoded")],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}  # fmt: skip
    await app(scope, receive, send)
    return started[0], bool(read)


async def test_a_body_larger_than_its_route_allows_is_refused_before_it_is_read(
    portal: TestClient,
) -> None:
    from services.portal.entrypoints.import_pages import MAX_UPLOAD
    from services.portal.entrypoints.limits import BODY_LIMIT

    app = portal.app
    assert await _asgi_post(app, "/signin", 10**10) == (413, False)
    assert await _asgi_post(app, "/api/v1/events/publish_event", BODY_LIMIT + 1) == (413, False)
    assert await _asgi_post(app, "/smes/import", MAX_UPLOAD + 10**6) == (413, False)
    # The import's own cap is the import's only: a file of 1 MB may go there (signed out, it
    # is sent to sign in, unread), not to a form.
    assert (await _asgi_post(app, "/smes/import", 10**6))[0] == 303
    # A body that does not say its length is cut off as it passes the limit.
    chunks = iter([b"email=a&password=" + b"x" * 100_000] + [b"x" * 100_000] * 5)
    cut = portal.post("/signin", content=chunks,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert cut.status_code == 413


async def test_a_signed_in_persons_forms_carry_their_sessions_token_not_a_planted_cookies(
    portal: TestClient,
) -> None:
    accounts = portal.app.state.portal.accounts  # type: ignore[attr-defined]
    await accounts.add_user("a@t.ee", "map_staff", "tallinn", PASSWORD)
    page = portal.get("/signin")
    portal.post("/signin", data={"email": "a@t.ee", "password": PASSWORD, "csrf": csrf_of(page)})
    home = portal.get("/")
    # Someone who can set a cookie for the site (a sub-domain, a plain-HTTP hop) sets their own
    # token and sends the same in a form: double submit alone would take it.
    portal.cookies.set("mapnet_csrf", "planted-token")
    forged = portal.post("/signout", data={"csrf": "planted-token"}, follow_redirects=False)
    assert forged.status_code == 403
    assert portal.get("/").status_code == 200  # still signed in
    # The import's token is checked from its address, before the upload is read.
    upload = {"file": ("smes.csv", b"legal_name\n", "text/csv")}
    unread = portal.post("/smes/import", data={"csrf": csrf_of(home)}, files=upload,
                         follow_redirects=False)  # fmt: skip
    assert unread.status_code == 403
    form = portal.get("/smes/import")
    assert f'action="/smes/import?csrf={csrf_of(home)}"' in form.text
    out = portal.post("/signout", data={"csrf": csrf_of(home)}, follow_redirects=False)
    assert out.status_code == 303


async def test_an_import_of_many_bad_rows_keeps_the_first_500_counts_all_and_says_so(
    portal: TestClient,
) -> None:
    from services.portal.entrypoints.import_pages import SHOWN_REJECTIONS

    accounts = portal.app.state.portal.accounts  # type: ignore[attr-defined]
    await accounts.add_user("a@t.ee", "map_staff", "tallinn", PASSWORD)
    # Rows the contract refuses before any bus call (no such country), 100 more than are shown.
    rows = "".join(f"Firm {n} OÜ,1400{n:04d},XX,62.01,ict\n" for n in range(600))
    csv = "legal_name,registration_number,country,nace_codes,clusters\n" + rows
    with portal:  # the import runs in the app's loop, kept running between requests
        page = portal.get("/signin")
        portal.post("/signin", data={"email": "a@t.ee", "password": PASSWORD,
                                     "csrf": csrf_of(page)})  # fmt: skip
        token = csrf_of(portal.get("/smes/import"))
        sent = portal.post(f"/smes/import?csrf={token}", data={"csrf": token},
                           files={"file": ("smes.csv", csv.encode(), "text/csv")},
                           follow_redirects=False)  # fmt: skip
        assert sent.status_code == 303, sent.text
        for _ in range(200):
            shown = portal.get(sent.headers["location"], headers={"HX-Request": "true"})
            if "Finished" in shown.text:
                break
            await asyncio.sleep(0.05)
    assert "0 SMEs loaded, 600 rows rejected." in shown.text
    assert "The first 500 of 600 rejected rows" in shown.text
    assert shown.text.count("<tr><td>") == SHOWN_REJECTIONS == 500
    (job,) = portal.app.state.imports.jobs.values()  # type: ignore[attr-defined]
    assert (len(job.rejected), job.rejected_count) == (500, 600)  # only the shown ones kept
    assert job.rejected[0][0] == 2 and "country" in job.rejected[0][1]


async def test_behind_https_the_cookies_are_secure_host_cookies_and_pages_say_how_to_be_shown(
    portal: TestClient,
) -> None:
    accounts = portal.app.state.portal.accounts  # type: ignore[attr-defined]
    settings = PortalSettings.model_validate({"MAPNET_PUBLIC_URL": "https://portal.example.eu"})
    https = TestClient(create_app(Portal("tallinn", accounts, settings)),
                       base_url="https://testserver")  # fmt: skip
    await accounts.add_user("a@t.ee", "map_staff", "tallinn", PASSWORD)
    page = https.get("/signin")
    set_csrf = page.headers["set-cookie"]
    assert set_csrf.startswith("__Host-mapnet_csrf=") and "Secure" in set_csrf
    assert "Path=/" in set_csrf and "Domain" not in set_csrf
    sent = {"email": "a@t.ee", "password": PASSWORD, "csrf": csrf_of(page)}
    signed = https.post("/signin", data=sent, follow_redirects=False)
    session = signed.headers["set-cookie"]
    assert session.startswith("__Host-mapnet_session=") and "Secure" in session
    assert https.get("/").status_code == 200  # the secure cookies work over https
    # Plain HTTP on this machine (development): ordinary cookies, no Secure.
    assert portal.get("/signin").headers["set-cookie"].startswith("mapnet_csrf=")
    for answer in (page, https.get("/")):
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
    assert "no-store" not in https.get("/static/htmx-2.0.11.min.js").headers.get(
        "cache-control", ""
    )


async def test_forgot_answers_at_once_and_alike_whoever_asks_and_is_limited(
    portal: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making and mailing a reset link takes time only when the address has an account: the
    answer goes first, so its timing tells nothing; a mailbox and an address get few links."""
    import asyncio

    import httpx

    app: Any = portal.app
    accounts = app.state.portal.accounts
    await accounts.add_user("a@t.ee", "map_staff", "tallinn", PASSWORD)
    mail_sent = asyncio.Event()

    async def mail_that_never_goes(*args: Any, **kwargs: Any) -> None:
        await mail_sent.wait()

    monkeypatch.setattr(app.state.portal, "call", mail_that_never_goes)
    app.state.portal.base_url = "http://testserver"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        page = await http.get("/forgot")

        async def ask(email: str) -> httpx.Response:
            sent = {"email": email, "csrf": csrf_of(page)}
            return await asyncio.wait_for(http.post("/forgot", data=sent), timeout=5)

        for email in ("a@t.ee", "nobody@t.ee") + ("a@t.ee",) * 8:
            answer = await ask(email)
            assert answer.status_code == 200 and "If that address has an account" in answer.text
        await asyncio.sleep(0.2)
        store = accounts.store
        assert len([k for k, v in store.links.items() if v.email == "a@t.ee"]) == 3
        paused = await ask("nobody@t.ee")  # the address's eleventh
        assert paused.status_code == 429 and paused.headers["Retry-After"] == "30"
    mail_sent.set()


@pytest.mark.parametrize("behind_proxy", [True, False])
async def test_sign_in_is_throttled_per_forwarded_address_only_behind_a_named_proxy(
    behind_proxy: bool,
) -> None:
    """Behind a reverse proxy every person arrives from the proxy's address: with
    MAPNET_FORWARDED_ALLOW_IPS naming it, the address it forwards is the one counted; unset, a
    forwarded address is anyone's word and ignored."""
    import httpx

    from services.portal.entrypoints.web import serve_http

    named = {"MAPNET_FORWARDED_ALLOW_IPS": "127.0.0.1"} if behind_proxy else {}
    settings = PortalSettings.model_validate(named)
    accounts = Accounts(MemoryStore(), passwords.hashed, passwords.verified, 1.0)
    await accounts.add_user("a@t.ee", "map_staff", "tallinn", PASSWORD)
    app = create_app(Portal("tallinn", accounts, settings))
    server, task, url = await serve_http(app, settings, 0, "tallinn")
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            page = await http.get("/signin")

            async def sign_in(password: str, address: str) -> int:
                sent = {"email": "a@t.ee", "password": password, "csrf": csrf_of(page)}
                answer = await http.post("/signin", data=sent,
                                         headers={"X-Forwarded-For": address})  # fmt: skip
                return answer.status_code

            for _ in range(5):
                assert await sign_in("a wrong guess", "203.0.113.7") == 401
            assert await sign_in(PASSWORD, "203.0.113.7") == 429  # the guesser waits
            # The owner, at another address behind the same proxy:
            assert await sign_in(PASSWORD, "198.51.100.9") == (303 if behind_proxy else 429)
        counted = accounts.store.attempts  # type: ignore[attr-defined]
        assert (attempt_keys("a@t.ee", "203.0.113.7")["address"] in counted) is behind_proxy
        assert (attempt_keys("a@t.ee", "127.0.0.1")["address"] in counted) is not behind_proxy
    finally:
        server.should_exit = True
        await task


def test_the_portals_own_fault_is_a_plain_page_with_a_reference(portal: TestClient) -> None:
    """A page that fails (here: no bus to ask) names no exception to the browser."""
    from structlog.testing import capture_logs

    quiet = TestClient(portal.app, raise_server_exceptions=False)
    with capture_logs() as logged:
        failed = quiet.get("/calendar")
    assert failed.status_code == 500 and "something went wrong: try again" in failed.text
    assert "AssertionError" not in failed.text and "not connected" not in failed.text
    [said] = [e for e in logged if e["event"] == "page_failed"]
    assert said["correlation_id"] in failed.text and said["path"] == "/calendar"
