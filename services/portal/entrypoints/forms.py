"""Cookies and forms: the session cookie, and CSRF protection by double submit (every form
carries the token its page set in a strict, HTTP-only cookie; a post without it is refused)."""

from __future__ import annotations

import secrets
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from contracts.errors import Refused

from .i18n import tr

SESSION, CSRF = "mapnet_session", "mapnet_csrf"


def csrf_ok(request: Request, form: Any) -> bool:
    sent = form.get("csrf") or request.headers.get("X-CSRF-Token")
    kept = request.cookies.get(CSRF)
    return bool(sent and kept and secrets.compare_digest(str(sent).encode(), kept.encode()))


async def posted(request: Request) -> Any:
    """A posted form, once its CSRF token is checked: a post without it is refused."""
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
