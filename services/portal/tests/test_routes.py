"""The portal's routes and templates in FastAPI's test client, without servers: the accounts in
memory, no bus (pages that read the services are tested on real servers in tests/)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.portal.adapters import passwords
from services.portal.domain.users import Link, NewSession, User
from services.portal.entrypoints.web import Portal, create_app
from services.portal.service_layer.accounts import Accounts
from services.portal.settings import PortalSettings

PASSWORD = "correct horse battery"


class MemoryStore:
    """The portal's store as a few dicts, for the rules above it."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, list[str]] = {}
        self.links: dict[str, Link] = {}

    async def user(self, email: str) -> User | None:
        return self.users.get(email.strip().lower())

    async def put_user(self, user: User) -> None:
        self.users[user.email] = user

    async def people(self, region: str, limit: int = 500) -> list[User]:
        return [u for u in self.users.values() if u.region == region][:limit]

    async def add_session(self, session: NewSession, email: str) -> None:
        self.sessions[session.digest] = {"email": email, "csrf": session.csrf,
                                         "expires_at": session.expires_at.isoformat()}  # fmt: skip

    async def session(self, digest: str) -> dict[str, Any] | None:
        return self.sessions.get(digest)

    async def end_session(self, digest: str) -> None:
        self.sessions.pop(digest, None)

    async def end_sessions_of(self, email: str) -> None:
        self.sessions = {k: v for k, v in self.sessions.items() if v["email"] != email}

    async def failures_since(self, key: str, since: datetime) -> int:
        return sum(1 for at in self.failures.get(key, []) if at >= since.isoformat())

    async def failed(self, key: str, now: datetime, since: datetime) -> None:
        self.failures.setdefault(key, []).append(now.isoformat())

    async def clear_failures(self, key: str) -> None:
        self.failures.pop(key, None)

    async def add_link(self, digest: str, link: Link) -> None:
        self.links[digest] = link

    async def link(self, digest: str) -> Link | None:
        return self.links.get(digest)

    async def use_link(self, digest: str) -> bool:
        return self.links.pop(digest, None) is not None


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
