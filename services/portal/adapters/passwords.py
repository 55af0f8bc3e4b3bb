"""Password hashes: argon2id through pwdlib, computed beside the event loop (each takes tens of
milliseconds of CPU on purpose)."""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash

_HASHER = PasswordHash.recommended()
# Verified against when no such account exists, so both answers take as long.
_UNKNOWN = _HASHER.hash("an account that does not exist")


async def hashed(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verified(password: str, password_hash: str | None) -> bool:
    return await asyncio.to_thread(_HASHER.verify, password, password_hash or _UNKNOWN) and (
        password_hash is not None
    )
