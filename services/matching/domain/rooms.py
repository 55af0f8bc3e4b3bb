"""A remote meeting's room: a URL made from the region's template, private to the meeting. The
meeting ids travel in the shared schedules (every region, partner systems' webhooks), so the
room name adds a key made from the id with a secret only this region's matching holds: knowing
a meeting's id does not open its room. No I/O."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlsplit

PLACEHOLDER = "{meeting_id}"


def check_room_template(template: str) -> str:
    """An https URL with one {meeting_id}, and no other braces (nothing else is filled in)."""
    parts = urlsplit(template.replace(PLACEHOLDER, "x"))
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError("the meeting room URL must be an https URL")
    if template.count(PLACEHOLDER) != 1:
        raise ValueError("the meeting room URL must hold {meeting_id} once")
    if "{" in template.replace(PLACEHOLDER, "") or "}" in template.replace(PLACEHOLDER, ""):
        raise ValueError("the meeting room URL may hold no placeholder but {meeting_id}")
    if PLACEHOLDER in urlsplit(template).netloc:
        # A room's name (an id of any characters, quoted) is no host name: the links would lead
        # nowhere, found only when someone tries to join.
        raise ValueError("the meeting room URL names the room in its path or query, not its host")
    return template


def room_name(secret: str, meeting_id: str) -> str:
    """The meeting's id and 96 bits of its key: unguessable without the secret."""
    key = hmac.new(secret.encode(), meeting_id.encode(), hashlib.sha256).hexdigest()[:24]
    return f"{quote(meeting_id, safe='')}-{key}"


def room_url(template: str, secret: str, meeting_id: str) -> str:
    return template.replace(PLACEHOLDER, room_name(secret, meeting_id))
