"""Where webhooks may go: partner systems on the internet, never the region's own servers. A
webhook URL pointed at loopback, link-local, private or unspecified addresses would make notify
a port scanner of the machine it runs on (and of its network), so those are refused, at
subscription and again at each delivery against the addresses the name resolves to then, unless
the operator allows a host by name (MAPNET_WEBHOOK_ALLOW_HOSTS, for local testing). No I/O."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit


class TargetRefused(ValueError):
    """A webhook target MAPnet will not call; the message says why, nothing of the target."""


def check_url(url: str, allowed_hosts: Collection[str]) -> str:
    """The host to resolve; TargetRefused for a URL no webhook may have."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("only http and https URLs")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials in the URL are not accepted; sign with the secret")
    host = (parts.hostname or "").lower()
    if not host:
        raise TargetRefused("the URL names no host")
    if host in allowed_hosts:
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise TargetRefused(f"{host} is not on the internet") from None
        return host
    check_address(str(address), host, allowed_hosts)
    return host


def check_address(address: str, host: str, allowed_hosts: Collection[str]) -> None:
    """One address a target's host resolved to (or is)."""
    if host in allowed_hosts:
        return
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
    ):
        raise TargetRefused("the host is not a public address")
