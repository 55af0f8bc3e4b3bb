"""deploy/k8s/ as a cluster would take it: every manifest valid against the Kubernetes schemas
(kubernetes-validate), each container's command one the `mapnet` CLI has, probes and ports
where the services serve them, autoscaling on consumers the services really keep, and the NATS
chart's values including accounts a real nats-server accepts (issue 32 item 3)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import typer.main
import yaml

from mapnet.ops.cli import SERVICE_CHOICES
from mapnet.ops.cli import app as mapnet_cli
from mapnet.ops.servers import executable
from mapnet.runtime.access import SERVICES_ACCOUNT
from mapnet.runtime.credentials import service_user
from mapnet.runtime.declaration import service_names
from mapnet.runtime.needs import needs

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
NATS = ROOT / "deploy" / "nats"
KUBERNETES = "1.30"  # the oldest release still supported when this was written
MANIFESTS = ("mapnet.yaml", "mongo.yaml", "autoscaling.yaml", "network-policy.yaml")


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for name in MANIFESTS for d in documents(name) if d["kind"] == kind]


def region_config() -> dict[str, str]:
    [config] = [d for d in of_kind("ConfigMap") if d["metadata"]["name"] == "mapnet-region"]
    return dict(config["data"])


def test_every_manifest_is_valid_for_kubernetes() -> None:
    checked = 0
    for name in MANIFESTS:
        for doc in documents(name):
            if doc["apiVersion"].startswith("keda.sh/"):
                continue  # KEDA's own resource: checked below against what it needs
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
            checked += 1
    assert checked >= len(service_names()) + 5


def test_a_deployment_per_service_runs_a_command_the_cli_has() -> None:
    commands = typer.main.get_command(mapnet_cli).commands  # type: ignore[attr-defined]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["mapnet"]' in dockerfile  # the args below follow the `mapnet` command
    deployed = {}
    for deployment in of_kind("Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        command, service = container["args"]
        assert command in commands and service in SERVICE_CHOICES, container["args"]
        deployed[service] = container
    assert sorted(deployed) == sorted(service_names())
    for service, container in deployed.items():
        env = {e["name"]: e for e in container["env"]}
        # Each logs in as its own user (deploy/nats/accounts.conf), its password a Secret's.
        login = urlsplit(env["NATS_URL"]["value"])
        assert login.username == service_user(service)
        assert login.password == "$(MAPNET_SERVICE_PASSWORD)"  # expanded by Kubernetes
        secret = env["MAPNET_SERVICE_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": "mapnet-nats-passwords", "key": service}
        assert container["resources"]["requests"]["cpu"]
        assert container["resources"]["requests"]["memory"]


def test_probes_ask_the_health_port_the_services_serve() -> None:
    config = region_config()
    assert config["MAPNET_METRICS_HOST"] == "0.0.0.0"  # the kubelet asks from outside the pod
    for deployment in of_kind("Deployment"):
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == int(config["MAPNET_METRICS_PORT"])
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                            ("startupProbe", "/healthz")):  # fmt: skip
            assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}


def test_the_services_reach_the_replica_set_the_statefulset_makes() -> None:
    [mongo] = of_kind("StatefulSet")
    args = mongo["spec"]["template"]["spec"]["containers"][0]["args"]
    replica_set = args[args.index("--replSet") + 1]
    url = urlsplit(region_config()["MONGO_URL"])
    members = [f"mongo-{n}.mongo" for n in range(mongo["spec"]["replicas"])]
    assert url.netloc.split(",") == members and f"replicaSet={replica_set}" in url.query
    assert mongo["spec"]["replicas"] == 3


def test_autoscaling_targets_deployments_and_consumers_that_exist() -> None:
    region = region_config()["MAPNET_REGIONS"]
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    for hpa in of_kind("HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    [scaled] = of_kind("ScaledObject")
    target = deployments[scaled["spec"]["scaleTargetRef"]["name"]]
    service = target["spec"]["template"]["spec"]["containers"][0]["args"][1]
    kept = {(c.stream(region), c.durable) for c in needs(service).consumed}
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["type"] == "nats-jetstream"
        meta = trigger["metadata"]
        assert (meta["stream"], meta["consumer"]) in kept, meta
        assert meta["account"] == SERVICES_ACCOUNT
        assert int(meta["lagThreshold"]) > 0


def nats_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    return values


def test_the_nats_chart_runs_a_cluster_with_jetstream_in_the_regions_domain() -> None:
    config = nats_values()["config"]
    assert config["cluster"]["enabled"] and config["cluster"]["replicas"] == 3
    jetstream = config["jetstream"]
    assert jetstream["enabled"] and jetstream["fileStore"]["pvc"]["enabled"]
    assert jetstream["merge"]["domain"] == region_config()["MAPNET_REGIONS"]
    # The services keep each stream on every server of the cluster.
    assert int(region_config()["MAPNET_STREAM_REPLICAS"]) == config["cluster"]["replicas"]
    # The included accounts are where the ConfigMap is mounted, and generated.
    included = config["merge"]["00$include"]
    [mount] = [p["value"] for p in nats_values()["container"]["patch"]]
    assert included == f"{Path(mount['mountPath']).name}/accounts.conf"
    assert mount["mountPath"] == "/etc/nats-config/mapnet"
    [volume] = [p["value"] for p in nats_values()["podTemplate"]["patch"]]
    assert volume["name"] == mount["name"]
    assert f"configmap {volume['configMap']['name']}" in (K8S / "nats-values.yaml").read_text()
    # Every password the accounts read from the environment is given to the servers.
    wanted = set(
        re.findall(r"\$(MAPNET_SERVICE_PASSWORD\w*)", (NATS / "accounts.conf").read_text())
    )
    given = set(nats_values()["container"]["env"])
    assert wanted and wanted <= given, wanted - given


def container_env(secret_value: str) -> dict[str, str]:
    """The NATS container's environment as Kubernetes gives it: each Secret's value, and
    $(VAR) in a value replaced by a variable defined before it (the chart writes them in the
    order of their names); a reference to one defined later stays as it is."""
    env: dict[str, str] = {}
    for name, value in sorted(nats_values()["container"]["env"].items()):
        if isinstance(value, dict):
            env[name] = secret_value
        else:
            env[name] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), value)
    return env


def chart_config(values: Any) -> str:
    """A values block as the chart writes it into nats.conf: JSON, with << $VAR >> left bare
    for nats-server to read from the environment."""
    return re.sub(r'"<<\s+(.*?)\s+>>"', r"\1", json.dumps(values))


def test_the_cluster_takes_routes_only_from_its_servers_with_the_secret_password() -> None:
    """A route is a peer inside MAPnet's account with no user and no permissions: the chart's
    servers take one only from each other, logging in with the Secret's password."""
    cluster = nats_values()["config"]["cluster"]
    assert cluster["merge"]["authorization"] == {
        "user": "route", "password": "<< $MAPNET_CLUSTER_PASSWORD >>"
    }  # fmt: skip
    assert nats_values()["container"]["env"]["MAPNET_CLUSTER_PASSWORD"] == {
        "valueFrom": {"secretKeyRef": {"name": "mapnet-nats-passwords", "key": "cluster"}}
    }
    assert cluster["merge"]["routes"] == "<< $MAPNET_CLUSTER_ROUTES >>"
    routes = container_env("pwsecret")["MAPNET_CLUSTER_ROUTES"].strip("[]").split(",")
    # One per server of the release `nats` (pods nats-<n> behind its service nats-headless),
    # each with the login, whatever the chart's own routes would have been.
    assert [r.strip() for r in routes] == [
        f"nats://route:pwsecret@nats-{n}.nats-headless:6222" for n in range(cluster["replicas"])
    ]


def test_nats_server_accepts_the_accounts_the_chart_includes(tmp_path: Path) -> None:
    """The chart's own settings and our include, as nats-server reads them (-t: check the
    configuration and stop), with the cluster's route login."""
    mounted = tmp_path / "mapnet"
    mounted.mkdir()
    needed = re.findall(r'include "([^"]+)"', (NATS / "accounts.conf").read_text())
    for name in ["accounts.conf", *needed]:
        shutil.copy(NATS / name, mounted / name)
    # The chart's cluster block, its routes replaced by ours (the values' merge).
    chart_cluster = {"name": "nats", "port": 6222, "no_advertise": True,
                     "routes": ["nats://nats-0.nats-headless:6222"]}  # fmt: skip
    cluster = chart_cluster | nats_values()["config"]["cluster"]["merge"]
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f'listen: 127.0.0.1:-1\njetstream {{ store_dir: "{tmp_path / "js"}", domain: tallinn }}\n'
        f"include {nats_values()['config']['merge']['00$include']}\n"
        f"server_name: nats-0\ncluster: {chart_config(cluster)}\n"
    )
    env = {**os.environ, **container_env("pwsecret")}
    checked = subprocess.run(
        [executable("nats-server"), "-c", str(conf), "-t"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("name", MANIFESTS)
def test_the_readme_names_each_manifest(name: str) -> None:
    assert f"deploy/k8s/{name}" in (ROOT / "README.md").read_text()


def test_the_network_policies_let_mapnet_and_only_it_reach_mongodb() -> None:
    """MongoDB's policy admits pods labelled part of MAPnet: every service's pods and the
    replica set's start-up Job carry the label (a pod without it could not reach its database
    once the policy is applied)."""
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind("NetworkPolicy")}
    mongo = policies["mongo-from-mapnet-only"]
    admitted = mongo["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert mongo["ingress"][0]["ports"] == [{"port": 27017}]
    [members] = of_kind("StatefulSet")
    assert (
        mongo["podSelector"]["matchLabels"].items()
        <= members["spec"]["template"]["metadata"]["labels"].items()
    )
    pods = [d["spec"]["template"] for d in of_kind("Deployment") + of_kind("Job")]
    assert pods and all(admitted.items() <= t["metadata"]["labels"].items() for t in pods)
    nats = policies["nats-routes-and-monitoring-closed"]
    routes = [rule for rule in nats["ingress"] if {"port": 6222} in rule["ports"]]
    assert [rule["from"] for rule in routes] == [
        [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nats"}}}]
    ]
