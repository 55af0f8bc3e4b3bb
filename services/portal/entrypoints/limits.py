"""What every answer of the portal carries, and what no request may exceed: two ASGI middlewares
around the whole app (the pages and the partners' API).

A body larger than its route allows is refused with 413 before it is read: by its
Content-Length when it says one, else as soon as the bytes received pass the limit (so a form is
never parsed, nor an upload spooled to disk, beyond it). The limit is small everywhere but on the
import of a file of SMEs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Scope = dict[str, Any]
Receive = Any
Send = Any

# Any form or API body: the largest a page or a partner sends is a few kB (the contracts bound
# every text and list).
BODY_LIMIT = 256 * 1024
# Pages: scripts only from the portal itself (no inline script, so an injected one does not
# run), styles inline (the pages' own <style>), no framing (clickjacking), forms only to here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    # The links in mails carry their token in the path (/reset/<token>): no page tells another
    # site where it was.
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]
# Pages show people's data or hold a token: no cache keeps them (a shared computer's back
# button, a proxy). Only the static files may be kept.
NO_STORE = (b"cache-control", b"no-store")


class TooLarge(Exception):
    pass


class Guarded:
    """The app with its body limits and response headers."""

    def __init__(self, app: Any, larger: Mapping[tuple[str, str], int]) -> None:
        self.app, self.larger = app, dict(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get((scope["method"], scope["path"]), BODY_LIMIT)
        said = dict(scope["headers"]).get(b"content-length")
        if said is not None and (not said.isdigit() or int(said) > limit):
            await _too_large(send)
            return
        received, started = 0, False

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge
            return message

        static = scope["path"].startswith("/static/")

        async def headed(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                if not static:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append(NO_STORE)
                message = {**message, "headers": [*headers, *HEADERS]}
            await send(message)

        try:
            await self.app(scope, counted, headed)
        except TooLarge:
            if started:
                raise
            await _too_large(send)


async def _too_large(send: Send) -> None:
    body = b"The request is larger than this address accepts.\n"
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
               *HEADERS, NO_STORE]  # fmt: skip
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
