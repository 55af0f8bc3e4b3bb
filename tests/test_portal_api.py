"""The partners' HTTP API on real servers: the key is the partner's own login (the NATS server
checks it and stamps who sends), only what partners may do is there, errors are the bus's typed
body, and an Idempotency-Key repeat gets the first answer."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mapnet.runner import Assembly
from mapnet.runtime.credentials import without_login
from tests.fixtures import Servers
from tests.helpers import eventually
from tests.test_portal import portal_url

pytestmark = pytest.mark.usefixtures("region_app")


@pytest.fixture
async def api(
    region_app: Assembly, servers: Servers, region: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    book = servers.partner_book()
    added = book.add("park" + secrets.token_hex(3))
    assert book.reload_server()
    async with httpx.AsyncClient(base_url=f"{portal_url(region_app, region)}/api/v1") as http:
        yield http, f"{added.user}:{added.password}"
    book.remove(added.user)
    book.reload_server()


def entry(partner: str, **extra: Any) -> dict[str, Any]:
    return {"partner_id": partner, "external_id": str(uuid.uuid4()), "kind": "conference",
            "title": "Photonics Days", "starts_at": "2027-05-04T09:00:00",
            "ends_at": "2027-05-04T17:00:00", "timezone": "Europe/Tallinn", "country": "EE",
            **extra}  # fmt: skip


async def test_a_partner_publishes_over_http_with_its_own_key(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, key = api
    user = key.split(":")[0]
    auth = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
    body = entry(user)

    async def publish() -> httpx.Response:
        return await http.post("/events/publish_event", json=body, headers=auth)

    first = await eventually(publish, until=lambda r: r.status_code not in (401, 429))  # reloads
    assert first.status_code == 200, first.text
    assert first.json()["title"] == "Photonics Days" and first.json()["version"] == 1
    again = await publish()  # the same key again: the first answer
    assert again.json() == first.json()
    reused = await http.post("/events/publish_event", json=entry(user, title="Other Days"),
                             headers=auth)  # fmt: skip
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "id_reused"
    # As on the bus: a partner publishes only under its own partner id.
    other = await http.post("/events/publish_event", json=entry("someone-else"),
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert other.status_code == 403 and other.json()["error"]["code"] == "forbidden"
    bad = await http.post("/events/publish_event", json=entry(user, country="XX", title=""),
                          headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["details"]["fields"]} == {
        "data.country", "data.title"}  # fmt: skip


async def test_a_wrong_key_and_what_partners_may_not_do_are_refused(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, key = api
    user = key.split(":")[0]
    # Until the server has read the new partner, every key of it is refused: the wrong one is
    # shown refused only once the right one works.
    works = await eventually(
        lambda: http.post("/events/get_event", json={"event_id": "none"},
                          headers={"Authorization": f"Bearer {key}"}),
        until=lambda r: r.status_code not in (401, 429),
    )  # fmt: skip
    assert works.status_code == 404 and works.json()["error"]["code"] == "not_found"
    # Well formed (a malformed key is refused before the server is asked), the server says no.
    guessed = {"Authorization": f"Bearer {user}:{'w' * 32}"}
    wrong = await http.post("/events/publish_event", json=entry(user), headers=guessed)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "forbidden"
    assert wrong.headers["WWW-Authenticate"].startswith('Bearer realm="mapnet-partner-api"')
    missing = await http.post("/events/publish_event", json=entry(user))
    assert missing.status_code == 401 and "Bearer" in missing.headers["WWW-Authenticate"]
    # register_sme is not for partners: not in the API at all.
    assert (await http.post("/registry/register_sme", json={})).status_code == 404
    spec = (await http.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert (
        "/events/publish_event" in spec["paths"] and "/registry/register_sme" not in spec["paths"]
    )


async def test_schemathesis_finds_no_server_error_in_the_api(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    """Generated requests of every shape the OpenAPI document allows (and some it does not):
    a typed answer each time, never a 5xx."""
    http, key = api
    await eventually(lambda: http.post("/events/get_event", json={"event_id": "x"},
                                       headers={"Authorization": f"Bearer {key}"}),
                     until=lambda r: r.status_code not in (401, 429))  # fmt: skip
    spec = f"{http.base_url}openapi.json"
    done = await asyncio.to_thread(
        subprocess.run,
        [str(Path(sys.executable).parent / "st"), "run", spec, "--checks", "not_a_server_error",
         "-H", f"Authorization: Bearer {key}", "--max-examples", "15", "--phases",
         "examples,coverage,fuzzing", "--no-color"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


async def test_a_key_cannot_name_the_server_the_portal_connects_to(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    """`Bearer a:x@host:port/` once made the portal connect where the caller said: only the
    characters `partner add` makes are a key, and the region's server is the only one."""
    http, key = api
    knocked: list[int] = []  # the port each connection to the trap came from

    async def knock(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        knocked.append(writer.get_extra_info("peername")[1])
        writer.close()

    trap = await asyncio.start_server(knock, "127.0.0.1", 0)
    port = trap.sockets[0].getsockname()[1]
    answers = []
    try:
        for bad in (f"a:x@127.0.0.1:{port}/", f"a:{'x' * 32}@127.0.0.1:{port}",
                    f"{key}@127.0.0.1:{port}", f"Park:{'x' * 32}", f"a:{'x' * 31}?"):  # fmt: skip
            answers.append(await http.post("/events/get_event", json={"event_id": "x"},
                                           headers={"Authorization": f"Bearer {bad}"}))  # fmt: skip
        # The control: a connection of our own to the trap, made after the answers, is taken
        # after any the portal made while answering (one at a time, in the order they came);
        # only it came.
        _, control = await asyncio.open_connection("127.0.0.1", port)
        ours = control.get_extra_info("sockname")[1]
        await eventually(lambda: asyncio.sleep(0, knocked), until=lambda got: ours in got)
        control.close()
        assert knocked == [ours]
        for answer in answers:
            assert answer.status_code == 401, answer.text
            assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    finally:
        trap.close()


async def test_wrong_keys_from_an_address_wait_longer_each_time(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, key = api
    user = key.split(":")[0]
    body = {"event_id": "x"}

    async def ask(with_key: str) -> httpx.Response:
        return await http.post("/events/get_event", json=body,
                               headers={"Authorization": f"Bearer {with_key}"})  # fmt: skip

    await eventually(lambda: ask(key), until=lambda r: r.status_code not in (401, 429))
    wrong = f"{user}:{'w' * 32}"  # well formed, so the NATS server is asked
    assert (await ask(wrong)).status_code == 401
    paused = await ask(wrong)
    assert paused.status_code == 429 and paused.headers["Retry-After"] == "1"
    assert (await ask(key)).status_code == 404  # a working key's connection is not held up
    await asyncio.sleep(1.1)
    assert (await ask(wrong)).status_code == 401
    assert (await ask(wrong)).headers["Retry-After"] == "2"  # twice as long


async def test_the_api_keeps_a_bounded_number_of_connections(servers: Servers) -> None:
    from services.portal.entrypoints.api import PartnerLinks

    book = servers.partner_book()
    added = [book.add("cap" + secrets.token_hex(3)) for _ in range(3)]
    assert book.reload_server()
    links = PartnerLinks(without_login(servers.nats_url), "tallinn", max_links=2)
    try:
        first = await eventually(lambda: _link(links, added[0]), until=lambda nc: nc is not None)
        for partner in added[1:]:
            await eventually(lambda p=partner: _link(links, p), until=lambda nc: nc is not None)  # type: ignore[misc]
        assert len(links.links) == 2 and first.is_closed  # the least recently used went
    finally:
        await links.close()
        for partner in added:
            book.remove(partner.user)
        book.reload_server()


async def _link(links: Any, partner: Any) -> Any:
    from services.portal.entrypoints.api import Throttled, Unauthenticated

    try:
        return await links.link(f"{partner.user}:{partner.password}", "test")
    except (Unauthenticated, Throttled):  # the server has not read the new partners yet
        links.wrong.succeeded("test")
        return None
