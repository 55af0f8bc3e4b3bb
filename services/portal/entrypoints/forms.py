"""Cookies and forms. A signed-in person's forms carry their session's CSRF token (kept with the
session on the server, compared with what the form sends: a cookie someone else planted proves
nothing); the forms of the signed-out pages (sign-in, forgotten password, a mail's link) carry the
token their page set in a strict, HTTP-only cookie (double submit). Behind HTTPS both cookies are
`__Host-` cookies: Secure, for this host and path / only, so no other site or sub-domain can set
them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from contracts.errors import Refused

from .i18n import tr


@dataclass(frozen=True)
class Cookies:
    """The names of the portal's cookies, and whether they go over HTTPS only."""

    secure: bool

    @property
    def session(self) -> str:
        return "__Host-mapnet_session" if self.secure else "mapnet_session"

    @property
    def csrf(self) -> str:
        return "__Host-mapnet_csrf" if self.secure else "mapnet_csrf"


def cookies_of(request: Request) -> Cookies:
    cookies: Cookies = request.app.state.portal.cookies
    return cookies


def expected_csrf(request: Request) -> str | None:
    """The token a form must carry: the session's when someone is signed in (the page that
    found the session put it on the request), else the one of the page's cookie."""
    kept: str | None = getattr(request.state, "session_csrf", None)
    return kept or request.cookies.get(cookies_of(request).csrf)


def csrf_ok(request: Request, form: Any) -> bool:
    return csrf_matches(request, form.get("csrf") or request.headers.get("X-CSRF-Token"))


def csrf_matches(request: Request, sent: Any) -> bool:
    kept = expected_csrf(request)
    return bool(sent and kept and secrets.compare_digest(str(sent).encode(), kept.encode()))


async def posted(request: Request) -> Any:
    """A posted form, once its CSRF token is checked: a post without it is refused. (Its size
    was checked before it was read: see limits.py.)"""
    form = await request.form()
    if not csrf_ok(request, form):
        raise Refused("forbidden", tr("the form has expired: reload the page and send it again"))
    return form


Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], given: dict[str, Any]) -> Model:
    """A form's values as the command they make, or the refusal naming each bad field as the
    services would (so a page shows both kinds of problem the same way)."""
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"],
                   "type": e["type"]} for e in exc.errors()]  # fmt: skip
        names = ", ".join(f["field"] for f in fields)
        raise Refused("validation_failed", f"check: {names}", fields=fields) from None


def problems(refusal: Refused) -> list[str]:
    """What a page says is wrong: each field with its message, or the refusal's message."""
    fields = refusal.details.get("fields") or []
    said = [f"{str(f['field']).removeprefix('data.')}: {f['message']}" for f in fields]
    return said or [refusal.message]


def listed(value: Any) -> list[str]:
    """A comma-separated form field as a list of its non-empty parts."""
    return [part.strip() for part in str(value or "").split(",") if part.strip()]
