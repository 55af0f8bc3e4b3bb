"""Webhook deliveries over HTTP (aiohttp): a signed POST of the CloudEvent, with the event id as
idempotency key, bounded by a timeout so a slow endpoint holds up nothing but itself. Only to
public addresses (domain/targets.py): the URL's host is resolved and checked before each POST,
and the connection itself resolves through a resolver that refuses the same addresses, so a
name cannot be pointed elsewhere between the check and the call. What a target answers is never
passed on: a failure is the status code or the kind of error, nothing of the body."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.resolver import ThreadedResolver

from ..domain.rules import signature, standard_signature
from ..domain.targets import TargetRefused, check_address, check_url


class _PublicOnly(ThreadedResolver):
    def __init__(self, allowed_hosts: Collection[str]) -> None:
        super().__init__()
        self.allowed = allowed_hosts

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> Any:
        found = await super().resolve(host, port, family)
        for entry in found:
            check_address(entry["host"], host.lower(), self.allowed)
        return found


class WebhookFailed(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class WebhookPoster:
    def __init__(self, timeout_s: float, allowed_hosts: Collection[str] = ()) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.allowed = {h.lower() for h in allowed_hosts}
        self._session: aiohttp.ClientSession | None = None

    async def check(self, url: str) -> None:
        """TargetRefused unless the URL's host is, and resolves only to, public addresses."""
        host = check_url(url, self.allowed)
        port = urlsplit(url).port or 443
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError:
            raise TargetRefused("the host does not resolve") from None
        for *_, sockaddr in found:
            check_address(str(sockaddr[0]), host, self.allowed)

    async def post(self, url: str, body: bytes, secret: str, event_id: str) -> None:
        try:
            await self.check(url)
        except TargetRefused as refused:
            raise WebhookFailed(f"target refused: {refused}", permanent=True) from None
        if self._session is None:
            connector = aiohttp.TCPConnector(resolver=_PublicOnly(self.allowed))
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/cloudevents+json",
            "Mapnet-Timestamp": str(timestamp),
            "Mapnet-Signature": signature(secret, timestamp, body),
            "Idempotency-Key": event_id,
            # Standard Webhooks, which partners' libraries verify; the Mapnet-* pair above is
            # kept for partners integrated before it.
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(secret, event_id, timestamp, body),
        }
        try:
            # A redirect is an answer, not a new target: followed, it could lead to an address
            # the check of public hosts never saw (an IP literal is not resolved).
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                if response.status >= 300:
                    # 4xx other than 408/429 means the request itself is refused; a redirect
                    # is never followed, so asking again would meet it again.
                    permanent = response.status < 400 or (
                        response.status < 500 and response.status not in (408, 429)
                    )
                    raise WebhookFailed(f"HTTP {response.status}", permanent=permanent)
        except (aiohttp.ClientError, TimeoutError, TargetRefused) as exc:
            # The kind of failure only: its text may quote what the target answered.
            raise WebhookFailed(type(exc).__name__) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
