"""`mapnet up` as a user runs it: servers and services start, answer, stop on Ctrl-C leaving no
process behind, and a second start finds the data of the first."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import pytest
from stdnum.ee.registrikood import calc_check_digit

from contracts import events as ev
from contracts import registry as rg
from contracts.errors import Refused
from mapnet.ops.servers import free_port, logged_in_url
from mapnet.ops.status import region_health
from mapnet.runtime import mongo
from mapnet.runtime.bus import BusClient
from mapnet.runtime.codec import encode, make_envelope
from tests.helpers import connect_when_let_in, eventually
from tests.three_regions import an_entry

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # .venv/bin, where `make` installs the `mapnet` command


def user_env(home: Path, **base_ports: int) -> dict[str, str]:
    """The environment a user starts `mapnet` in: theirs, without anything MAPnet reads (the
    suite's own settings, such as the tests' portal port 0, would hide what a user meets), apart
    from the home directory and the base ports, so that the run shares no port with another."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MAPNET_") and k not in {"NATS_URL", "MONGO_URL", "SMTP_URL"}
    }
    env["MAPNET_HOME"] = str(home)
    env.update({f"MAPNET_{name.upper()}": str(port) for name, port in base_ports.items()})
    return env


def up_env(home: Path, nats_port: int, mongo_port: int) -> dict[str, str]:
    return user_env(
        home, nats_port=nats_port, mongo_port=mongo_port, smtp_port=free_port(),
        http_port=free_port(),
    )  # fmt: skip


def hears_ctrl_c() -> None:
    """For ``preexec_fn``: a suite started as a background job (bash without job control, nohup)
    hands its children SIGINT ignored, and Python keeps an ignored SIGINT, so the Ctrl-C these
    tests send would never reach ``mapnet up``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_up(home: Path, nats_port: int, mongo_port: int, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mapnet", "up", *options],
        preexec_fn=hears_ctrl_c,
        env=up_env(home, nats_port, mongo_port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, (proc.stdout.read() if proc.stdout else b"").decode()
        report = await region_health("tallinn", url)
        if report["healthy"]:
            return report
        await asyncio.sleep(0.3)
    raise AssertionError(f"region did not become healthy: {report}")


def until_running(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdout is not None
    said = []
    for line in proc.stdout:
        said.append(line.decode(errors="replace"))
        if b"MAPnet is running" in line:
            return
    raise AssertionError("mapnet up stopped before it ran:\n" + "".join(said[-30:]))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie that its parent has not reaped yet no longer runs.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def interrupt(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0].decode(errors="replace")
    if proc.returncode:
        print("\n".join(line for line in out.splitlines() if not line.startswith("{")))


@pytest.mark.timeout(240)
async def test_up_serves_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    nats_port, mongo_port = free_port(), free_port()
    proc = start_up(tmp_path, nats_port, mongo_port)
    url = logged_in_url("tallinn", nats_port, tmp_path)  # the login `mapnet up` made
    try:
        report = await wait_healthy(url, proc)
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(
                f"nats://127.0.0.1:{nats_port}", allow_reconnect=False, max_reconnect_attempts=0
            )
        await a_partner_added_by_the_cli_publishes_as_itself(tmp_path, nats_port, mongo_port)
        await a_finance_partner_publishes_an_offer_as_the_readme_shows(
            tmp_path, nats_port, mongo_port, report["http_url"]
        )
        await reports_made_as_the_readme_shows(tmp_path, nats_port, mongo_port)
        assert set(report["services"]) == {"registry", "events", "matching", "notify", "portal",
                                           "guide", "reports"}  # fmt: skip
        # The portal answers where the report says (tests run it on a free port).
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{report['http_url']}/healthz")
        assert health.json() == {"status": "ok"}
        state = json.loads((tmp_path / "up.json").read_text())
        pids = [pid for region in state["regions"] for pid in region["pids"].values()]
        assert len(pids) == 4  # NATS, nx-27017, the mailbox, the services

        # Leave data in both servers: a JetStream event and a document.
        nc = await nats.connect(url)
        await nc.jetstream().publish("mapnet.tallinn.registry.event.sme_registered", b"{}")
        await nc.close()
        db = mongo.database(
            mongo.client(f"mongodb://127.0.0.1:{mongo_port}"), "tallinn", "registry"
        )
        await db.probe.insert_one({"_id": "kept", "value": 42})
    finally:
        interrupt(proc)
    assert proc.returncode == 0
    assert not [pid for pid in pids if pid_alive(pid)], "processes left behind"
    assert not (tmp_path / "up.json").exists()

    proc = start_up(tmp_path, nats_port, mongo_port)
    try:
        await wait_healthy(url, proc)
        nc = await nats.connect(url)
        info = await nc.jetstream().stream_info("TALLINN_REGISTRY")
        await nc.close()
        assert info.state.messages == 1
        db = mongo.database(
            mongo.client(f"mongodb://127.0.0.1:{mongo_port}"), "tallinn", "registry"
        )
        assert await db.probe.find_one({"_id": "kept"}) == {"_id": "kept", "value": 42}
    finally:
        interrupt(proc)


def readme_report_commands() -> list[list[str]]:
    """The README's `mapnet report …` commands, each as its arguments after `mapnet`."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Reports and the SMEs' feedback") :]
    block = block[block.index("```sh") : block.index("```\n", block.index("```sh") + 5)]
    commands = [line.split("mapnet ", 1)[1].split() for line in block.splitlines()
                if "mapnet report" in line]  # fmt: skip
    assert len(commands) == 2, block
    return commands


async def reports_made_as_the_readme_shows(home: Path, nats_port: int, mongo_port: int) -> None:
    """The README's report commands run as a user runs them against the running region: the
    network's monitoring report as a PDF, a cluster's tables as a zip of CSV files."""
    for args in readme_report_commands():
        made = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "mapnet", *args], cwd=home,
            env=up_env(home, nats_port, mongo_port), capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr
        out = (home / args[args.index("--out") + 1]).read_bytes()
        if "pdf" in args:
            assert out.startswith(b"%PDF") and "Monitoring report: the network (" in made.stderr
        else:
            with zipfile.ZipFile(io.BytesIO(out)) as archive:
                assert "by_country.csv" in archive.namelist()


async def a_partner_added_by_the_cli_publishes_as_itself(
    home: Path, nats_port: int, mongo_port: int
) -> None:
    """As the README's partner example: `mapnet partner add acme --json`, then a plain nats-py
    client with those credentials publishes as acme and is refused as anyone else."""
    added = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mapnet", "partner", "add", "acme", "--region", "tallinn", "--json"],
        env=up_env(home, nats_port, mongo_port),
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0, added.stderr
    creds = json.loads(added.stdout)
    assert_as_the_readme_shows(creds, nats_port)
    assert creds["user"] == "acme" and creds["inbox_prefix"] == "_INBOX.acme"
    assert creds["kind"] == "general"
    nc = await connect_when_let_in(
        creds["nats_url"], user=creds["user"], password=creds["password"],
        inbox_prefix=creds["inbox_prefix"],
    )  # fmt: skip
    try:
        for partner_id, expected in (("acme", "eu.mapnet.events.publish_event.reply.v1"),
                                     ("other", "eu.mapnet.error.v1")):  # fmt: skip
            entry = an_entry(f"Entry of {partner_id}", partner_id=partner_id)
            env = make_envelope(ev.PUBLISH_EVENT, entry, region="tallinn", source="acme")
            msg = await nc.request(ev.PUBLISH_EVENT.subject("tallinn"), encode(env), timeout=5)
            reply = json.loads(msg.data)
            assert reply["type"] == expected, reply
        assert reply["data"]["error"]["code"] == "forbidden"
    finally:
        await nc.close()


def readme_partner_line(user: str) -> str:
    """The README's line of what `mapnet partner add <user> … --json` prints (its password
    elided), with the port the tests' server has instead of 4222."""
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith('# {"nats_url"') and f'"user": "{user}"' in line:
            return line.removeprefix("# ")
    raise AssertionError(f"the README shows no `mapnet partner add {user}` output")


def assert_as_the_readme_shows(creds: dict[str, Any], nats_port: int) -> None:
    """What `mapnet partner add … --json` printed is the README's line, key by key in its
    order, but for the password and the server's port."""
    shown = json.loads(readme_partner_line(creds["user"]).replace("4222", str(nats_port)))
    assert list(creds.items()) == list((shown | {"password": creds["password"]}).items())


def readme_finance_example() -> tuple[list[str], str, str]:
    """The README's finance partner example: the `mapnet partner add` arguments, the path the
    curl command posts to, and its JSON body."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## The finance link") :]
    block = block[block.index("```sh") : block.index("```\n", block.index("```sh") + 5)]
    add = next(line for line in block.splitlines() if "mapnet partner add" in line)
    path = re.search(r"http://127\.0\.0\.1:8080(/api/v1/\S+)", block)
    body = re.search(r"-d '(\{.*\})'", block)
    assert path and body, block
    return add.split("mapnet ", 1)[1].split(), path.group(1), body.group(1)


async def a_finance_partner_publishes_an_offer_as_the_readme_shows(
    home: Path, nats_port: int, mongo_port: int, http_url: str
) -> None:
    """The README's finance link example: `mapnet partner add bank --kind finance --json`
    prints what the README shows, and the curl command publishes its offer under bank's own
    name over the HTTP API."""
    args, path, body = readme_finance_example()
    added = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "mapnet", *args],
        env=up_env(home, nats_port, mongo_port), capture_output=True, text=True,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    creds = json.loads(added.stdout)
    assert_as_the_readme_shows(creds, nats_port)
    assert creds["kind"] == "finance"
    key = f"{creds['user']}:{creds['password']}"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=http_url) as http:

        async def post() -> httpx.Response:
            return await http.post(path, content=body, headers=headers)

        published = await eventually(post, until=lambda r: r.status_code not in (401, 429))
    assert published.status_code == 200, published.text
    offer = published.json()
    assert (offer["partner_id"], offer["status"], offer["version"]) == ("bank", "published", 1)


def test_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = start_up(tmp_path, port, free_port())
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert b"already in use" in out


def port_blocks(count: int, width: int) -> list[int]:
    """Bases of ``count`` disjoint blocks of ``width`` free ports: each region takes base + its
    index, so single free ports side by side (as the kernel often hands them out) collide."""
    bases: list[int] = []
    spans = _block_bases(width)
    while len(bases) < count:
        # Outside the kernel's ephemeral range: a port free now is not handed out meanwhile to
        # another test's free_port() or a client's connection (a region's portal then failed
        # to bind, one run in many, with other tests running beside it).
        base = random.choice(spans)
        if any(abs(base - other) < width for other in bases):
            continue
        if all(_free(port) for port in range(base, base + width)):
            bases.append(base)
    return bases


def _block_bases(width: int) -> range:
    """Where a block of ``width`` ports may start: the larger room outside the ephemeral range,
    below or above it (a range made to start low, 1024-60999, leaves room only above); with no
    room outside it at all (1024-65535), anywhere, as before (each port still checked free)."""
    low, high = _ephemeral_range()
    below = range(10_000, low - width, 10)
    above = range(high + 1, 65_536 - width, 10)
    roomy = [span for span in (below, above) if len(span) >= 100]
    return max(roomy, key=len) if roomy else range(20_000, 60_000, 10)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[:2]
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize(
    ("ephemeral", "outside"),
    [((32_768, 60_999), True), ((1_024, 60_999), True), ((1_024, 65_535), False)],
)
def test_port_blocks_are_taken_outside_the_ephemeral_range_where_there_is_room(
    monkeypatch: pytest.MonkeyPatch, ephemeral: tuple[int, int], outside: bool
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "_ephemeral_range", lambda: ephemeral)
    bases = port_blocks(6, 3)
    low, high = ephemeral
    assert len(set(bases)) == 6 and all(b >= 1_024 and b + 3 <= 65_536 for b in bases)
    if outside:
        assert all(b + 3 <= low or b > high for b in bases), bases


def as_user(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A command started as the README shows it, from the repository, in its own process group
    as a terminal's job is (so that Ctrl-C, ``os.killpg(pid, SIGINT)``, reaches all of it);
    ``mapnet`` is the installed command in the project's virtual environment."""
    if command[0] == "mapnet":
        command = [str(BIN / "mapnet"), *command[1:]]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, preexec_fn=_terminal_signals,
    )  # fmt: skip


def _terminal_signals() -> None:
    """Ctrl-C as a terminal's job has it: a test run started in the background (a CI runner, a
    job started with ``&``) hands its children SIGINT ignored, and then Ctrl-C reached nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def sign_in(http: httpx.AsyncClient, email: str, password: str = "mapnet-demo") -> str:
    """Sign in through the portal's form; the home page's text."""
    form = await http.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text[-300:]
    signed = await http.post(
        "/signin", data={"email": email, "password": password, "csrf": csrf.group(1), "next": "/"}
    )
    assert signed.status_code == 303, (email, signed.text[-300:])
    return (await http.get("/")).text


# The demo of a region a few months in takes a minute or two per region on a loaded machine, and
# mapnet up loads the regions one after the other.
@pytest.mark.timeout(240)
async def test_a_crashed_service_is_restarted_and_nothing_is_lost(tmp_path: Path) -> None:
    """kill -9 of the services under load: `mapnet up` starts them again after a back-off,
    keeps NATS, the database and the mailbox running, says so in `mapnet status`; every
    registration a client was told of is there, none twice."""
    nats_port, mongo_port = free_port(), free_port()
    proc = start_up(tmp_path, nats_port, mongo_port)
    url = logged_in_url("tallinn", nats_port, tmp_path)
    try:
        # Past its start (a crash while it starts is a failed start, not one to restart).
        await asyncio.to_thread(until_running, proc)
        state = json.loads((tmp_path / "up.json").read_text())
        pids = state["regions"][0]["pids"]
        client = await BusClient.connect(url, region="tallinn", timeout_s=2, role="map_admin")
        registered: list[str] = []
        under_way = asyncio.Event()

        async def register(i: int) -> None:
            number = f"1{i:06d}" + calc_check_digit(f"1{i:06d}0")
            sme = rg.RegisterSme(legal_name=f"Crash Test {i} OÜ", registration_number=number,
                                 country="EE")  # fmt: skip
            for _ in range(60):  # the same command again until the services answer
                try:
                    view = await client.call(rg.REGISTER_SME, sme, "tallinn", id=f"crash-{i}")
                except Refused as refused:
                    assert refused.code == "region_unavailable", refused
                    await asyncio.sleep(0.5)
                    continue
                registered.append(view.sme_id)
                if len(registered) == 30:
                    under_way.set()
                return
            raise AssertionError(f"registration {i} never answered")

        async def load() -> None:
            for i in range(120):
                await register(i)

        running = asyncio.create_task(load())
        await under_way.wait()
        os.kill(pids["services[tallinn]"], signal.SIGKILL)
        await running
        assert proc.poll() is None  # mapnet up still runs
        assert pid_alive(pids["nats[tallinn]"]) and pid_alive(pids["nx-27017[tallinn]"])
        assert len(set(registered)) == 120
        stored: set[str] = set()
        cursor = None
        while True:
            query = rg.SearchSmes(limit=100, cursor=cursor)
            page = await client.call(rg.SEARCH_SMES, query, "tallinn")
            stored |= {s.sme_id for s in page.items}
            if not (cursor := page.next_cursor):
                break
        assert stored == set(registered)
        await client.close()
        status = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "mapnet", "status", "--json"],
            env=up_env(tmp_path, nats_port, mongo_port), capture_output=True, text=True,
        )  # fmt: skip
        region = json.loads(status.stdout)["regions"][0]
        assert region["restarts"] == 1 and region["healthy"]
    finally:
        interrupt(proc)
    assert proc.returncode == 0
