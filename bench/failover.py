"""A region on a NATS JetStream cluster of three servers losing a server and a service process
while commands and events flow (issue 32).

The region: three nats-server processes routed on loopback, every stream on all three
(MAPNET_STREAM_REPLICAS=3), nx-27017, and two services in processes of their own given every
server's URL: the registry (it answers the commands and relays their events through its outbox)
and matching (it consumes the registry's ``sme_registered`` into its read model). Commands
(``register_sme``, a new SME each) are sent at a steady --rate for --seconds, each on a timer of
its own, whatever became of the ones before. A command not answered in 3 s (longer than the
registry lets a repeat wait for the same command still running), or refused because nobody
answers or because it is still running (``conflict``), is sent again with the same envelope id,
backing off up to 1 s, as a client should (a repeat is answered from the registry's reply cache,
not carried out twice), until it is answered. Meanwhile:

- at 20 % of the run the server leading the registry's stream is killed (SIGKILL); at 45 % it is
  started again on its old store (and must be a current replica again by the end);
- at 65 % the registry's process is killed (SIGKILL) and started again at once, as a supervisor
  would.

Counted by the benchmark itself, after the sending stops and every consumer had up to 120 s to
catch up:

- ``commands``: commands answered (acknowledged), with the SME id the registry gave;
- ``events``: distinct ``sme_registered`` events seen by a durable consumer of the benchmark's
  own on the registry's stream (each acknowledged after it is counted);
- ``lost``: acknowledged commands whose event the benchmark's consumer never saw, or whose SME
  never reached matching's read model (an SME missing from both counts once);
- ``duplicated``: copies of an event the stream held twice (the consumer met the same event id
  at two stream positions), and commands that made two SMEs (two events with different SME ids
  for one command's company: a repeat carried out again);
- ``failover_s``: the longest time in which no command was answered, from the first command
  sent to the last answered;
- ``p99_ms``: the 99th percentile of a command's time from its first sending to its answer, the
  repeats included: what a user of the region waits.

Then: ``nats_kill_gap_s``, ``nats_restart_gap_s`` and ``service_kill_gap_s``, the longest time
without an answer that ended after each fault and before the next; ``event_lag_max_s``, the
longest an acknowledged command's event took to reach the benchmark's consumer after the answer
(the commands are answered once the database holds them and their events: a server's loss shows
here); ``redelivered``, events handed again to a consumer that had taken them (the benchmark's,
and matching's log of what it passed over as already handled), not applied twice, so not
duplicates; ``stuck``, commands still refused with ``conflict`` 30 s after the sending stopped
(the killed process's claim on them holds for the registry's claim lease). A command never
answered otherwise, or anything lost or duplicated, fails the run.

    python -m bench.failover [--seconds 60] [--rate 20] [--repeat-after-s 3]

Last line: commands=… events=… lost=… duplicated=… failover_s=… p99_ms=… nats_kill_gap_s=…
nats_restart_gap_s=… service_kill_gap_s=… event_lag_max_s=… redelivered=… stuck=…"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import signal
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.common import REGION, figures, service_process
from bench.registry import sme
from contracts import registry as rg
from contracts.errors import Refused
from contracts.subjects import inbox_prefix, stream_name
from mapnet.ops.servers import (
    Managed,
    cluster_url,
    free_port,
    mongo_server,
    nats_cluster,
    wait_for_jetstream,
    wait_for_port,
)
from mapnet.ops.status import wait_until_up
from mapnet.runtime import logs, mongo
from mapnet.runtime.bus import STREAM_REPLICAS_VAR, BusClient
from mapnet.runtime.credentials import servers
from mapnet.runtime.requests import REPEAT_WAIT_S, REPLY_CACHE
from mapnet.runtime.subscriptions import PROCESSED
from services.matching.adapters.read_model import SMES

NODES = 3
# A command unanswered this long is sent again, same id: longer than the registry waits for
# the answer of the same command still running, so that its answer (``conflict``) comes back
# rather than a time-out, and a waiting repeat is not sent again on top of it.
REPEAT_AFTER_S = REPEAT_WAIT_S + 1.0
# A command still refused with ``conflict`` this long after the sending stopped is counted as
# stuck: its claim was left by the killed process, and holds until CLAIM_LEASE_S has passed.
STUCK_AFTER_S = 30.0
GIVE_UP_S = 120.0  # an answer still missing this long after the sending stopped fails the run
DRAIN_S = 120.0
DURABLE = "bench_failover"


@dataclass
class Seen:
    """What the benchmark's own consumer met: per event id, the stream positions it was at and
    how many deliveries of them came after the first; per company, the SME ids its events named."""

    positions: dict[str, set[int]] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)  # SME id → when
    sme_ids: dict[str, set[str]] = field(default_factory=dict)
    delivered_again: int = 0

    def take(self, event_id: str, legal_name: str, sme_id: str, position: int) -> None:
        at = self.positions.setdefault(event_id, set())
        if position in at:
            self.delivered_again += 1
        at.add(position)
        self.sme_ids.setdefault(legal_name, set()).add(sme_id)
        self.first_seen.setdefault(sme_id, time.perf_counter())


def count_lost(acknowledged: dict[str, str], seen: Seen, in_read_model: Iterable[str]) -> int:
    """Acknowledged commands (company → SME id) whose event the benchmark's consumer never met,
    or whose SME is missing from the consuming service's read model: each counted once."""
    events_of = {sme_id for ids in seen.sme_ids.values() for sme_id in ids}
    copied = set(in_read_model)
    return sum(1 for sme_id in acknowledged.values() if sme_id not in (events_of & copied))


def count_duplicated(seen: Seen) -> int:
    """Events the stream held more than once (one event id at several positions), and commands
    carried out more than once (one company, several SME ids)."""
    stored_again = sum(len(at) - 1 for at in seen.positions.values())
    made_again = sum(len(ids) - 1 for ids in seen.sme_ids.values())
    return stored_again + made_again


def gap_after(answers: list[float], moment: float, until: float) -> float:
    """The longest time without an answer that a fault at ``moment`` may have caused: among
    the gaps between answers that end after it and no later than ``until`` (the next fault).
    Not just the gap spanning the moment itself: answers already on their way still arrive
    just after a process is killed."""
    times = sorted(answers)
    return max((b - a for a, b in itertools.pairwise(times) if moment < b <= until),
               default=0.0)  # fmt: skip


def longest_gap(answers: list[float], started: float) -> float:
    times = [started, *sorted(answers)]
    return max(b - a for a, b in itertools.pairwise(times)) if answers else 0.0


def event_lag_max(answered: dict[str, float], seen: dict[str, float]) -> float:
    """The longest an acknowledged command's event took to reach the benchmark's consumer after
    the answer (its SME id → when answered; → when seen): where a server's loss shows when the
    commands are answered from the database and the outbox relays later."""
    return max((max(0.0, seen[i] - at) for i, at in answered.items() if i in seen), default=0.0)


def widest_gaps(answers: list[float], started: float, n: int = 3) -> list[tuple[float, float]]:
    times = [started, *sorted(answers)]
    return sorted(itertools.pairwise(times), key=lambda g: g[0] - g[1])[:n]


async def connection(url: str) -> NATS:
    """A connection that never gives up reconnecting to the cluster's servers (a client of
    BusClient.connect stops after three attempts at each)."""

    async def quietly(error: Exception) -> None:
        """A killed server refuses connections until it is back: expected here."""

    return await nats.connect(
        servers(url), name="mapnet-bench-failover", connect_timeout=2,
        max_reconnect_attempts=-1, reconnect_time_wait=0.25, inbox_prefix=inbox_prefix(REGION),
        error_cb=quietly,
    )  # fmt: skip


@dataclass
class Commands:
    """The commands sent and their answers."""

    client: BusClient
    repeat_after_s: float = REPEAT_AFTER_S
    acknowledged: dict[str, str] = field(default_factory=dict)  # company → SME id
    answered_at: list[float] = field(default_factory=list)
    answer_of: dict[str, float] = field(default_factory=dict)  # SME id → when answered
    waited_ms: list[float] = field(default_factory=list)
    repeats: int = 0
    unanswered: int = 0
    stuck: int = 0

    async def one(self, i: int, give_up_at: float, stuck_at: float) -> None:
        command = sme(i)
        command_id = f"failover-{i}"
        sent = time.perf_counter()
        tries, last = 0, ""
        while True:
            try:
                view = await self.client.call(
                    rg.REGISTER_SME, command, REGION, id=command_id, timeout_s=self.repeat_after_s
                )
                break
            except Refused as refused:
                # Unavailable: nobody answered (in time). Conflict: the registry holds a claim
                # on this command id, still running or left by a process that died running it.
                if refused.code not in ("region_unavailable", "conflict"):
                    raise  # a refusal of the command itself: the benchmark is wrong
                last = refused.code
            except (nats.errors.Error, OSError):
                last = "disconnected"  # between servers: the connection comes back by itself
            now = time.perf_counter()
            if now > give_up_at or (last == "conflict" and now > stuck_at):
                if last == "conflict":
                    self.stuck += 1
                else:
                    self.unanswered += 1
                return
            self.repeats += 1
            # Backing off as a client should: the repeats of a region's waiting commands
            # would otherwise take the cores the restarting service needs.
            await asyncio.sleep(min(1.0, 0.1 * 2**tries))
            tries += 1
        answered = time.perf_counter()
        self.acknowledged[command.legal_name] = view.sme_id
        self.answered_at.append(answered)
        self.answer_of[view.sme_id] = answered
        self.waited_ms.append((answered - sent) * 1000)

    async def send(self, count: int, rate: float, started: float, seconds: float) -> None:
        give_up_at = started + seconds + GIVE_UP_S
        stuck_at = started + seconds + STUCK_AFTER_S
        tasks = []
        for i in range(count):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(i, give_up_at, stuck_at)))
        await asyncio.gather(*tasks)


async def consume(nc: NATS, seen: Seen, stop: asyncio.Event) -> None:
    """The benchmark's own durable consumer of ``sme_registered``: every event it is handed,
    counted, then acknowledged; through the faults it fetches again until it is answered."""
    js = nc.jetstream()
    subject = rg.SME_REGISTERED.subject(REGION)
    config = ConsumerConfig(durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT,
                            deliver_policy=DeliverPolicy.ALL, ack_wait=5,
                            filter_subject=subject)  # fmt: skip
    sub = await js.pull_subscribe(
        subject, durable=DURABLE, stream=stream_name(REGION, "registry"), config=config
    )
    while not stop.is_set():
        try:
            batch = await sub.fetch(100, timeout=1)
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error):
            continue
        for msg in batch:
            envelope = json.loads(msg.data)
            data = envelope["data"]
            seen.take(envelope["id"], data["legal_name"], data["sme_id"],
                      msg.metadata.sequence.stream)  # fmt: skip
            with contextlib.suppress(nats.errors.Error):
                await msg.ack()  # not acknowledged: handed again, and counted as such


@functools.cache
def database(mongo_url: str, service: str) -> mongo.Database:
    """A service's database, on one client for the run (it is read every half second)."""
    return mongo.database(mongo.client(mongo_url), REGION, service)


async def read_model_smes(mongo_url: str) -> set[str]:
    found = database(mongo_url, "matching")[SMES].find({}, {"sme_id": 1})
    return {doc["sme_id"] async for doc in found}


async def passed_over(mongo_url: str) -> int:
    """Events matching was handed again after it had handled them (its log counts them)."""
    log = database(mongo_url, "matching")[PROCESSED].find({}, {"seen_again": 1})
    return sum([doc.get("seen_again", 0) async for doc in log])


async def claims_left(mongo_url: str) -> int:
    """Commands the registry claimed and never answered: cut short by its killed process."""
    replies = database(mongo_url, "registry")[REPLY_CACHE]
    return int(await replies.count_documents({"reply": {"$exists": False}}))


async def stream_leader(nc: NATS) -> str:
    info = await nc.jetstream().stream_info(stream_name(REGION, "registry"))
    assert info.cluster is not None and info.cluster.leader, "the stream has no leader"
    return info.cluster.leader


async def faults(
    nc: NATS, url: str, nodes: list[Managed], ports: list[int], registry: Managed,
    started: float, seconds: float, moments: dict[str, float],
) -> None:  # fmt: skip
    """The faults, at their times in the run: the registry stream's leading server killed and
    restarted; the registry's process killed and restarted."""

    async def at(fraction: float) -> float:
        await asyncio.sleep(max(0.0, started + fraction * seconds - time.perf_counter()))
        return time.perf_counter()

    await at(0.2)
    leader = await stream_leader(nc)
    n = int(leader.rsplit("_", 1)[1]) - 1  # mapnet_<region>_<node number>
    node = nodes[n]
    assert node.proc is not None
    node.proc.send_signal(signal.SIGKILL)
    moments["nats_kill"] = time.perf_counter()
    node.proc.wait(10)
    print(f"{moments['nats_kill'] - started:5.1f} s: killed {leader}, the stream's leader",
          flush=True)  # fmt: skip
    await at(0.45)
    node.start()
    moments["nats_restart"] = time.perf_counter()
    await asyncio.to_thread(wait_for_port, node, ports[n])
    print(f"{moments['nats_restart'] - started:5.1f} s: started {leader} again", flush=True)
    await at(0.65)
    assert registry.proc is not None
    registry.proc.send_signal(signal.SIGKILL)
    moments["service_kill"] = time.perf_counter()
    registry.proc.wait(10)
    print(f"{moments['service_kill'] - started:5.1f} s: killed the registry's process, "
          "starting it again", flush=True)  # fmt: skip
    await start_service(registry, url)


async def start_service(process: Managed, url: str, tries: int = 3) -> None:
    """Starts a service's process and waits until it answers. One that exits while starting is
    started again, as a supervisor would, after its log's end is shown: on a cluster just
    formed, under load, a JetStream request of the services' start-up was seen to time out."""
    for _ in range(tries):
        process.start()
        deadline = time.monotonic() + 120
        while process.alive() and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await wait_until_up(REGION, url, [process.name], timeout_s=2)
                return
        if process.alive():
            raise TimeoutError(f"{process.name} did not answer in 120 s:\n{process.tail(60)}")
        print(f"{process.name} exited while starting; again. Its log ends:\n{process.tail(60)}",
              file=sys.stderr)  # fmt: skip
    raise RuntimeError(f"{process.name} did not start in {tries} tries")


async def rejoined(nc: NATS, timeout_s: float = 60) -> float:
    """Until every replica of the registry's stream is current (the restarted server caught
    up); the seconds it took from now."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, TimeoutError):
            cluster = (await nc.jetstream().stream_info(stream_name(REGION, "registry"))).cluster
            replicas = (cluster.replicas or []) if cluster else []
            if len(replicas) == NODES - 1 and all(r.current for r in replicas):
                return time.perf_counter() - started
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the restarted server was not current in {timeout_s:.0f} s")


async def drained(
    seen: Seen, acknowledged: dict[str, str], mongo_url: str, timeout_s: float
) -> float:
    """Until every acknowledged command's event reached the benchmark's consumer and matching's
    read model, or ``timeout_s``; the seconds it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if not count_lost(acknowledged, seen, await read_model_smes(mongo_url)):
            break
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def run(
    home: Path, seconds: float, rate: float, repeat_after_s: float = REPEAT_AFTER_S
) -> dict[str, object]:
    begun = time.perf_counter()
    ports = [free_port() for _ in range(NODES)]
    nodes = nats_cluster(REGION, ports, [free_port() for _ in range(NODES)], home)
    mongo_port = free_port()
    database = mongo_server(REGION, mongo_port, home)
    mongo_url = f"mongodb://127.0.0.1:{mongo_port}"
    url = cluster_url(REGION, ports, home)
    env = {STREAM_REPLICAS_VAR: str(NODES)}
    registry = service_process("registry", url, mongo_url, home, **env)
    matching = service_process("matching", url, mongo_url, home, **env)
    services: list[Managed] = []
    servers_ = [*nodes, database]
    nc: NATS | None = None
    try:
        for server in servers_:  # side by side
            server.start()
        for server, port in zip(servers_, [*ports, mongo_port], strict=True):
            wait_for_port(server, port)
        await asyncio.to_thread(wait_for_jetstream, url, NODES)
        services += [registry, matching]
        for service in services:  # the registry first: its streams are made by the first
            await start_service(service, url)
        print(f"servers and services up in {time.perf_counter() - begun:.1f} s", flush=True)
        nc = await connection(url)
        seen, stop = Seen(), asyncio.Event()
        consumer = asyncio.create_task(consume(nc, seen, stop))
        commands = Commands(BusClient(nc, source="mapnet/bench", home=REGION), repeat_after_s)
        count = round(seconds * rate)
        print(f"{count} commands at {rate:g}/s for {seconds:g} s on {NODES} servers …", flush=True)
        moments: dict[str, float] = {}
        started = time.perf_counter()
        await asyncio.gather(
            commands.send(count, rate, started, seconds),
            faults(nc, url, nodes, ports, registry, started, seconds, moments),
        )
        took = await drained(seen, commands.acknowledged, mongo_url, DRAIN_S)
        print(f"every consumer caught up {took:.1f} s after the last answer", flush=True)
        stop.set()
        await consumer
        print(f"the killed server's replica current again {await rejoined(nc):.1f} s later",
              flush=True)  # fmt: skip
        lost = count_lost(commands.acknowledged, seen, await read_model_smes(mongo_url))
        duplicated = count_duplicated(seen)
        waited = sorted(commands.waited_ms)
        left = await claims_left(mongo_url)
        print(f"{commands.repeats} commands were sent again after no answer; the registry "
              f"holds {left} claims without an answer", flush=True)  # fmt: skip
        for a, b in widest_gaps(commands.answered_at, started):
            print(f"no answer from {a - started:5.1f} s to {b - started:5.1f} s", flush=True)
        latest = sorted(
            seen.first_seen, key=lambda i: commands.answer_of.get(i, 0) - seen.first_seen[i]
        )
        for sme_id in latest[:3]:
            if sme_id in commands.answer_of:
                print(f"answered at {commands.answer_of[sme_id] - started:5.1f} s, its event seen "
                      f"at {seen.first_seen[sme_id] - started:5.1f} s", flush=True)  # fmt: skip
        return {
            "commands": len(commands.acknowledged),
            "events": len(seen.positions),
            "lost": lost,
            "duplicated": duplicated,
            "failover_s": f"{longest_gap(commands.answered_at, started):.2f}",
            "p99_ms": round(waited[min(len(waited) - 1, int(len(waited) * 0.99))]),
            **{
                f"{fault}_gap_s": f"{gap_after(commands.answered_at, moments[fault], until):.2f}"
                for fault, until in (
                    ("nats_kill", moments["nats_restart"]),
                    ("nats_restart", moments["service_kill"]),
                    ("service_kill", float("inf")),
                )
            },
            "event_lag_max_s": f"{event_lag_max(commands.answer_of, seen.first_seen):.2f}",
            "redelivered": seen.delivered_again + await passed_over(mongo_url),
            "stuck": commands.stuck,
            "unanswered": commands.unanswered,
        }
    finally:
        if nc is not None:
            await nc.close()
        # The services first, then the servers side by side (each takes a moment to stop).
        for group in (services, servers_):
            for process in group:
                process.ask_to_stop()
            for process in group:
                process.wait_stopped()


async def main(seconds: float, rate: float, repeat_after_s: float) -> None:
    logs.configure("WARNING")
    with tempfile.TemporaryDirectory(prefix="mapnet-failover-") as tmp:
        result = await run(Path(tmp), seconds, rate, repeat_after_s)
    unanswered = result.pop("unanswered")
    line = figures(**result)
    if result["lost"] or result["duplicated"] or unanswered:
        print(f"lost {result['lost']}, duplicated {result['duplicated']}, never answered "
              f"{unanswered} (after {GIVE_UP_S:.0f} s)", file=sys.stderr)  # fmt: skip
        print(line)
        raise SystemExit(1)
    print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long commands are sent")
    parser.add_argument("--rate", type=float, default=20.0, help="commands per second")
    parser.add_argument(
        "--repeat-after-s", type=float, default=REPEAT_AFTER_S,
        help="a command unanswered this long is sent again (below the registry's wait for a "
        "running repeat, 5 s, the repeats pile up in a loaded registry)",
    )  # fmt: skip
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rate, args.repeat_after_s))
