"""The embedded mailbox over real SMTP: one .eml per Message-ID, repeats answered 250 and not
kept, also after the mailbox restarts."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from mapnet.dev.mailbox import message_id, serve
from mapnet.ops.servers import free_port


def mail(ident: str | None, to: str = "ann@example.ee") -> bytes:
    message = EmailMessage()
    message["From"] = "noreply@mapnet.eu"
    message["To"] = to
    message["Subject"] = "Hello"
    if ident:
        message["Message-ID"] = ident
    message.set_content("Message-ID: <not-this-one@body> is only text in the body.\n")
    return message.as_bytes()


def kept(directory: Path) -> int:
    return len(list(directory.glob("*.eml")))


async def hand_over(port: int, *messages: bytes) -> list[str]:
    answers = []
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as client:
        for raw in messages:
            _, answer = await client.sendmail("noreply@mapnet.eu", ["ann@example.ee"], raw)
            answers.append(answer)
    return answers


def test_message_id_is_read_from_the_header_block_only() -> None:
    assert message_id(mail("<a1@mapnet.eu>")) == "<a1@mapnet.eu>"
    assert message_id(mail(None)) == ""
    assert message_id(b"Subject: x\r\nmessage-id:   <b2@x>  \r\n\r\nbody") == "<b2@x>"


async def test_a_repeat_is_accepted_but_kept_once_even_after_a_restart(tmp_path: Path) -> None:
    port = free_port()
    controller = serve(port, tmp_path)
    try:
        answers = await hand_over(port, mail("<a1@mapnet.eu>"), mail("<a1@mapnet.eu>"),
                                  mail("<a2@mapnet.eu>"), mail(None), mail(None))  # fmt: skip
    finally:
        controller.stop()
    assert "Already delivered" in answers[1] and "Already delivered" not in answers[2]
    assert kept(tmp_path) == 4  # mails without a Message-ID are all kept
    assert controller.handler.repeats == ["<a1@mapnet.eu>"]

    controller = serve(port, tmp_path)
    try:
        await hand_over(port, mail("<a2@mapnet.eu>"), mail("<a3@mapnet.eu>"))
    finally:
        controller.stop()
    assert kept(tmp_path) == 5
    assert controller.handler.repeats == ["<a2@mapnet.eu>"]


async def test_in_memory_it_records_every_hand_over() -> None:
    port = free_port()
    controller = serve(port, None)
    try:
        await hand_over(port, mail("<b1@mapnet.eu>"), mail("<b1@mapnet.eu>"))
    finally:
        controller.stop()
    assert len(controller.handler.received) == 2 and len(controller.handler.kept) == 1
