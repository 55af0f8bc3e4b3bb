"""Cookies and forms: the session cookie, and CSRF protection by double submit (every form
carries the token its page set in a strict, HTTP-only cookie; a post without it is refused)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request

from contracts.errors import Refused

SESSION, CSRF = "mapnet_session", "mapnet_csrf"


def csrf_ok(request: Request, form: Any) -> bool:
    sent = form.get("csrf") or request.headers.get("X-CSRF-Token")
    kept = request.cookies.get(CSRF)
    return bool(sent and kept and secrets.compare_digest(str(sent).encode(), kept.encode()))


async def posted(request: Request) -> Any:
    """A posted form, once its CSRF token is checked: a post without it is refused."""
    form = await request.form()
    if not csrf_ok(request, form):
        raise Refused("forbidden", "the form has expired: reload the page and send it again")
    return form
