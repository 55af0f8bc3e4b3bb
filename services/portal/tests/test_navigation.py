"""The main navigation links each role's pages, the issue 30 pages among them: the facts page
for staff, reports for staff and steering, the surveys (on the home page) for a company's
contact; the guide and finance for everyone."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from .test_routes import PASSWORD, csrf_of, portal  # noqa: F401  (the fixture)

SHOWN = {
    "map_staff": {"/guide", "/finance", "/facts", "/reports", "/kpis", "/smes"},
    "map_admin": {"/guide", "/finance", "/facts", "/reports"},
    "steering": {"/guide", "/finance", "/reports", "/kpis"},
    "sme": {"/guide", "/finance", "/#surveys-heading", "/partners"},
}
HIDDEN = {
    "map_staff": {"/#surveys-heading"},
    "map_admin": {"/#surveys-heading"},
    "steering": {"/facts", "/smes", "/#surveys-heading"},
    "sme": {"/facts", "/reports", "/smes"},
}


@pytest.mark.parametrize("role", list(SHOWN))
async def test_the_navigation_links_each_roles_pages(portal: TestClient, role: str) -> None:  # noqa: F811
    accounts = portal.app.state.portal.accounts  # type: ignore[attr-defined]
    extra = {"sme_id": "s1"} if role == "sme" else {}
    await accounts.add_user("who@t.ee", role, "tallinn", PASSWORD, **extra)
    page = portal.get("/signin")
    sent = {"email": "who@t.ee", "password": PASSWORD, "csrf": csrf_of(page)}
    assert portal.post("/signin", data=sent, follow_redirects=False).status_code == 303
    home = portal.get("/")
    assert home.status_code == 200
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', home.text, re.S)
    assert nav is not None
    links = set(re.findall(r'href="([^"]+)"', nav.group(1)))
    assert SHOWN[role] <= links, SHOWN[role] - links
    assert not (HIDDEN[role] & links), HIDDEN[role] & links
