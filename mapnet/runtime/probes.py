"""A service process's probes for machines (Kubernetes, a load balancer, Prometheus) on HTTP,
at ``MAPNET_METRICS_PORT`` when it is set (and nowhere otherwise: `mapnet up` on a laptop
needs none):

- ``/healthz``: the process is alive and its event loop answers (200 while it runs);
- ``/readyz``: 200 once every service of the process is ``ok`` (it holds its subscriptions,
  NATS is connected, the database answered its last ping), 503 otherwise with each service's
  state, so that a machine sends work only to a process that can take it;
- ``/metrics``: Prometheus's text format, from the registry the process's broker middleware
  (FastStream's, per handler: messages received, processed, their duration and exceptions)
  writes to, and a ``mapnet_service_ready`` gauge per service.

The server is uvicorn's, as the portal's, in the process's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mapnet.runtime.http import QuietServer
from mapnet.runtime.service import Runtime


class Probes:
    def __init__(
        self,
        runtimes: Sequence[Runtime],
        registry: CollectorRegistry,
        host: str,
        port: int,
        collect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.runtimes = runtimes
        self.registry = registry
        self.collect = collect  # what is read afresh at each scrape
        self.ready_gauge = Gauge(
            "mapnet_service_ready", "1 when the service is ok (as /readyz says), else 0",
            ["region", "service"], registry=registry,
        )  # fmt: skip
        app = Starlette(routes=[
            Route("/healthz", self.healthz), Route("/readyz", self.readyz),
            Route("/metrics", self.metrics),
        ])  # fmt: skip
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
        self.server = QuietServer(config)
        self.task: asyncio.Task[None] | None = None
        self.url: str | None = None

    async def start(self) -> str:
        self.task = asyncio.create_task(self.server.serve(), name="probes")
        while not self.server.started:
            if self.task.done():  # a taken port: say so rather than run without probes
                self.task.result()
                raise RuntimeError("the probes' server stopped as it started")
            await asyncio.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(self, request: Request) -> Response:
        states = {}
        for rt in self.runtimes:
            status = await rt.health_status()
            states[f"{rt.region}/{rt.service}"] = {
                "status": status.status, "nats": status.nats.ok, "mongo": status.mongo.ok,
                **({"mongo_detail": status.mongo.detail} if status.mongo.detail else {}),
            }  # fmt: skip
            self.ready_gauge.labels(rt.region, rt.service).set(status.status == "ok")
        ready = all(s["status"] == "ok" for s in states.values())
        return JSONResponse({"ready": ready, "services": states}, status_code=200 if ready else 503)

    async def metrics(self, request: Request) -> Response:
        if self.collect is not None:
            await self.collect()
        for rt in self.runtimes:
            status = await rt.health_status()
            self.ready_gauge.labels(rt.region, rt.service).set(status.status == "ok")
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
