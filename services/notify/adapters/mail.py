"""Mail out: jinja2 templates (a plain-text and an HTML part, in the person's language where a
template exists, else English) made into a MIME message with an unsubscribe link and header,
and aiosmtplib connections to the SMTP server of ``SMTP_URL``."""

from __future__ import annotations

import asyncio
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiosmtplib
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from ..domain.mails import one_line
from ..domain.rules import Mail, unsubscribe_token

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=(), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=False,
    auto_reload=False,  # templates ship with the code: no stat() per mail
)
_html_env = _env.overlay(autoescape=True)


def _render(env: Environment, kind: str, language: str, block: str, context: dict[str, Any]) -> str:
    """One block (subject, text or html) of a kind's template; the footer macros are handed in
    because rendering a single block skips the template's own imports."""
    try:
        template = env.get_template(f"{kind}.{language}.j2")
    except TemplateNotFound:
        template = env.get_template(f"{kind}.en.j2")
    footer = env.get_template("_footer.j2").module
    macros = {"text_footer": footer.text_footer, "html_footer": footer.html_footer}  # type: ignore[attr-defined]
    return "".join(template.blocks[block](template.new_context({**context, **macros}))).strip()


def compose(mail: Mail, delivery_id: str, *, sender: str, public_url: str, secret: str) -> Message:
    """The MIME message: text and HTML alternatives, attachments, unsubscribe headers. Built
    with the email package's classic classes, which are several times faster than EmailMessage
    and produce the same wire format."""
    token = unsubscribe_token(secret, mail.person.email)
    link = f"{public_url.rstrip('/')}/unsubscribe?" + urlencode(
        {"email": mail.person.email, "token": token}
    )
    context = {**mail.context, "person": mail.person, "unsubscribe_url": link}
    language = mail.person.language
    # Boundaries of our own: the email package otherwise draws a random one per message and
    # compiles a regular expression for it (most of the time spent writing a message out).
    body = MIMEMultipart("alternative", boundary=f"=_alt_{delivery_id}")
    body.attach(_text(_render(_env, mail.kind, language, "text", context) + "\n", "plain"))
    body.attach(_text(_render(_html_env, mail.kind, language, "html", context), "html"))
    message: Message = body
    if mail.attachments:
        message = MIMEMultipart("mixed", boundary=f"=_mix_{delivery_id}")
        message.attach(body)
        for a in mail.attachments:
            maintype, subtype = a.content_type.split("/", 1)
            part = MIMEBase(maintype, subtype)
            if subtype == "calendar":
                part.set_param("method", "PUBLISH")
            part.set_payload(a.data)
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=a.filename)
            message.attach(part)
    message["From"] = sender
    message["To"] = mail.person.email
    # One line whatever the stored text holds: a line break in a title must not end the
    # header (the contracts refuse it now; what was stored before must still be mailable).
    subject = one_line(_render(_env, mail.kind, language, "subject", context))
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    message["Date"] = formatdate(localtime=False)
    # The same delivery always has the same Message-ID, so a resend after a crash is
    # recognisable as the same message.
    message["Message-ID"] = f"<{delivery_id}@mapnet.eu>"
    message["List-Unsubscribe"] = f"<{link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Mapnet-Kind"] = mail.kind
    return message


def _text(text: str, subtype: str) -> Message:
    """ASCII text in short lines goes as it is (7bit): readable in the .eml and a third
    smaller than base64; anything else is base64-encoded UTF-8. The ASCII part is put
    together by hand because MIMEText parses its own header parameters back several times."""
    if text.isascii() and max(map(len, text.splitlines()), default=0) < 990:
        part = Message()
        part["Content-Type"] = f'text/{subtype}; charset="us-ascii"'
        part["Content-Transfer-Encoding"] = "7bit"
        part.set_payload(text)
        return part
    return MIMEText(text, subtype, "utf-8")


class _UnfoldedAscii(Compat32):
    """Writes a plain ASCII header as it is when it fits a line (RFC 5322 allows 998
    characters; wrapping at 78 is a recommendation), instead of running every header through
    the email package's folding algorithm: that was a tenth of notify's time per mail. Anything
    else is folded as before."""

    def fold(self, name: str, value: Any) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) < 990
            and "\n" not in value
            and "\r" not in value
        ):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)


_WIRE = _UnfoldedAscii()


def wire_text(message: Message) -> str:
    """The message as it goes to the SMTP server."""
    return message.as_string(policy=_WIRE)


class SmtpPool:
    """A few open SMTP connections, used one sender at a time each, reopened when they fail."""

    def __init__(self, url: str, size: int, timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        self._options: dict[str, Any] = {
            "hostname": parts.hostname or "127.0.0.1",
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "use_tls": parts.scheme == "smtps",
            "start_tls": None if parts.scheme == "smtps" else False,
            "username": parts.username,
            "password": parts.password,
            "timeout": timeout_s,
        }
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(None)

    async def send(self, message: str, sender: str, recipients: list[str]) -> None:
        client = await self._idle.get()
        try:
            if client is None or not client.is_connected:
                client = aiosmtplib.SMTP(**self._options)
                await client.connect()
            await client.sendmail(sender, recipients, message.encode())
        except BaseException:  # cancelled too: a connection left mid-transaction is no use
            if client is not None and client.is_connected:
                client.close()
            client = None
            raise
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except aiosmtplib.SMTPException:
                    client.close()


def permanent(exc: Exception) -> bool:
    """A 5xx answer will not change on a retry."""
    code = getattr(exc, "code", None)
    return isinstance(code, int) and 500 <= code < 600
