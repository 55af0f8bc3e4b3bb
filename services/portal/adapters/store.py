"""The portal's own data in its own database: people, sessions, failed sign-ins."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from contracts.registry import email_digest
from mapnet.runtime.mongo import Database, best_effort

from ..domain.users import Link, NewSession, User, Wait

USERS, SESSIONS, ATTEMPTS, LINKS = "users", "sessions", "sign_in_attempts", "links"


def _user(doc: dict[str, Any]) -> User:
    return User(doc["_id"], doc["role"], doc["region"], doc["password_hash"],
                doc.get("sme_id"), list(doc.get("event_ids") or []),
                bool(doc.get("disabled")), doc.get("language"))  # fmt: skip


def _link(doc: dict[str, Any]) -> Link:
    return Link(doc["purpose"], doc["email"], doc["role"], doc["region"],
                datetime.fromisoformat(doc["expires_at"]), doc.get("sme_id"),
                tuple(doc.get("event_ids") or ()), doc.get("name") or "")  # fmt: skip


class PortalStore:
    def __init__(self, db: Database) -> None:
        self.users = db[USERS]
        self.sessions = db[SESSIONS]
        self.attempts = db[ATTEMPTS]
        # The counting itself, on every sign-in, needs no majority (mapnet.runtime.mongo's
        # best_effort); removing an erased person's counters does (self.attempts).
        self.counts = best_effort(db[ATTEMPTS])
        self.links = db[LINKS]

    async def people(self, region: str) -> list[User]:
        """Every person of the region (no page cut short: the list is the portal's own)."""
        found = self.users.find({"region": region}).sort("_id", 1)
        return [_user(doc) async for doc in found]

    async def add_link(self, digest: str, link: Link) -> None:
        await self.links.insert_one({"_id": digest, "purpose": link.purpose, "email": link.email,
                                     "role": link.role, "region": link.region,
                                     "sme_id": link.sme_id, "event_ids": list(link.event_ids),
                                     "expires_at": link.expires_at.isoformat(),
                                     "name": link.name})  # fmt: skip

    async def link(self, digest: str) -> Link | None:
        doc = await self.links.find_one({"_id": digest})
        return None if doc is None else _link(doc)

    async def invitations(self, region: str) -> list[Link]:
        """Every invitation of the region not taken up (the list is the portal's own, whole)."""
        found = self.links.find({"purpose": "invitation", "region": region})
        return [_link(doc) async for doc in found]

    async def drop_invitations_of(self, email: str) -> int:
        gone = await self.links.delete_many({"purpose": "invitation", "email": email})
        return gone.deleted_count

    async def use_link(self, digest: str) -> bool:
        """True for the one caller that takes the link out: a link works once."""
        return (await self.links.delete_one({"_id": digest})).deleted_count == 1

    async def drop_links_of(self, email: str) -> None:
        await self.links.delete_many({"email": email})

    async def end_sessions_of(self, email: str) -> None:
        await self.sessions.delete_many({"email": email})

    async def user(self, email: str) -> User | None:
        doc = await self.users.find_one({"_id": email.strip().lower()})
        return _user(doc) if doc else None

    async def put_user(self, user: User) -> None:
        doc = {"_id": user.email, "role": user.role, "region": user.region,
               "password_hash": user.password_hash, "sme_id": user.sme_id,
               "event_ids": user.event_ids, "disabled": user.disabled,
               "language": user.language}  # fmt: skip
        await self.users.replace_one({"_id": user.email}, doc, upsert=True)

    async def set_language(self, email: str, language: str | None) -> bool:
        """The person's language of the pages, alone (a role changed at the same moment
        stays): False when there is no such person."""
        done = await self.users.update_one({"_id": email}, {"$set": {"language": language}})
        return done.matched_count == 1

    async def remove_people_of(self, sme_id: str, email_sha256: str | None = None) -> int:
        """The accounts of an erased SME's contacts (or of the one whose address has this
        digest) go, with their sessions."""
        found = [doc["_id"] async for doc in self.users.find({"sme_id": sme_id}, {"_id": 1})]
        gone = [e for e in found if email_sha256 is None or email_digest(e) == email_sha256]
        for email in gone:
            await self.sessions.delete_many({"email": email})
            await self.users.delete_one({"_id": email})
            await self.attempts.delete_many({"account": email})
            await self.links.delete_many({"email": email})
        return len(gone)

    async def add_session(self, session: NewSession, email: str) -> None:
        await self.sessions.insert_one({"_id": session.digest, "email": email,
                                        "csrf": session.csrf,
                                        "expires_at": session.expires_at.isoformat()})  # fmt: skip

    async def session(self, digest: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.sessions.find_one({"_id": digest})
        return found

    async def end_session(self, digest: str) -> None:
        await self.sessions.delete_one({"_id": digest})

    async def reserve_attempt(
        self,
        key: str,
        account: str,
        now: datetime,
        since: datetime,
        wait: Wait,
    ) -> datetime | None:
        """Counts an attempt on a counter, unless the counter says to wait: None when counted,
        else until when to wait. A compare-and-set on the counter's document: of attempts made
        at once, one is counted per read of it, the others are told to wait a moment."""
        doc = await self.counts.find_one({"_id": key})
        fresh = doc is None or doc["last_at"] < since.isoformat()
        if doc is not None and not fresh and doc["next_at"] > now.isoformat():
            return datetime.fromisoformat(doc["next_at"])
        count = 1 if fresh else int(doc["count"]) + 1  # type: ignore[index]
        counted = {"_id": key, "account": account, "count": count, "last_at": now.isoformat(),
                   "next_at": (now + wait(count)).isoformat()}  # fmt: skip
        if doc is None:
            try:
                await self.counts.insert_one(counted)
                return None
            except DuplicateKeyError:
                return now + timedelta(seconds=1)
        seen = {"_id": key, "count": doc["count"], "last_at": doc["last_at"]}
        if (await self.counts.replace_one(seen, counted)).matched_count == 1:
            return None
        return now + timedelta(seconds=1)

    async def clear_attempts(self, key: str) -> None:
        await self.counts.delete_one({"_id": key})

    async def release_attempt(self, key: str) -> None:
        """One counted attempt given back (it succeeded)."""
        await self.counts.update_one({"_id": key, "count": {"$gt": 0}}, {"$inc": {"count": -1}})

    async def clear_attempts_of(self, account: str) -> None:
        """Every counter of this account (from any address); an address's own stays."""
        await self.attempts.delete_many({"account": account})
