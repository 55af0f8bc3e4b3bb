"""One NATS user per service: each service run on its own (`mapnet serve <service>`) logs in as
``mapnet.<service>``, whose rights the region's server derives from the contracts and the
service's declaration. A region whose every service runs so works end to end, with not one
permissions violation in the server's log; the portal's user cannot delete or purge a stream,
publish an event or into a stream, or hear another service's requests or answers."""

from __future__ import annotations

import ast
import asyncio
import importlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import pytest
from nats.aio.client import Client as NATS

from contracts import events as ev
from contracts import registry as rg
from contracts.operations import Operation
from contracts.subjects import shared_stream, stream_name
from mapnet.dev.localnet import LocalNetwork
from mapnet.dev.mailbox import MailStore
from mapnet.dev.mailbox import serve as serve_mail
from mapnet.federation.accounts import password_vars, service_permissions
from mapnet.ops.cli import serving_as
from mapnet.ops.servers import (
    Managed,
    free_port,
    logged_in_url,
    nats_server,
    service_login_url,
    start_and_wait,
)
from mapnet.runner import Assembly
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode
from mapnet.runtime.credentials import service_user, user_of
from mapnet.runtime.declaration import declared, service_names
from mapnet.runtime.routing import service_inbox
from mapnet.runtime.settings import Settings
from services.notify.settings import NotifySettings
from tests.fixtures import Servers, unique_region
from tests.helpers import eventually, sme_registered
from tests.three_regions import H, T, a_profile, an_entry, registered, seeker_finding

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class OwnRegion:
    """A region's own NATS server (its users' rights name the region), each service in an
    assembly of its own logged in as its own user, as `mapnet serve <service>` runs it."""

    id: str
    port: int
    home: Path
    server: Managed
    mongo_url: str
    assemblies: dict[str, Assembly]
    mailbox: MailStore

    @property
    def operator_url(self) -> str:
        return logged_in_url(self.id, self.port, self.home)

    def login(self, service: str) -> str:
        return service_login_url(self.id, self.port, self.home, service)

    def violations(self) -> list[str]:
        log = self.server.log_path.read_text(errors="replace")
        return [line for line in log.splitlines() if "Violation" in line]


@pytest.fixture(scope="module")
def own_server(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int, Path, Managed]]:
    region, port = unique_region(), free_port()
    home = tmp_path_factory.mktemp("service-users")
    server = nats_server(region, port, home)
    start_and_wait(server, port)
    yield region, port, home, server
    server.stop()


@pytest.fixture(scope="module")
def own_mailbox() -> Iterator[tuple[MailStore, int]]:
    port = free_port()
    controller = serve_mail(port, None)
    try:
        yield controller.handler, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
async def own_region(
    servers: Servers,
    own_server: tuple[str, int, Path, Managed],
    own_mailbox: tuple[MailStore, int],
) -> AsyncIterator[OwnRegion]:
    region_id, port, home, server = own_server
    region = OwnRegion(region_id, port, home, server, servers.mongo_url, {}, own_mailbox[0])
    mail = NotifySettings.model_validate({"SMTP_URL": f"smtp://127.0.0.1:{own_mailbox[1]}"})

    def settings(service: str) -> Settings:
        return Settings.model_validate(
            {"MAPNET_REGIONS": region_id, "NATS_URL": region.login(service),
             "MONGO_URL": servers.mongo_url, "MAPNET_HOME": str(home)}
        )  # fmt: skip

    region.assemblies = {
        s: Assembly(settings(s), [s], [region_id], configs={"notify": mail})
        for s in service_names()
    }
    # The portal first: it waits for the registry's stream, which only the registry makes. It
    # is seen asking for a stream twice (told there is none, it asks again: its wait), then it
    # must not have started; the operator overhears its JetStream requests.
    operator = await nats.connect(region.operator_url)
    asked: dict[str, int] = {}

    async def overheard(msg: Any) -> None:
        asked[msg.subject] = asked.get(msg.subject, 0) + 1

    try:
        await operator.subscribe("$JS.API.STREAM.INFO.>", cb=overheard)
        await operator.flush()
        portal = asyncio.create_task(region.assemblies["portal"].__aenter__())

        async def most_asked() -> int:
            return max(asked.values(), default=0)

        await eventually(most_asked, until=lambda times: times >= 2, timeout_s=30)
    finally:
        await operator.close()
    assert not portal.done(), "the portal started without the registry's stream"
    others = [a.__aenter__() for s, a in region.assemblies.items() if s != "portal"]
    await asyncio.wait_for(asyncio.gather(portal, *others), 60)
    yield region
    for assembly in reversed(region.assemblies.values()):
        await assembly.__aexit__(None, None, None)


async def test_each_service_logs_in_as_its_own_user(own_region: OwnRegion) -> None:
    for service, assembly in own_region.assemblies.items():
        assert user_of(str(assembly.settings.nats_url)) == service_user(service)
        assert assembly.own_user_of == service


async def test_a_region_of_services_each_as_its_own_user_works_end_to_end(
    own_region: OwnRegion,
) -> None:
    """A partner search (registry → matching over the registry's stream), a calendar entry
    read through the portal's page (portal → events), a mail for a registration (events →
    notify, which asks events for the registration): and no permissions violation."""
    region = own_region.id
    client = await BusClient.connect(
        own_region.operator_url, region=region, source="mapnet/tests", role="map_admin"
    )
    try:
        await registered(
            client, region, "Offer Oy", a_profile("Enzyme offer", "Industrial enzymes")
        )
        _, found = await seeker_finding(
            client, region, "Seeker AS", "Enzymes wanted", "Industrial enzymes", "Offer Oy"
        )
        assert "Offer Oy" in found
        day = await client.call(ev.PUBLISH_EVENT, an_entry("Service Users Day"), region)
        person = ev.RegisterParticipant(
            event_id=day.event_id, person_name="Mari", email="mari@example.ee"
        )
        await client.call(ev.REGISTER_PARTICIPANT, person, region)
        portal = own_region.assemblies["portal"].runtimes[0]
        assert portal.http_url is not None

        async def calendar_page() -> str:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{portal.http_url}/calendar")).text

        await eventually(calendar_page, until=lambda page: "Service Users Day" in page)

        async def mails_to_mari() -> int:
            return sum(b"mari@example.ee" in mail for mail in own_region.mailbox.received)

        await eventually(mails_to_mari, until=lambda count: count > 0)
    finally:
        await client.close()
    assert own_region.violations() == []


async def test_a_services_container_checks_the_regions_health_as_its_own_user(
    own_region: OwnRegion,
) -> None:
    """docker-compose.yml's health check: `mapnet status` with the service's own login."""
    from mapnet.ops.status import region_health

    for service in service_names():
        report = await region_health(own_region.id, own_region.login(service))
        assert report["healthy"], (service, report)
    assert own_region.violations() == []


async def _as_portal(own_region: OwnRegion, complaints: list[str]) -> NATS:
    async def complaint(exc: Exception) -> None:
        complaints.append(str(exc).lower())

    return await nats.connect(
        own_region.login("portal"),
        inbox_prefix=service_inbox(own_region.id, "portal"),
        error_cb=complaint,
        allow_reconnect=False,
    )


async def test_the_portals_user_cannot_change_streams_nor_publish_events(
    own_region: OwnRegion,
) -> None:
    region = own_region.id
    registry_stream = stream_name(region, "registry")
    operator = await nats.connect(own_region.operator_url)
    complaints: list[str] = []
    portal = await _as_portal(own_region, complaints)
    try:
        client = BusClient(operator, source="mapnet/tests", role="map_admin")
        await client.call(rg.REGISTER_SME, _an_sme(), region)
        before = (await operator.jetstream().stream_info(registry_stream)).state.messages
        assert before > 0
        js = portal.jetstream(timeout=1.0)
        for attempt in (
            js.delete_stream(registry_stream),
            js.purge_stream(registry_stream),
            js.delete_stream(shared_stream(region)),
            js.publish(f"mapnet.{region}.registry.event.sme_registered", _forged(region)),
        ):
            with pytest.raises((TimeoutError, nats.errors.TimeoutError)):
                await attempt
        forged = f"mapnet.{region}.registry.event.sme_registered"
        await portal.publish(forged, _forged(region))  # straight onto the subject
        await portal.publish(f"mapnet.{region}.events.event.entry_shared", _forged(region))
        await portal.flush()
        # The control: the operator's own event on the same subject, stored after the portal's
        # were handled (the registry's relay may still add the registration's own events).
        await operator.jetstream().publish(forged, encode(sme_registered(region, "control")))
        after = await operator.jetstream().stream_info(registry_stream)
        assert after.state.messages > before  # nothing deleted or purged
        stored = [
            (await operator.jetstream().get_msg(registry_stream, seq)).data or b""
            for seq in range(after.state.first_seq, after.state.last_seq + 1)
        ]
        assert any(b'"control"' in data for data in stored)
        assert not any(b'"forged"' in data for data in stored)  # nothing slipped in
    finally:
        await portal.close()
        await operator.close()
    for subject in (
        f"$js.api.stream.delete.{registry_stream.lower()}",
        f"$js.api.stream.purge.{registry_stream.lower()}",
        f"$js.api.stream.delete.{shared_stream(region).lower()}",
        f"mapnet.{region}.registry.event.sme_registered",
        f"mapnet.{region}.events.event.entry_shared",
    ):
        said = f'nats: permissions violation for publish to "{subject}"'
        assert said in complaints, complaints


async def test_the_portals_user_hears_no_other_services_requests_or_answers(
    own_region: OwnRegion,
) -> None:
    region = own_region.id
    complaints: list[str] = []
    portal = await _as_portal(own_region, complaints)
    heard: list[str] = []

    async def overhear(msg: Any) -> None:
        heard.append(msg.subject)

    patterns = [
        f"mapnet.{region}.registry.cmd.>",
        f"mapnet.{region}.events.query.>",
        f"{service_inbox(region, 'registry')}.>",
        "_INBOX.>",
        ">",
    ]
    try:
        for pattern in patterns:
            await portal.subscribe(pattern, cb=overhear)
        await portal.flush()
        operator = await BusClient.connect(
            own_region.operator_url, region=region, source="mapnet/tests", role="map_admin"
        )
        # A control message the portal may hear (its own inbox), sent after the others were
        # answered: once it arrives, anything above it would have arrived first.
        control = asyncio.Event()

        async def arrived(msg: Any) -> None:
            control.set()

        await portal.subscribe(f"{service_inbox(region, 'portal')}.control", cb=arrived)
        await portal.flush()
        try:
            await operator.call(rg.REGISTER_SME, _an_sme(), region)
            await operator.call(ev.LIST_CALENDAR, ev.ListCalendar(region=region), region)
            await operator.nc.publish(f"{service_inbox(region, 'portal')}.control", b"")
            await operator.nc.flush()
        finally:
            await operator.close()
        await asyncio.wait_for(control.wait(), 10)
    finally:
        await portal.close()
    assert heard == []
    said = [c for c in complaints if "permissions violation for subscription" in c]
    assert len(said) == len(patterns), complaints


async def test_a_service_as_its_own_user_reads_what_other_regions_share(
    tmp_path: Path,
) -> None:
    """Matching on its own in a linked region, as its own user: its link keeper adds the other
    region's shared stream as a source (across the hub) and its network consumers read it, so
    a partner search finds an SME of the other region; no permissions violation on the way."""
    async with LocalNetwork(tmp_path, [T, H], ("registry",)) as net:
        tallinn = net.regions[T]
        login = service_login_url(T, tallinn.nats_port, tmp_path, "matching")
        settings = Settings.model_validate({**net.environment(T), "NATS_URL": login})
        async with Assembly(settings, ["matching"], [T]) as matching:
            assert matching.keepers, "matching reads the network: its process keeps the links"
            helsinki, client = await net.client(H), await net.client(T)
            await registered(helsinki, H, "Far Oy", a_profile("Enzyme offer", "Industrial enzymes"))
            _, found = await seeker_finding(
                client, T, "Near AS", "Enzymes wanted", "Industrial enzymes", "Far Oy"
            )
            assert "Far Oy" in found
        log = tallinn.nats.log_path.read_text(errors="replace")
        assert [line for line in log.splitlines() if "Violation" in line] == []


def test_the_portal_has_no_right_to_change_a_stream() -> None:
    allowed = service_permissions("portal", "tallinn")
    changing = ("CREATE", "UPDATE", "DELETE", "PURGE")
    assert not [s for s in allowed.publish if s.startswith("$JS.API.STREAM.") and
                any(f".{call}." in s for call in changing)]  # fmt: skip
    assert not [s for s in allowed.publish if s.startswith("mapnet.") and ".event." in s]
    assert allowed.subscribe == [
        "mapnet.tallinn.portal.cmd.>",
        "mapnet.tallinn.portal.query.>",
        "_INBOX.tallinn.portal.>",
        # It consumes erasures: an operator may send their dead letters back to it.
        "mapnet.tallinn.portal.replay.*",
    ]
    registry = service_permissions("registry", "tallinn")
    assert "mapnet.tallinn.registry.event.>" in registry.publish
    assert "$JS.API.STREAM.UPDATE.TALLINN_REGISTRY" in registry.publish
    assert not [s for s in registry.publish if "STREAM.UPDATE.TALLINN_SHARED" in s]


def _asked_in_code(service: str) -> set[str]:
    """The commands and queries of other services a service's own code names (what it runs
    itself; the command line and demo data go as the operator)."""
    package = ROOT / "services" / service
    operator_only = {"cli.py", "demo.py", "loader.py"}
    found: set[str] = set()
    for path in package.rglob("*.py"):
        if "tests" in path.parts or path.name in operator_only:
            continue
        tree = ast.parse(path.read_text())
        modules: dict[str, Any] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "contracts":
                for alias in node.names:
                    modules[alias.asname or alias.name] = importlib.import_module(
                        f"contracts.{alias.name}"
                    )
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                module = modules.get(node.value.id)
                op = getattr(module, node.attr, None) if module else None
                if isinstance(op, Operation) and op.kind != "event" and op.service != service:
                    found.add(f"{op.service}.{op.kind}.{op.name}")
    return found


@pytest.mark.parametrize("service", service_names())
def test_a_service_declares_exactly_what_its_code_asks(service: str) -> None:
    assert set(declared()[service].asks) == _asked_in_code(service)


def test_serve_logs_in_as_the_service_unless_the_url_carries_a_login(tmp_path: Path) -> None:
    from mapnet.runtime.credentials import service_password, service_passwords

    home = tmp_path / "home"
    service_password(home / "tallinn", create=True)
    service_passwords(home / "tallinn", ["portal"], create=True)
    settings = Settings.model_validate(
        {"MAPNET_REGIONS": "tallinn", "MAPNET_HOME": str(home), "MAPNET_NATS_PORT": 4999}
    )
    assert user_of(str(serving_as(settings, "portal").nats_url)) == "mapnet.portal"
    assert user_of(str(serving_as(settings, "all").nats_url)) == "mapnet"
    given = settings.model_copy(update={"nats_url": "nats://someone:pw@nats:4222"})
    assert serving_as(given, "portal").nats_url == "nats://someone:pw@nats:4222"


def test_no_partner_takes_the_name_of_a_mapnet_user(tmp_path: Path) -> None:
    from mapnet.ops.partners import NAME, PartnerBook, PartnerError

    with pytest.raises(PartnerError):
        PartnerBook(tmp_path).add("mapnet")
    assert not [s for s in service_names() if NAME.match(service_user(s))]


def _an_sme(name: str = "Quiet Oy") -> rg.RegisterSme:
    from tests.three_regions import an_sme

    return an_sme(name)


def _forged(region: str) -> bytes:
    return encode(sme_registered(region, "forged"))


def _compose() -> dict[str, Any]:
    import yaml

    doc: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def test_compose_gives_each_service_its_own_user() -> None:
    services = _compose()["services"]
    for name in service_names():
        url = services[name]["environment"]["NATS_URL"]
        assert url.startswith(f"nats://{service_user(name)}:${{MAPNET_SERVICE_PASSWORD_"), url
    # The server reads every password the region's configuration names.
    assert set(services["nats"]["environment"]) == set(password_vars())
