"""Health of the services of a region, as a partner's plain NATS client would see it."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from typing import Any

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from contracts.subjects import inbox_prefix, subject
from mapnet.federation.links import origin_answers, replication
from mapnet.runtime.backlog import consumer_backlog
from mapnet.runtime.credentials import servers, service_of, user_of, without_login
from mapnet.runtime.declaration import service_names
from mapnet.runtime.routing import service_inbox


async def _quiet(exc: Exception) -> None:
    """The failure is reported in the answer; nats-py would otherwise print every retry."""


def linked_servers(monitor_url: str) -> dict[str, set[str]]:
    """Per region, its servers whose leaf links the hub holds now: one of a region on one
    server (mapnet_<region>), each of a region's cluster with its links up (mapnet_<region>_<n>)."""
    try:
        with urllib.request.urlopen(f"{monitor_url}/leafz", timeout=1) as answer:
            doc = json.load(answer)
    except OSError:
        return {}
    linked: dict[str, set[str]] = {}
    for leaf in doc.get("leafs") or []:
        if found := re.fullmatch(r"mapnet_([a-z]+)(?:_\d+)?", leaf.get("name", "")):
            linked.setdefault(found.group(1), set()).add(found.group(0))
    return linked


def wait_for_links(
    monitor_url: str, regions: list[str], timeout_s: float = 30.0, servers_each: int = 1
) -> None:
    """Until the hub holds a leaf link from each of the regions, from each of its
    ``servers_each`` servers (a region's cluster); TimeoutError naming the missing ones
    otherwise."""
    deadline = time.monotonic() + timeout_s

    def missing() -> list[str]:
        linked = linked_servers(monitor_url)
        return sorted(r for r in regions if len(linked.get(r, ())) < servers_each)

    while lacking := missing():
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"no leaf link from {lacking} after {timeout_s:.0f} s"
                + (f" (from each of its {servers_each} servers)" if servers_each > 1 else "")
            )
        time.sleep(0.1)


async def wait_until_up(
    region: str, nats_url: str, services: list[str], timeout_s: float = 60.0
) -> None:
    """Until each of the region's services answers its health query as ok."""
    deadline = time.monotonic() + timeout_s
    while True:
        health = await region_health(region, nats_url)
        if all(health["services"][s].get("status") == "ok" for s in services):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{services} of {region} did not start in {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


async def region_health(
    region: str, nats_url: str, network: list[str] | None = None, timeout_s: float = 1.5
) -> dict[str, Any]:
    """Services' health; in a network also, per other region, whether its shared stream answers
    from here across the hub (links) and how this region's copy of it is doing (replication)."""
    services = service_names()
    report: dict[str, Any] = {
        "id": region,
        "nats_url": without_login(nats_url),  # never the password
        "services": {},
        "healthy": False,
    }
    others = [r for r in network or [] if r != region]
    service = service_of(user_of(nats_url))
    try:
        nc = await nats.connect(
            servers(nats_url),
            connect_timeout=1,
            max_reconnect_attempts=1,
            allow_reconnect=False,
            error_cb=_quiet,
            # A service's own user (in its container) may hear only its own inbox.
            inbox_prefix=service_inbox(region, service) if service else inbox_prefix(region),
        )
    except Exception as exc:
        report["error"] = f"NATS unreachable: {type(exc).__name__}: {exc}"
        for service in services:
            report["services"][service] = {"status": "unreachable"}
        return report
    try:
        answers = await asyncio.gather(
            *(_health(nc, region, service, timeout_s) for service in services)
        )
        if service is None:
            # The region's admin login (a service's own user may not read other consumers).
            report["consumers"] = await _backlog_or_error(nc, region)
        if others:
            reachable = await asyncio.gather(*(origin_answers(nc, other) for other in others))
            report["links"] = {
                other: "up" if up else "down" for other, up in zip(others, reachable, strict=True)
            }
            report["replication"] = await replication(nc, region, others)
    finally:
        await nc.close()
    report["services"] = dict(zip(services, answers, strict=True))
    report["healthy"] = all(a.get("status") == "ok" for a in answers)
    if served := [a["http_url"] for a in answers if a.get("http_url")]:
        report["http_url"] = served[0]  # the portal: where people use this region
    return report


async def _backlog_or_error(nc: Any, region: str) -> list[dict[str, Any]] | dict[str, str]:
    try:
        return await consumer_backlog(nc, region)
    except Exception as exc:  # the services' health is still worth showing
        return {"error": f"{type(exc).__name__}: {exc}"}


async def _health(nc: Any, region: str, service: str, timeout_s: float) -> dict[str, Any]:
    try:
        msg = await nc.request(subject(region, service, "query", "health"), b"", timeout=timeout_s)
    except (NoRespondersError, NatsTimeout):
        return {"status": "down"}
    data: dict[str, Any] = json.loads(msg.data).get("data", {})
    return {
        "status": data.get("status", "unknown"),
        "version": data.get("version"),
        "nats": data.get("nats", {}).get("ok"),
        "mongo": data.get("mongo", {}).get("ok"),
        "instance": data.get("instance"),
        **({"http_url": data["http_url"]} if data.get("http_url") else {}),
    }
