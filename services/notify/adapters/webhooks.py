"""Webhook deliveries over HTTP (aiohttp): a signed POST of the CloudEvent, with the event id as
idempotency key, bounded by a timeout so a slow endpoint holds up nothing but itself."""

from __future__ import annotations

import time

import aiohttp

from ..domain.rules import signature


class WebhookFailed(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class WebhookPoster:
    def __init__(self, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, secret: str, event_id: str) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/cloudevents+json",
            "Mapnet-Timestamp": str(timestamp),
            "Mapnet-Signature": signature(secret, timestamp, body),
            "Idempotency-Key": event_id,
        }
        try:
            async with self._session.post(url, data=body, headers=headers) as response:
                if response.status >= 300:
                    # 4xx other than 408/429 means the request itself is refused.
                    permanent = 400 <= response.status < 500 and response.status not in (408, 429)
                    raise WebhookFailed(f"HTTP {response.status}", permanent=permanent)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WebhookFailed(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
