"""The portal under load: a region (each service in a process of its own, as in production)
holds 10,000 SMEs, one in ten with a published profile; 32 HTTP clients (httpx), each signed in
as staff and as a company's contact, load the registry table (a search), an SME's page and a
partner search, without pause, for 60 s. Then the same queries go straight on the bus from as
many callers for a third of the time, so the page's cost can be set against the bus's in the
same run.

    python -m bench.portal [--smes 10000] [--seconds 60] [--clients 32] [--one-process]

Last line: smes=… requests=… p95_ms=… errors=0 bus_p95_ms=… (the aim of #18: p95 at most
150 ms, and at most twice the bus figure)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import REGION, caught_up, embedded_servers, figures, serving
from bench.registry import sme
from contracts import matching as mt
from contracts import registry as rg
from contracts.common import SmeRef
from contracts.errors import Refused
from mapnet.ops.servers import free_port
from mapnet.runtime.bus import BusClient

# A region as its users run it: the pages an SME sees ask the guide too (finance, the guide of
# a partner's market).
SERVICES = ["registry", "events", "matching", "notify", "guide", "portal"]
PASSWORD = "bench-password-1"
WORDS = ["Bench", "Company", "saas", "OÜ", "registered"]


def offer(i: int) -> rg.ProfileInput:
    return rg.ProfileInput.model_validate(
        {"type": "technology_offer" if i % 20 else "technology_request",
         "title": f"Cloud software offer {i}", "summary": "SaaS for exporters, built to scale",
         "keywords": ["saas", "export"], "partnership_types": ["licence"],
         "expires_on": "2099-01-01"}
    )  # fmt: skip


async def seed(client: BusClient, count: int) -> list[str]:
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> str:
        async with gate:
            view = await client.call(rg.REGISTER_SME, sme(i), REGION)
            if i % 10 == 0:
                publish = rg.PublishProfile(sme_id=view.sme_id, profile=offer(i))
                await client.call(rg.PUBLISH_PROFILE, publish, REGION)
            return str(view.sme_id)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def add_user(env: dict[str, str], email: str, role: str, *extra: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "mapnet", "user", "add", "--region", REGION, "--email", email,
         "--role", role, "--password", PASSWORD, *extra],
        env=env, check=True, capture_output=True,
    )  # fmt: skip


async def signed_in(base: str, email: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=base, timeout=30)
    form = await http.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    done = await http.post("/signin", data={"email": email, "password": PASSWORD,
                                            "csrf": csrf.group(1)})  # fmt: skip
    assert done.status_code == 303, done.text
    return http


async def load(
    requests: list[Callable[[], Awaitable[bool]]], until: float, took: dict[str, list[float]]
) -> int:
    """Send the requests round and round until the time is up; the count of failures."""
    failed = 0
    while time.perf_counter() < until:
        for request in requests:
            started = time.perf_counter()
            try:
                failed += 0 if await request() else 1
            except (httpx.HTTPError, Refused):
                failed += 1
            took.setdefault(request.__name__, []).append((time.perf_counter() - started) * 1000)
    return failed


def every(took: dict[str, list[float]]) -> list[float]:
    return [t for times in took.values() for t in times]


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[94]


async def main(count: int, seconds: float, clients: int, one_process: bool) -> None:
    port = free_port()
    with embedded_servers() as (nats_url, mongo_url), tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NATS_URL": nats_url, "MONGO_URL": mongo_url,
               "MAPNET_REGIONS": REGION, "MAPNET_HTTP_PORT": str(port)}  # fmt: skip
        async with contextlib.AsyncExitStack() as region:
            # As in production, each service in a process of its own (or all in one).
            for service in ["all"] if one_process else SERVICES:
                waits_for = SERVICES if one_process else [service]
                await region.enter_async_context(
                    serving(
                        service,
                        nats_url,
                        mongo_url,
                        Path(tmp),
                        waits_for,
                        MAPNET_HTTP_PORT=str(port),
                    )
                )
            client = await BusClient.connect(nats_url, source="mapnet/bench", timeout_s=60,
                                             role="map_admin")  # fmt: skip
            started = time.perf_counter()
            ids = await seed(client, count)
            seeded_s = time.perf_counter() - started
            seeker = SmeRef(sme_id=ids[0], region=REGION)
            add_user(env, "staff@bench.example", "map_staff")
            add_user(env, "contact@bench.example", "sme", "--sme", ids[0])
            base = f"http://127.0.0.1:{port}"
            staff = [await signed_in(base, "staff@bench.example") for _ in range(clients)]
            contacts = [await signed_in(base, "contact@bench.example") for _ in range(clients)]

            def http_requests(k: int) -> list[Callable[[], Awaitable[bool]]]:
                async def table() -> bool:
                    query = {"text": random.choice(WORDS)} if k % 2 else {}
                    return (await staff[k].get("/smes", params=query)).status_code == 200

                async def page() -> bool:
                    return (await staff[k].get(f"/smes/{random.choice(ids)}")).status_code == 200

                async def partners() -> bool:
                    return (await contacts[k].get("/partners")).status_code == 200

                return [table, page, partners]

            def bus_requests(k: int) -> list[Callable[[], Awaitable[bool]]]:
                async def ok(op: Any, data: Any) -> bool:
                    await client.call(op, data, REGION)
                    return True

                async def table() -> bool:
                    text = random.choice(WORDS) if k % 2 else None
                    return await ok(rg.SEARCH_SMES, rg.SearchSmes(text=text, limit=50))

                async def page() -> bool:
                    return await ok(rg.GET_SME, rg.GetSme(sme_id=random.choice(ids)))

                async def partners() -> bool:
                    return await ok(mt.FIND_PARTNERS, mt.FindPartners(seeker=seeker, limit=20))

                return [table, page, partners]

            # Matching's copy of the profiles must be complete before the partner search counts.
            caught_up_s = await caught_up(client.nc)
            took: dict[str, list[float]] = {}
            until = time.perf_counter() + seconds
            errors = await asyncio.gather(
                *(load(http_requests(k), until, took) for k in range(clients))
            )
            bus_took: dict[str, list[float]] = {}
            until = time.perf_counter() + seconds / 3
            await asyncio.gather(*(load(bus_requests(k), until, bus_took) for k in range(clients)))
            for http in staff + contacts:
                await http.aclose()
            await client.close()
    for name in took:
        print(figures(request=name, http_p50_ms=f"{statistics.median(took[name]):.1f}",
                      http_p95_ms=f"{p95(took[name]):.1f}",
                      bus_p50_ms=f"{statistics.median(bus_took[name]):.1f}",
                      bus_p95_ms=f"{p95(bus_took[name]):.1f}"))  # fmt: skip
    requests = every(took)
    print(figures(seeded_s=f"{seeded_s:.0f}", caught_up_s=f"{caught_up_s:.0f}",
                  per_s=f"{len(requests) / seconds:.0f}"))  # fmt: skip
    print(
        figures(
            smes=count,
            requests=len(requests),
            p95_ms=f"{p95(requests):.1f}",
            errors=sum(errors),
            bus_p95_ms=f"{p95(every(bus_took)):.1f}",
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smes", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--one-process", action="store_true", help="the region in one process")
    args = parser.parse_args()
    asyncio.run(main(args.smes, args.seconds, args.clients, args.one_process))
