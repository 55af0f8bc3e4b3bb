"""Password hashes: argon2id through pwdlib, computed beside the event loop (each takes tens of
milliseconds of CPU on purpose)."""

from __future__ import annotations

import asyncio
import functools

from pwdlib import PasswordHash

_HASHER = PasswordHash.recommended()


@functools.cache
def _unknown() -> str:
    """Verified against when no such account exists, so both answers take as long. Made once
    per process, when the portal starts (ready()), not at import: a hash is 0.3 s of CPU, which
    every process importing this module (each `mapnet` command) paid."""
    return _HASHER.hash("an account that does not exist")


async def ready() -> None:
    """Make the unknown account's hash before the first sign-in, whose answer would otherwise
    take a hash longer for an unknown account, and tell it apart."""
    await asyncio.to_thread(_unknown)


async def hashed(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verified(password: str, password_hash: str | None) -> bool:
    return await asyncio.to_thread(_HASHER.verify, password, password_hash or _unknown()) and (
        password_hash is not None
    )
