"""TLS as the README turns it on: `mapnet up` with MAPNET_TLS_CERT / MAPNET_TLS_KEY /
MAPNET_TLS_CA serves NATS to clients, the hub's leaf links and the portal only over TLS, and
everything of MAPnet still works through it (the links up, the copies flowing, the portal
answering); a client that does not trust the authority gets nowhere."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import nats
import nats.errors
import pytest

from mapnet.federation.accounts import password_vars
from mapnet.federation.config import (
    CLUSTER_PASSWORD_VAR,
    CLUSTER_ROUTES_VAR,
    SERVER_NAME_VAR,
    HubLogin,
    load_regions,
    new_password,
    password_var,
    route_urls,
)
from mapnet.ops.servers import executable
from tests.test_embedded import BIN, as_user, pid_alive, port_blocks, until_running, user_env


def make_certificates(folder: Path) -> dict[str, Path]:
    """A throwaway authority and a certificate it signed for 127.0.0.1 and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {n: folder / f for n, f in
             {"ca": "ca.pem", "ca_key": "ca-key.pem", "cert": "server.pem",
              "key": "server-key.pem", "csr": "server.csr", "ext": "san.ext"}.items()}  # fmt: skip
    files["ext"].write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl = ["openssl"]
    for command in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", files["ca_key"], "-out",
         files["ca"], "-days", "2", "-subj", "/CN=MAPnet test authority"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", files["key"], "-out", files["csr"],
         "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", files["csr"], "-CA", files["ca"], "-CAkey", files["ca_key"],
         "-CAcreateserial", "-out", files["cert"], "-days", "2", "-extfile", files["ext"]],
    ):  # fmt: skip
        subprocess.run(openssl + [str(c) for c in command], check=True, capture_output=True)
    return files


def server_info(port: int) -> dict[str, object]:
    """What a NATS port says before any handshake (its INFO line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        line = sock.makefile("rb").readline().decode()
    assert line.startswith("INFO "), line
    info: dict[str, object] = json.loads(line[5:])
    return info


@pytest.mark.timeout(300)
async def test_up_with_tls_encrypts_clients_leaf_links_and_the_portal(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "tls")
    nats_base, mongo_base, smtp_base, http_base, hub, leaf = port_blocks(6, 2)
    env = user_env(
        tmp_path / "home", nats_port=nats_base, mongo_port=mongo_base, smtp_port=smtp_base,
        http_port=http_base, hub_port=hub, hub_leaf_port=leaf,
    )  # fmt: skip
    env |= {
        "MAPNET_TLS_CERT": str(certs["cert"]),
        "MAPNET_TLS_KEY": str(certs["key"]),
        "MAPNET_TLS_CA": str(certs["ca"]),
        "SSL_CERT_FILE": str(certs["ca"]),  # as the README says: clients trust the authority
    }
    proc = as_user(["mapnet", "up", "--regions", "tallinn,helsinki"], env)
    pids: list[int] = []
    try:
        await asyncio.to_thread(until_running, proc)
        state = json.loads((tmp_path / "home" / "up.json").read_text())
        pids = [pid for region in state["regions"] for pid in region["pids"].values()]
        status = await asyncio.to_thread(
            lambda: subprocess.run(
                [BIN / "mapnet", "status", "--json"], env=env, capture_output=True, text=True
            )
        )
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert doc["hub"]["leaf_links"] == {"tallinn": True, "helsinki": True}
        for region in doc["regions"]:
            assert all(s["status"] == "ok" for s in region["services"].values()), region
            assert [r["state"] for r in region["replication"].values()] == ["copying"], region
            assert region["http_url"].startswith("https://127.0.0.1:"), region
            async with httpx.AsyncClient(verify=str(certs["ca"])) as https:
                answer = await https.get(f"{region['http_url']}/healthz")
            assert answer.json() == {"status": "ok"}
        for port in (nats_base, nats_base + 1, leaf):  # clients of both regions, the hub's leaves
            assert server_info(port).get("tls_required") is True, port
        # A client that does not trust the authority is refused the handshake.
        untrusting = ssl.create_default_context(cafile=None, capath="/nonexistent")
        with pytest.raises((ssl.SSLError, nats.errors.Error, OSError)):
            await nats.connect(f"nats://127.0.0.1:{nats_base}", tls=untrusting,
                               allow_reconnect=False, max_reconnect_attempts=0)  # fmt: skip
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(verify=untrusting) as https:
                await https.get(f"https://127.0.0.1:{http_base}/healthz")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert not [pid for pid in pids if pid_alive(pid)], "processes left behind"


def test_network_config_with_tls_is_accepted_by_nats_server(tmp_path: Path) -> None:
    """`mapnet network config --tls-dir DIR`, as the README shows it, for every server."""
    folder = tmp_path / "tls"
    make_certificates(folder)
    out = tmp_path / "nats"
    made = subprocess.run(
        [BIN / "mapnet", "network", "config", "--out", out, "--tls-dir", folder],
        capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = {**os.environ, **HubLogin("tallinn", "pw", "127.0.0.1", 7422).environment()}
    env |= {password_var(r.id): new_password() for r in load_regions()}
    env |= {var: new_password() for var in password_vars()}  # mapnet's and each service's
    # A server of a region's cluster (<region>-cluster.conf): its name and its peers' routes.
    env |= {
        SERVER_NAME_VAR: "mapnet_tallinn_1",
        CLUSTER_PASSWORD_VAR: "pwroutes",
        CLUSTER_ROUTES_VAR: route_urls(["127.0.0.1:6222", "127.0.0.1:6223"], "pwroutes"),
    }
    for conf in sorted(out.glob("*.conf")):
        # Included by the others (accounts.conf by the NATS chart: tests/test_k8s.py).
        if conf.name.startswith(("partner", "finance_partner", "accounts")):
            continue
        text = conf.read_text()
        assert f'cert_file: "{folder}/server.pem"' in text, conf.name
        if conf.name not in {"hub.conf", "region.conf"}:
            assert f'ca_file: "{folder}/ca.pem"' in text, conf.name  # the links check the hub
        checked = subprocess.run(
            [executable("nats-server"), "-t", "-c", str(conf)], env=env, capture_output=True,
            text=True,
        )  # fmt: skip
        assert checked.returncode == 0, f"{conf.name}: {checked.stderr}"
