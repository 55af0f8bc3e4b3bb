"""The embedded SMTP server (aiosmtpd): it accepts every message and keeps it as an .eml file,
so that a user of `mapnet up` can open what MAPnet would have sent. Tests run it in process.

    python -m mapnet.mailbox --port 2525 --dir .mapnet/tallinn/mail"""

from __future__ import annotations

import argparse
import hashlib
import signal
import threading
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MailStore:
    """aiosmtpd handler: one .eml file per message received, named by arrival and Message-ID."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.received: list[bytes] = []
        self._lock = threading.Lock()
        if directory:
            directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        with self._lock:
            self.received.append(content)
        if self.directory:
            message_id = message_from_bytes(content).get("Message-ID", "")
            digest = hashlib.sha1(f"{message_id}{time.time_ns()}".encode()).hexdigest()[:10]
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{digest}.eml"
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
