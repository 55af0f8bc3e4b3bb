"""Notifications through the notify service (its own process) to the local SMTP server, against
the same mails sent by a plain aiosmtplib loop to the same kind of server, in one run.

The mails are registration confirmations. Their events carry no person (an erasure could not
reach into the stream), so notify asks the events service for the people, as in production:
the events service runs too and takes the registrations while notify is down. Notify is then
timed from the moment its process starts, the events waiting for it, until the last mail has
arrived: its start-up work (connecting, making its consumers, its first fetch) is in the figure.
Notify hands mails over with MAPNET_NOTIFY_SENDERS (48) senders at once, each on an SMTP
connection of its own; the plain loop does the same, 48 connections sending side by side.

    python -m bench.notify [--notifications 10000]

Last line: notifications=… sent_per_s=… raw_smtp_per_s=… duplicated=…"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import aiosmtplib

from bench.common import REGION, each, embedded_servers, figures, serving
from contracts import events as ev
from mapnet.dev.mailbox import message_id
from mapnet.ops.servers import Managed, free_port, start_and_wait
from mapnet.runtime.bus import BusClient
from services.notify.adapters.mail import compose
from services.notify.domain.rules import Mail, Person, delivery_id
from services.notify.settings import NotifySettings

# Notify's default number of senders, given to both sides.
SENDERS: int = NotifySettings.model_fields["notify_senders"].default


def conference(i: int) -> ev.PublishEvent:
    """An event a month ahead with no seat limit: every registration is confirmed."""
    day = date.today() + timedelta(days=30)
    return ev.PublishEvent.model_validate(
        {"partner_id": "bench", "external_id": f"notify-bench-{i}", "kind": "conference",
         "title": f"Bench Conference {i}", "starts_at": f"{day}T09:00:00",
         "ends_at": f"{day}T17:00:00", "timezone": "Europe/Tallinn", "country": "EE"}
    )  # fmt: skip


def registration(event_id: str, n: int) -> ev.RegisterParticipant:
    return ev.RegisterParticipant(
        event_id=event_id, person_name=f"Person {n}", email=f"person{n}@example.ee"
    )


def in_memory() -> str | None:
    """The mailboxes are the measuring instrument, not what is measured: their files go to
    memory where there is a tmpfs. On disk, their file writes queued behind whatever the disk
    was doing (the database's writes, a previous run's deleted files being discarded), and the
    plain loop's figure varied by half between runs."""
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


def mailbox(directory: Path) -> tuple[Managed, int]:
    port = free_port()
    server = Managed(
        "mailbox", [sys.executable, "-m", "mapnet.dev.mailbox", "--port", str(port), "--dir",
                    str(directory)], directory.parent / f"{directory.name}.log",
    )  # fmt: skip
    start_and_wait(server, port)
    return server, port


def received(directory: Path) -> int:
    return sum(1 for _ in directory.glob("*.eml"))


async def register(nats_url: str, count: int) -> None:
    """The registrations the mails are about, taken by the events service; their events wait in
    the stream until notify starts. Spread over conferences of 500 people: an event's seat book
    is one record that every registration rewrites."""
    client = await BusClient.connect(nats_url, source="mapnet/bench", timeout_s=60,
                                     role="map_admin")  # fmt: skip
    events = [await client.call(ev.PUBLISH_EVENT, conference(i), REGION)
              for i in range(-(-count // 500))]  # fmt: skip
    commands = [registration(events[n // 500].event_id, n) for n in range(count)]
    await each(commands, lambda command: client.call(ev.REGISTER_PARTICIPANT, command, REGION), 16)
    await client.close()


async def through_service(
    nats_url: str, mongo_url: str, home: Path, smtp: str, mail_dir: Path, count: int
) -> float:
    """Mails per second from notify's start (the events already waiting) to the last mail."""
    started = time.perf_counter()
    async with serving("notify", nats_url, mongo_url, home, SMTP_URL=smtp,
                       MAPNET_NOTIFY_SENDERS=str(SENDERS)):  # fmt: skip
        print(f"notify answers {time.perf_counter() - started:.1f} s after its start, "
              f"{received(mail_dir)} mails sent by then", flush=True)  # fmt: skip
        while received(mail_dir) < count:
            if time.perf_counter() - started > 900:
                raise RuntimeError(f"only {received(mail_dir)} of {count} mails arrived")
            await asyncio.sleep(0.05)
        return count / (time.perf_counter() - started)


async def plain_loop(port: int, count: int, senders: int = SENDERS) -> float:
    """The same mails handed over by ``senders`` aiosmtplib connections side by side, each
    sending one mail after another; timed from connecting to the last mail's answer."""
    messages = [
        compose(
            Mail("registration_confirmed", Person(f"person{n}@example.ee", f"Person {n}"),
                 {"event": {"title": "your event", "when": "", "where": ""}, "position": None}),
            delivery_id(f"raw-{n}", "email", f"person{n}@example.ee"),
            sender="MAPnet <noreply@mapnet.eu>", public_url="http://localhost", secret="s",
        ).as_bytes()
        for n in range(count)
    ]  # fmt: skip
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
               for _ in range(min(senders, count))]  # fmt: skip
    idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
    started = time.perf_counter()
    await asyncio.gather(*(client.connect() for client in clients))
    for client in clients:
        idle.put_nowait(client)

    async def send(n: int) -> None:
        client = await idle.get()
        await client.sendmail("noreply@mapnet.eu", [f"person{n}@example.ee"], messages[n])
        idle.put_nowait(client)

    await each(range(count), send, len(clients))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(client.quit() for client in clients))
    return count / elapsed


def duplicated(directory: Path) -> int:
    """Mails the service handed over more than once: repeats the mailbox answered but did not
    keep (it logs each), and any Message-ID kept twice."""
    log = directory.parent / f"{directory.name}.log"
    repeats = sum(1 for line in log.read_text().splitlines() if line.startswith("repeated "))
    ids = Counter(message_id(path.read_bytes()) for path in directory.glob("*.eml"))
    return repeats + sum(n - 1 for n in ids.values())


async def main(count: int) -> None:
    with (
        embedded_servers() as (nats_url, mongo_url),
        tempfile.TemporaryDirectory(dir=in_memory()) as tmp,
    ):
        home = Path(tmp)
        mail_dir = home / "service-mail"
        service_box, service_port = mailbox(mail_dir)
        raw_box, raw_port = mailbox(home / "raw-mail")
        smtp = f"smtp://127.0.0.1:{service_port}"
        try:
            async with serving("events", nats_url, mongo_url, home):
                raw = await plain_loop(raw_port, count)
                print(f"plain aiosmtplib loop: {raw:,.0f} mails/s", flush=True)
                await register(nats_url, count)
                sent = await through_service(nats_url, mongo_url, home, smtp, mail_dir, count)
                print(f"through notify: {sent:,.0f} mails/s", flush=True)
                await asyncio.sleep(1)
                dupes = duplicated(mail_dir)
        finally:
            service_box.stop()
            raw_box.stop()
    print(f"ratio={sent / raw:.2f}")
    print(
        figures(
            notifications=count,
            sent_per_s=round(sent),
            raw_smtp_per_s=round(raw),
            duplicated=dupes,
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notifications", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.notifications))
