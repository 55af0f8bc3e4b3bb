"""Commands and queries on the bus: who may send them (mapnet/runtime/access.py), idempotent
commands (a repeat is answered from the reply cache), typed errors for every refusal and fault,
and the audit trail of what was accepted and refused."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Envelope, ErrorBody, utcnow
from contracts.errors import Refused
from contracts.operations import Operation

from . import logs
from .access import (
    PARTNER_ACCOUNTS,
    REGION_ACCOUNT_PREFIX,
    acting,
    command_key,
    id_reused,
    payload_digest,
    stamped_partner,
    stamped_partner_kind,
    stamped_region,
)
from .codec import error_envelope, reply_envelope
from .compat import message_context
from .routing import Routes, address, described
from .unit_of_work import Replied

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
RequestHandler = Callable[[Envelope[In]], Awaitable[Out | Replied]]
# A service's rules beyond the schema (check digits, code lists, time zones), run on a request's
# raw ``data`` when the schema refuses it as well, so that one answer names every bad field.
# They get whatever the client sent: a value of the wrong type is the schema's to name.
FieldProblem = dict[str, str]
Rules = Callable[[Any], list[FieldProblem]]

REPLY_CACHE = "command_replies"
# How long a repeat waits for the answer of the same command still running: well inside a
# client's time-out (BusClient's is 5 s), so that the caller hears "still running" instead of
# timing out while the server goes on waiting for it. bench/failover.py found the wait equal
# to the time-out, and the registry under load serving repeats whose callers had given up.
REPEAT_WAIT_S = 2.0
# A claim is held by a lease its process renews while the command runs; a claim unrenewed this
# long was left by a process that died, and a repeat takes it over. Short, so that a command
# caught in a crash can be carried out again within seconds (with 600 s, bench/failover.py saw
# repeats refused for ten minutes after a kill); renewed thrice per lease, so that a slow
# command (a schedule, a large import) keeps its claim as long as it runs.
CLAIM_LEASE_S = 30.0
# How the request being answered ended (ok, or the typed error's code), for the metrics: each
# request is answered in a task of its own, so the value is that request's.
OUTCOME: contextvars.ContextVar[str] = contextvars.ContextVar("outcome", default="ok")


@contextlib.asynccontextmanager
async def _lease_renewed(cache: Any, key: str, holder: str) -> AsyncIterator[None]:
    """While the body runs, its claim on ``key`` is renewed every third of CLAIM_LEASE_S, as
    long as ``holder`` still holds it: a claim taken over meanwhile (this process stalled past
    a lease) is left to the one that took it."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(CLAIM_LEASE_S / 3)
            renewed = await cache.update_one(
                {"_id": key, "holder": holder}, {"$set": {"claimed": time.time()}}
            )
            if renewed.matched_count == 0:
                return  # answered, taken over, or gone with a fault

    renewing = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing


class RequestRoutes(Routes):
    def handles(
        self,
        op: Operation[In, Out],
        *,
        remember_replies: bool = True,
        rules: Rules | None = None,
    ) -> Callable[[RequestHandler[In, Out]], RequestHandler[In, Out]]:
        """Register a command or query handler: it gets the validated envelope and returns the
        result, or raises Refused. Commands are answered from the reply cache when repeated,
        unless the handler gives the same answer to a repeated command by itself
        (``remember_replies=False``), which saves two database round trips. ``rules``: the
        checks beyond the schema the handler also makes, to name with the schema's problems."""
        cached = op.kind == "cmd" and remember_replies
        if rules is not None:
            self.rules[address(op, self.region)] = rules

        def register(handler: RequestHandler[In, Out]) -> RequestHandler[In, Out]:
            async def subscriber(msg: Any, message: Any = message_context()) -> bytes:
                started = time.perf_counter()
                OUTCOME.set("ok")
                with logs.bound(
                    region=self.region,
                    service=self.service,
                    correlation_id=msg.correlationid,
                    operation=op.name,
                    message_id=msg.id,
                ):
                    reply = await self._answer(op, handler, msg, cached, message.headers)
                if self.metrics is not None:
                    elapsed = time.perf_counter() - started
                    self.metrics.request(self.region, self.service, op.name, OUTCOME.get(),
                                         elapsed)  # fmt: skip
                return reply

            subscriber.__name__ = op.name
            subscriber.__annotations__ = {"msg": op.envelope, "message": Any, "return": bytes}
            self.router.subscriber(
                address(op, self.region),
                queue=self.queue,
                # Requests are handled side by side: each waits mostly on the database.
                max_workers=self.settings.request_concurrency,
                title=f"{op.service}.{op.kind}.{op.name}",
                description=described(op),
            )(subscriber)
            return handler

        return register

    async def _answer(
        self,
        op: Operation[In, Out],
        handler: RequestHandler[In, Out],
        msg: Envelope[In],
        cached: bool,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        connection = vouched_connection(headers)
        try:
            msg = acting(op, msg, headers, self.region)
        except Refused as refusal:
            return await self._refused(op, msg, self._record_id(msg.data), refusal, connection)
        cache = self.db[REPLY_CACHE] if cached else None
        if cache is not None:
            # A repeat is the same operation from the same caller with the same id and content;
            # the same id with other content gets id_reused, never the first command's answer.
            # Kept by digest: the caller's id is a person's address, which an erasure must not
            # leave behind in the keys of answers kept for repeats.
            caller = hashlib.sha256(command_key(msg).encode()).hexdigest()
            key, digest = f"{op.name}|{caller}", payload_digest(msg)
            try:
                claimed = await self._claimed(cache, key, digest, msg)
            except Refused as refusal:
                return await self._refused(op, msg, self._record_id(msg.data), refusal, connection)
            if isinstance(claimed, bytes):
                self.log.info("command_repeated", answered_from_cache=True)
                return claimed
            async with _lease_renewed(cache, key, claimed):
                return await self._run(op, handler, msg, connection, cache, key, digest, claimed)
        return await self._run(op, handler, msg, connection, None, "", "", "")

    async def _run(
        self, op: Operation[In, Out], handler: RequestHandler[In, Out], msg: Envelope[In],
        connection: str | None, cache: Any, key: str, digest: str, holder: str,
    ) -> bytes:  # fmt: skip
        """Carries out a request this process is to answer (a command's claim held by
        ``holder``), audits it and, for a command whose answers are kept, keeps the answer for
        repeats."""
        refers_to = self._record_id(msg.data)
        entry: str | None = None
        try:
            if op.kind == "cmd":
                # No change without a trace: the command's entry is stored before its handler
                # may change anything; if it cannot be, the command is not carried out.
                entry = await self.audit.intend(op.name, msg, refers_to, connection)
            result = await handler(msg)
        except Refused as refusal:
            reply = await self._refused(op, msg, refers_to, refusal, connection, entry)
        except Exception as exc:
            # An internal fault is answered, never left to time out, and not cached: a retry
            # may succeed (so the claim goes).
            self.log.exception("request_failed", error=str(exc))
            OUTCOME.set("internal")
            if entry is not None:
                await self.audit.settle(entry, "internal", type(exc).__name__, refers_to)
            if cache is not None:
                # Only this run's claim: one taken over meanwhile is another process's.
                await cache.delete_one({"_id": key, "holder": holder})
            return error_envelope(
                ErrorBody(
                    code="internal", message=f"{type(exc).__name__} while handling {op.name}"
                ),
                region=self.region,
                source=self.source,
                correlationid=msg.correlationid,
            )
        else:
            if isinstance(result, Replied):
                refers_to = result.refers_to or refers_to
                reply = result.envelope
                if result.records:
                    # A batch's items, each in the trail as its own command would be (written
                    # before the answer goes: an answered batch has its items' entries).
                    await self.audit.record_each(op.name, msg, result.records, connection)
            else:
                # What the answer is about (a registration, rather than its event) comes first.
                refers_to = self._record_id(result) or refers_to
                reply = reply_envelope(
                    op, result, region=self.region, source=self.source,
                    correlationid=msg.correlationid,
                )  # fmt: skip
            if entry is not None:
                self.audit.settle_soon(entry, "accepted", "", refers_to)
        if cache is not None:
            record = {"reply": reply.decode(), "at": utcnow(), "op": op.name, "ref": refers_to,
                      "digest": digest}  # fmt: skip
            await self._keep_answer(cache, key, holder, record)
        return reply

    async def _keep_answer(self, cache: Any, key: str, holder: str, record: dict[str, Any]) -> None:
        """The answer in place of this run's claim. A claim taken over meanwhile (this process
        stalled past its lease) keeps the other run's answer, so that every repeat gets one and
        the same; a claim gone altogether gets this one."""
        kept = await cache.replace_one({"_id": key, "holder": holder}, {**record, "_id": key})
        if kept.matched_count == 1:
            return
        try:
            await cache.insert_one({**record, "_id": key})
        except DuplicateKeyError:
            self.log.warning("claim_taken_over", key=key)

    async def _claimed(self, cache: Any, key: str, digest: str, msg: Envelope[Any]) -> bytes | str:
        """Claims a command's key before it runs: the claim's holder token when this request is
        to run it, else the first answer. A repeat that arrives while the first still runs (a client
        that timed out and sent it again) waits a little for its answer and is otherwise refused
        with ``conflict``, to ask again later: the command never runs twice while its claim is
        renewed (_lease_renewed). A claim unrenewed for CLAIM_LEASE_S, whose process died with
        it, is taken over."""
        waited_until, pause = time.monotonic() + REPEAT_WAIT_S, 0.05
        while True:
            try:
                holder = uuid.uuid4().hex
                await cache.insert_one(
                    {"_id": key, "digest": digest, "claimed": time.time(), "holder": holder}
                )
                return holder
            except DuplicateKeyError:
                hit = await cache.find_one({"_id": key})
            if hit is None:  # the claim went with a fault meanwhile: claim it again
                continue
            if hit.get("digest") != digest:
                raise id_reused(msg)
            if "reply" in hit:
                return str(hit["reply"]).encode()
            if time.time() - float(hit["claimed"]) > CLAIM_LEASE_S:
                # Compare-and-set on the holder token, not on the float time stamp: nx-27017
                # keeps a float written by $set to 15 digits, and the equality would miss.
                holder = uuid.uuid4().hex
                taken = await cache.update_one(
                    {"_id": key, "holder": hit.get("holder")},
                    {"$set": {"claimed": time.time(), "holder": holder}},
                )
                if taken.modified_count == 1:
                    return holder
            if time.monotonic() > waited_until:
                raise Refused(
                    "conflict", "a command with this id is still running: send it again later"
                )
            # Backing off: many repeats at once (a failover) should not add a read each 50 ms.
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.4)

    async def _refused(
        self, op: Operation[Any, Any], msg: Envelope[Any], record: str | None, refusal: Refused,
        connection: str | None = None, entry: str | None = None,
    ) -> bytes:  # fmt: skip
        """A refusal, logged, audited and answered as a typed error. ``entry``: the command's
        audit entry written before its handler ran, to complete."""
        self.log.info("request_refused", code=refusal.code, reason=refusal.message)
        OUTCOME.set(refusal.code)
        await self._audited(op, msg, record, refusal, connection, entry)
        return error_envelope(
            refusal.body(), region=self.region, source=self.source, correlationid=msg.correlationid
        )

    async def _audited(
        self, op: Operation[Any, Any], msg: Envelope[Any], record: str | None, refusal: Refused,
        connection: str | None, entry: str | None,
    ) -> None:  # fmt: skip
        """Commands accepted (see _answer) and requests refused go in the audit trail; bad
        input does not (it changed nothing and says nothing of who may do what), nor a query
        refused for a reason other than its caller's role or records."""
        kept = refusal.code != "validation_failed" and (
            op.kind == "cmd" or refusal.code == "forbidden"
        )
        if entry is not None:
            if kept:
                await self.audit.settle(entry, refusal.code, refusal.message, record)
            else:
                await self.audit.withdraw(entry)
        elif kept:
            await self.audit.record(op.name, msg, record, refusal.code, refusal.message, connection)

    async def forget_replies(self, ref: str) -> None:
        """Drop the answers cached about one record: they may quote people who were erased."""
        await self.db[REPLY_CACHE].delete_many({"ref": ref})

    async def forget_sme(self, sme_id: str) -> None:
        """Drop what this service keeps of an erased SME's people: the answers cached about it,
        and who acted for it in the audit trail (the erasure itself stays there)."""
        await self.forget_replies(sme_id)
        await self.audit.forget_contacts_of(sme_id)

    async def forget_contact(self, sme_id: str, email_sha256: str) -> None:
        """Drop what this service keeps of one erased contact of an SME: the answers cached
        about the SME (they may quote them), and who they were in the audit trail; the SME's
        other people stay named."""
        await self.forget_replies(sme_id)
        await self.audit.forget_contacts_of(sme_id, email_sha256)

    def not_yet(self, *ops: Operation[Any, Any]) -> None:
        """Routes that exist and are documented but whose behaviour is still to be built: they
        answer with a typed ``not_implemented`` error instead of leaving the caller to time out."""
        for op in ops:

            async def refuse(msg: Envelope[Any], name: str = op.name) -> BaseModel:
                raise Refused("not_implemented", f"{name} is not available yet in this version")

            self.handles(op)(refuse)

    def _record_id(self, model: Any) -> str | None:
        """The record a command or its answer is about, so that cached answers can be forgotten."""
        for name in self.record_fields:
            if isinstance(value := getattr(model, name, None), str):
                return value
        return None


def vouched_connection(headers: dict[str, str] | None) -> str | None:
    """What the NATS servers themselves say about the connection a request came on (the partner
    user this region's server stamped, or the region the hub stamped), for the audit trail;
    None for the region's own account, which no server stamps."""
    partner = stamped_partner(headers)
    if partner is not None:
        return f"{PARTNER_ACCOUNTS[stamped_partner_kind(headers) or 'general']}/{partner}"
    origin = stamped_region(headers)
    return f"{REGION_ACCOUNT_PREFIX}{origin.upper()}" if origin is not None else None
