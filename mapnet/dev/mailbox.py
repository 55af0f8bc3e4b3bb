"""The embedded SMTP server (aiosmtpd): it accepts every message and keeps it as an .eml file,
so that a user of `mapnet up` can open what MAPnet would have sent. Tests run it in process.

It keeps a message once per Message-ID (an idempotent receiver). Plain SMTP leaves notify one
window it cannot close from its side: a mail the server took in the instant before notify's
"sent" record was durable goes again after a crash, with the same Message-ID. Here that repeat
is answered 250 and counted, not stored twice (the README's "Once only" says what that asks
of a production relay).

    python -m mapnet.dev.mailbox --port 2525 --dir .mapnet/tallinn/mail"""

from __future__ import annotations

import argparse
import hashlib
import re
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.+?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def message_id(content: bytes) -> str:
    """The Message-ID header, read from the header block only (parsing whole messages was half
    of this server's time)."""
    blank = _BLANK_LINE.search(content)
    header = content[: blank.start()] if blank else content
    found = _MESSAGE_ID.search(header)
    return found.group(1).decode("ascii", "replace") if found else ""


def _key(ident: str) -> str:
    return hashlib.sha1(ident.encode()).hexdigest()[:16]


class MailStore:
    """aiosmtpd handler. With a directory, one .eml file per Message-ID (what a user opens),
    named by arrival and a digest of the Message-ID, so a restarted mailbox still knows what it
    has. Without one (tests), in memory: ``received`` holds every message handed over, repeats
    included (what tests of the sender look at), ``kept`` one per Message-ID."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.received: list[bytes] = []
        self.kept: dict[str, bytes] = {}  # key of the Message-ID -> the message
        self.repeats: list[str] = []  # Message-IDs handed over again and not kept
        self._known: set[str] = set()
        self._lock = threading.Lock()
        if directory:
            directory.mkdir(parents=True, exist_ok=True)
            self._known = {path.stem.rpartition("-")[2] for path in directory.glob("*.eml")}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        ident = message_id(content)
        key = _key(ident) if ident else uuid.uuid4().hex[:16]  # no Message-ID: always kept
        with self._lock:
            if self.directory is None:
                self.received.append(content)
            if key in self._known:
                self.repeats.append(ident)
                if self.directory:
                    print(f"repeated {ident}: not kept again", flush=True)
                return "250 Already delivered (same Message-ID)"
            self._known.add(key)
            if self.directory is None:
                self.kept[key] = content
        if self.directory:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{key}.eml"
            (self.directory / name).write_bytes(content)
        return "250 Message accepted for delivery"


def serve(port: int, directory: Path | None, host: str = "127.0.0.1") -> Controller:
    controller = Controller(MailStore(directory), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    controller = serve(args.port, args.dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
