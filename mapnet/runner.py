"""Composes service routers into one FastStream app: one service per process (production) or a
whole region, or several, in one process (the embedded default)."""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from typing import Any

from faststream import FastStream
from faststream.middlewares import ExceptionMiddleware
from faststream.nats import NatsBroker
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from contracts.envelope import ErrorBody
from contracts.subjects import inbox_prefix, parse
from mapnet.federation.links import LinkKeeper
from mapnet.runtime import logs, mongo
from mapnet.runtime.bus import ensure_streams
from mapnet.runtime.codec import (
    correlation_id_of,
    error_envelope,
    explain_invalid,
    source,
    too_deep,
    with_rule_problems,
)
from mapnet.runtime.compat import message_context
from mapnet.runtime.declaration import declaration, service_names
from mapnet.runtime.requests import Rules
from mapnet.runtime.routing import SPEC_REGION
from mapnet.runtime.service import Runtime
from mapnet.runtime.settings import Settings


def invalid_request_middleware(rules: Mapping[str, Rules] | None = None) -> ExceptionMiddleware:
    """A request whose body fails validation is answered with a typed error naming each field,
    those the service's own ``rules`` (by subject) find included;
    one nested too deep to parse (FastStream's decoder raises RecursionError before any handler
    runs) with the same ``invalid_json`` error as any other body that is not JSON."""
    middleware = ExceptionMiddleware()
    rules = rules or {}

    @middleware.add_handler(ValidationError, publish=True)
    async def refuse(exc: ValidationError, message: Any = message_context()) -> bytes:
        body = explain_invalid(message.body, exc, skip_loc=1)
        service_rules = rules.get(message.raw_message.subject)
        if body.code == "validation_failed" and service_rules is not None:
            body = with_rule_problems(body, message.body, service_rules)
        return _refusal(message, body)

    @middleware.add_handler(RecursionError, publish=True)
    async def refuse_deep(exc: RecursionError, message: Any = message_context()) -> bytes:
        return _refusal(message, too_deep())

    return middleware


def _refusal(message: Any, body: ErrorBody) -> bytes:
    raw_subject = message.raw_message.subject
    parsed = parse(raw_subject)
    region = parsed.region if parsed else "unknown"
    service = parsed.service if parsed else "unknown"
    logs.get(region=region, service=service).info(
        "request_invalid", subject=raw_subject, code=body.code, reason=body.message
    )
    return error_envelope(
        body,
        region=region,
        source=source(region, service),
        correlationid=correlation_id_of(message.body),
    )


def build_runtimes(
    settings: Settings,
    services: list[str],
    regions: list[str],
    mongo_url: str,
    configs: Mapping[str, BaseSettings] | None = None,
) -> list[Runtime]:
    """A runtime per service and region, built by the service's declaration. ``configs``: a
    service's own settings to use instead of those its settings class reads from the
    environment (tests)."""
    client = mongo.client(mongo_url)
    runtimes = []
    for region in regions:
        for service in services:
            declared = declaration(service)
            config = (configs or {}).get(service)
            if config is None and declared.settings is not None:
                config = declared.settings()
            rt = Runtime(
                region=region,
                service=service,
                settings=settings,
                mongo=client,
                config=config,
                record_fields=declared.record_fields,
            )
            declared.build_routes(rt)
            runtimes.append(rt)
    return runtimes


def build_broker(settings: Settings, runtimes: list[Runtime], url: str | None = None) -> NatsBroker:
    broker = NatsBroker(
        url or settings.nats_url or f"nats://127.0.0.1:{settings.nats_port}",
        name="mapnet-" + ",".join(sorted({rt.service for rt in runtimes})),
        middlewares=[
            invalid_request_middleware({s: f for rt in runtimes for s, f in rt.rules.items()})
        ],
        graceful_timeout=settings.graceful_timeout_s,
        logger=logs.get(
            component="faststream", region=",".join(sorted({rt.region for rt in runtimes}))
        ),
        log_level=logging.DEBUG,  # FastStream's per-message lines
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        inbox_prefix=inbox_prefix(settings.region),
    )
    for rt in runtimes:
        broker.include_router(rt.router)
    return broker


class Assembly:
    """The runtimes of some services of some regions on one broker, started and stopped as one."""

    def __init__(
        self,
        settings: Settings,
        services: list[str],
        regions: list[str],
        runtimes: list[Runtime] | None = None,
        configs: Mapping[str, BaseSettings] | None = None,
    ) -> None:
        mongo_url = settings.mongo_url or f"mongodb://127.0.0.1:{settings.mongo_port}"
        self.regions = regions
        self.runtimes = (
            runtimes
            if runtimes is not None
            else build_runtimes(settings, services, regions, mongo_url, configs)
        )
        self.broker = build_broker(settings, self.runtimes)
        self.settings = settings
        self.keepers: list[LinkKeeper] = []

    async def prepare(self) -> None:
        await self.broker.connect()
        js = self.broker.connection.jetstream()
        for region in self.regions:
            await ensure_streams(js, region, service_names())
            reads = any(rt.reads_network for rt in self.runtimes if rt.region == region)
            if len(self.settings.network) > 1 and reads:
                keeper = LinkKeeper(
                    self.broker.connection,
                    region,
                    self.settings.network,
                    logs.get(region=region, service="network"),
                )
                keeper.start()
                self.keepers.append(keeper)
        for rt in self.runtimes:
            await rt.start(self.broker.connection)

    async def ready(self) -> None:
        # What start-up made (modules, schemas, validators) lives as long as the process: out
        # of the collector's sight, a full collection is short and no request waits long on it.
        gc.freeze()
        for rt in self.runtimes:
            rt.log.info("service_ready", subjects=f"mapnet.{rt.region}.{rt.service}.>")

    async def drain(self) -> None:
        for keeper in self.keepers:
            await keeper.stop()
        for rt in self.runtimes:
            await rt.stop()

    async def __aenter__(self) -> Assembly:
        await self.prepare()
        await self.broker.start()
        await self.ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()
        await self.drain()


def build_app(settings: Settings, services: list[str], regions: list[str]) -> FastStream:
    assembly = Assembly(settings, services, regions)
    app = FastStream(
        assembly.broker,
        logger=logs.get(component="app", region=",".join(regions), service=",".join(services)),
    )
    app.on_startup(assembly.prepare)
    app.after_startup(assembly.ready)
    app.on_shutdown(assembly.drain)
    return app


def spec_broker() -> NatsBroker:
    """Every installed service, with the region as a parameter: the source of asyncapi.json."""
    settings = Settings()
    runtimes = build_runtimes(settings, service_names(), [SPEC_REGION], "mongodb://127.0.0.1:1")
    return build_broker(settings, runtimes)
