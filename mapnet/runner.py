"""Composes service routers into one FastStream app: one service per process (production) or a
whole region, or several, in one process (the embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Mapping
from typing import Any

from faststream import FastStream
from faststream.middlewares import ExceptionMiddleware
from faststream.nats import NatsBroker
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from contracts.envelope import ErrorBody
from contracts.subjects import dlq_stream, inbox_prefix, parse, stream_name
from mapnet.federation.links import LinkKeeper
from mapnet.runtime import logs, mongo, tracing
from mapnet.runtime.bus import (
    ensure_network_stream,
    ensure_streams,
    region_streams,
    shared_stream_config,
)
from mapnet.runtime.codec import (
    correlation_id_of,
    error_envelope,
    explain_invalid,
    source,
    too_deep,
    with_rule_problems,
)
from mapnet.runtime.compat import fetch_again, message_context
from mapnet.runtime.credentials import servers, service_of, user_of
from mapnet.runtime.declaration import declaration, service_names
from mapnet.runtime.metrics import Metrics
from mapnet.runtime.needs import needs
from mapnet.runtime.probes import Probes
from mapnet.runtime.requests import Rules
from mapnet.runtime.routing import SPEC_REGION, service_inbox
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
    # Said once: an operator whose URL changed what writes wait for sees it here.
    logs.get(component="mongo").info("mongo_writes", write_concern=mongo.write_concern(client))
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


def nats_url(settings: Settings) -> str:
    return settings.nats_url or f"nats://127.0.0.1:{settings.nats_port}"


def build_broker(
    settings: Settings,
    runtimes: list[Runtime],
    url: str | None = None,
    metrics: CollectorRegistry | None = None,
) -> NatsBroker:
    services = sorted({rt.service for rt in runtimes})
    traced = tracing.configure(",".join(services))
    # One service on its own has an inbox of its own: its user may hear nothing else.
    inbox = (
        service_inbox(settings.region, services[0])
        if len(services) == 1
        else inbox_prefix(settings.region)
    )
    broker = NatsBroker(
        servers(url or nats_url(settings)),
        name="mapnet-" + ",".join(sorted({rt.service for rt in runtimes})),
        middlewares=[
            invalid_request_middleware({s: f for rt in runtimes for s, f in rt.rules.items()}),
            # Per handler: messages received and processed, their duration and exceptions.
            *([NatsPrometheusMiddleware(registry=metrics, app_name="mapnet")] if metrics else []),
            # A span per handler, continuing the trace its message's headers carry.
            *([NatsTelemetryMiddleware(tracer_provider=traced)] if traced else []),
        ],
        graceful_timeout=settings.graceful_timeout_s,
        logger=logs.get(
            component="faststream", region=",".join(sorted({rt.region for rt in runtimes}))
        ),
        log_level=logging.DEBUG,  # FastStream's per-message lines
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        # The consumers' pull requests waiting on a lost server are gone: fetch again at once.
        reconnected_cb=fetch_again,
        inbox_prefix=inbox,
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
        # Counted only where something scrapes it (MAPNET_METRICS_PORT): no cost otherwise.
        self.metrics = CollectorRegistry() if settings.metrics_port is not None else None
        self.broker = build_broker(settings, self.runtimes, metrics=self.metrics)
        self.counted = Metrics(self.metrics) if self.metrics is not None else None
        for rt in self.runtimes:
            rt.metrics = self.counted
        if self.counted is not None:
            self.counted.read_services(self.runtimes)
        self.probes: Probes | None = None
        self.settings = settings
        self.keepers: list[LinkKeeper] = []
        self.tasks: list[asyncio.Task[None]] = []
        # Logged in as one service's own user: only what that service may set up is set up.
        self.own_user_of = service_of(user_of(nats_url(settings)))

    async def prepare(self) -> None:
        if self.settings.metrics_port is not None and self.metrics is not None:
            # Alive from the start; ready once the services are (mapnet/runtime/probes.py).
            self.probes = Probes(self.runtimes, self.metrics, self.settings.metrics_host,
                                 self.settings.metrics_port, self._collect)  # fmt: skip
            url = await self.probes.start()
            logs.get(component="probes").info("probes_listening", url=url)
        await self.broker.connect()
        js = self.broker.connection.jetstream()
        for region in self.regions:
            if self.own_user_of is None:
                await ensure_streams(js, region, service_names())
            else:
                await ensure_service_streams(js, region, self.own_user_of)
                if needs(self.own_user_of).publishes_events:
                    log = logs.get(region=region, service=self.own_user_of)
                    self.tasks.append(
                        asyncio.create_task(share_once_sourced(js, region, log), name="share")
                    )
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

    async def _collect(self) -> None:
        """What /metrics reads afresh: each relay's counts, and the consumers' from JetStream
        (all of the region's with its admin login; a service logged in as itself, its own)."""
        assert self.counted is not None
        for rt in self.runtimes:
            if rt.relay is not None:
                self.counted.relayed(rt.region, rt.service, rt.relay)
        try:
            if self.own_user_of is None:
                await self.counted.refresh(self.broker.connection, self.regions)
            else:  # its own consumers only, and the dead letters if it may read them
                dead_letters = needs(self.own_user_of).publishes_events
                for rt in self.runtimes:
                    await self.counted.refresh_own(
                        self.broker.connection, rt.region, rt.consumed, dead_letters
                    )
        except Exception as exc:  # the rest of the metrics are still worth serving
            logs.get(component="probes").warning("metrics_not_read", error=str(exc))
        # The copies of other regions' events: read as the operator, or by a service that
        # reads them (its user may read its region's network stream, as its links keeper does).
        for region in self.regions:
            if self.own_user_of is None or any(
                rt.reads_network for rt in self.runtimes if rt.region == region
            ):
                try:
                    await self.counted.federation(self.broker.connection, region)
                except Exception as exc:
                    logs.get(component="probes").warning("federation_not_read", error=str(exc))

    async def ready(self) -> None:
        # Subscribing only sends the server a line: a round trip makes sure it holds every
        # subscription before anyone is told the services are ready (a request sent at once
        # from another connection met "no responders" on a busy machine).
        await self.broker.connection.flush()
        # What start-up made (modules, schemas, validators) lives as long as the process: out
        # of the collector's sight, a full collection is short and no request waits long on it.
        gc.freeze()
        for rt in self.runtimes:
            rt.ready = True
            rt.log.info("service_ready", subjects=f"mapnet.{rt.region}.{rt.service}.>")

    async def drain(self) -> None:
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for keeper in self.keepers:
            await keeper.stop()
        for rt in self.runtimes:
            await rt.stop()
        if self.probes is not None:
            await self.probes.stop()

    async def __aenter__(self) -> Assembly:
        await self.prepare()
        await self.broker.start()
        await self.ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()
        await self.drain()


STREAM_WAIT_LOG_S = 10.0


async def ensure_service_streams(js: JetStreamContext, region: str, service: str) -> None:
    """What a service run as its own user sets up (mapnet/federation/accounts.py gives it the
    rights to): its own stream, as the contracts say; the region's dead letters, only created
    if missing (changing them is the operator's: `mapnet serve all`, as ``mapnet``); the
    network stream if it reads it. Then it waits for the streams its consumers are on, which
    the services that publish there make."""
    need = needs(service)
    log = logs.get(region=region, service=service)
    if need.publishes_events:
        configs = {config.name: config for config in region_streams(region, service_names())}
        own = configs[stream_name(region, service)]
        try:
            await js.add_stream(own)
        except BadRequestError:
            await js.update_stream(own)
        await _create_if_missing(js, configs[dlq_stream(region)], log)
    if need.reads_network:
        await ensure_network_stream(js, region)
    for stream in sorted({consumed.stream(region) for consumed in need.consumed}):
        await _wait_for_stream(js, stream, log)


async def share_once_sourced(js: JetStreamContext, region: str, log: Any) -> None:
    """The region's shared stream, created once every stream it copies from is there: a source
    that is missing when the stream is made is retried by NATS with a back-off (tens of
    seconds), and services run on their own start in any order."""
    config = shared_stream_config(region, service_names())
    for copied in config.sources or []:
        await _wait_for_stream(js, copied.name, log)
    await _create_if_missing(js, config, log)


async def _create_if_missing(js: JetStreamContext, config: StreamConfig, log: Any) -> None:
    try:
        await js.add_stream(config)  # the same configuration again changes nothing
    except BadRequestError as exc:
        # There already, as another release of the contracts made it: the operator's to change.
        log.warning("region_stream_differs", stream=config.name, reason=str(exc))


async def _wait_for_stream(js: JetStreamContext, stream: str, log: Any) -> None:
    waited = 0.0
    while True:
        try:
            await js.stream_info(stream)
            return
        except NotFoundError:
            if waited % STREAM_WAIT_LOG_S == 0:
                log.info("waiting_for_stream", stream=stream, waited_s=waited)
            await asyncio.sleep(0.5)
            waited += 0.5


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
