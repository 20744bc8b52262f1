"""The Dockerfile and k8s/ as they run: their daphne command lines started here with the
environment the Deployment gives a pod (readiness, Redis lines, WebSocket welcome, static
files), and the manifests' references to each other."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import websockets
import yaml

from realtime.protocols.closecodes import CloseCode
from tests.conftest import REDIS_PASSWORD
from tests.integration.test_startup import CONNECTED_LINES, assert_no_secret, startup_messages
from tests.support.servers import LISTEN_BACKLOG, PROJECT_ROOT, loopback_endpoint, pod_base_env
from tests.support.ws_client import WsClient

K8S = PROJECT_ROOT / "k8s"
SECRET_NAME = "murror-api-secret"
# What the downward API would give this pod (fieldRef paths).
POD_FIELDS = {"metadata.name": "murror-api-6f7d9c8b5-x2k8q", "metadata.namespace": "default"}
TEST_SECRET_KEY = "test-secret-key-not-for-production"
# The Node API's key in the test Secret: the pods' database has no users for Django tokens.
JWT_KEY = "the test Secret's REALTIME_JWT_KEY, 32 bytes or more"


def node_api_token(subject: str = "ops") -> str:
    return jwt.encode({"sub": subject, "exp": int(time.time()) + 60}, JWT_KEY, algorithm="HS256")


def manifests(filename: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / filename).read_text()) if doc]


def the(filename: str, kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in manifests(filename) if doc["kind"] == kind]
    return found


def deployment_container(name: str = "murror-api") -> dict[str, Any]:
    spec = the("deployment.yaml", "Deployment")["spec"]["template"]["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == name]
    return container


def dockerfile_cmd() -> list[str]:
    lines = (PROJECT_ROOT / "Dockerfile").read_text().splitlines()
    (cmd,) = [line for line in lines if line.startswith("CMD ")]
    return json.loads(cmd.removeprefix("CMD "))


def deployment_argv() -> list[str]:
    container = deployment_container()
    return [*container.get("command", dockerfile_cmd()), *container.get("args", [])]


def container_env(container: dict[str, Any], secret: dict[str, str]) -> dict[str, str]:
    """The container's env as the kubelet resolves it, with `secret` for the Secret's data."""
    env: dict[str, str] = {}
    for variable in container["env"]:
        source = variable.get("valueFrom", {})
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            assert ref["name"] == SECRET_NAME
            if ref["key"] in secret:
                env[variable["name"]] = secret[ref["key"]]
            else:
                assert ref.get("optional"), f"{ref['key']} is not in the Secret"
        elif "fieldRef" in source:
            env[variable["name"]] = POD_FIELDS[source["fieldRef"]["fieldPath"]]
        else:
            raise AssertionError(f"unexpected env source {variable}")
    return env


def on_loopback(argv: list[str]) -> Callable[[int], list[str]]:
    """The one substitution: the endpoint's port 8000 on 0.0.0.0 becomes the test pod's free
    port on 127.0.0.1, so that tests never listen on every interface nor clash on a fixed port;
    the rest of the endpoint (its backlog) stays as shipped."""
    endpoint = argv.index("-e") + 1
    shipped = f"tcp:port=8000:interface=0.0.0.0:backlog={LISTEN_BACKLOG}"
    assert argv[endpoint] == shipped

    def argv_for(port: int) -> list[str]:
        rewritten = list(argv)
        rewritten[endpoint] = loopback_endpoint(port)
        return rewritten

    return argv_for


def listen_backlog(port: int) -> int:
    """The accept queue's length of the socket listening on `port`, as the kernel has it."""
    (line,) = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return int(line.split()[2])  # State Recv-Q Send-Q: for a listener, Send-Q is the backlog


def manifest_env(redis_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The Deployment's env with a test Secret: its DATABASE_URL, which the pods share in a
    cluster, a SQLite file in the test's directory here (test_shared_database.py runs pods on
    one PostgreSQL)."""
    secret = {
        "REDIS_URL": redis_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "REALTIME_JWT_KEY": JWT_KEY,
        "DATABASE_URL": f"sqlite:///{workdir / 'shared.sqlite3'}",
    }
    env = container_env(deployment_container(), secret)
    # The image puts its virtualenv first on PATH: here, the one running the tests.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**env, "PATH": path, **extra}


@pytest.mark.parametrize("source", ["Dockerfile CMD", "Deployment command"])
async def test_the_shipped_command_serves_with_the_manifest_env(
    source, tmp_path, pod_factory, redis_with_password
) -> None:
    argv = dockerfile_cmd() if source == "Dockerfile CMD" else deployment_argv()
    assert argv[0] == "daphne" and argv[-1] == "murror.asgi:application"
    env = manifest_env(redis_with_password.url(db=0), tmp_path)
    assert env["POD_NAME"] == POD_FIELDS["metadata.name"]
    assert env["REDIS_REQUIRED"] == "true"
    pod = pod_factory(env, argv=on_loopback(argv)).wait_listening()
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert listen_backlog(pod.port) == min(LISTEN_BACKLOG, somaxconn)
    assert pod.http_get("/readyz") == (200, json.dumps({"status": "ok", "layer": "redis"}))
    masked = f"Connecting to Redis: redis://***@127.0.0.1:{redis_with_password.port}/0"
    assert startup_messages(pod.log()) == [masked, *CONNECTED_LINES]
    assert_no_secret(pod.log(), REDIS_PASSWORD)
    # Closed by default: an anonymous client is refused, one with a token is welcomed.
    async with websockets.connect(pod.ws_url, open_timeout=10) as anonymous:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(anonymous.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.UNAUTHORIZED
    token = node_api_token()
    client = await WsClient.connect(f"{pod.ws_url}?token={token}")
    assert (client.welcome["pod"], client.welcome["layer"]) == (env["POD_NAME"], "redis")
    assert client.welcome["user"] == "ops"
    await client.close()


@pytest.mark.parametrize("source", ["Dockerfile CMD", "Deployment command"])
async def test_daphne_takes_messages_just_above_the_apps_frame_limit(
    source, tmp_path, pod_factory, redis_with_password
) -> None:
    argv = dockerfile_cmd() if source == "Dockerfile CMD" else deployment_argv()
    daphne_limit = int(argv[argv.index("--websocket-max-message-size") + 1])
    app_limit = 65536  # REALTIME_MAX_FRAME_BYTES's default, which the manifest keeps
    assert app_limit < daphne_limit <= app_limit + 8192
    env = manifest_env(redis_with_password.url(db=0), tmp_path)
    pod = pod_factory(env, argv=on_loopback(argv)).wait_listening()
    token = node_api_token()
    client = await WsClient.connect(f"{pod.ws_url}?token={token}")

    def ping_of(size: int) -> str:
        frame = '{"type":"ping","pad":""}'
        return frame.replace('""', '"' + "x" * (size - len(frame)) + '"')

    await client.connection.send(ping_of(app_limit + 1))
    assert (await client.receive())["code"] == "too_large"  # the app's answer; still open
    assert (await client.request({"type": "ping"}))["type"] == "pong"
    await client.connection.send(ping_of(daphne_limit + 1))
    # autobahn fails such a connection by dropping it: no close frame, the client sees 1006.
    with pytest.raises(websockets.ConnectionClosedError) as closed:
        await client.receive()
    assert closed.value.rcvd is None


def test_admin_static_files_are_served_without_debug(
    tmp_path, pod_factory, redis_with_password
) -> None:
    static_root = tmp_path / "static"
    env = manifest_env(redis_with_password.url(), tmp_path, STATIC_ROOT=str(static_root))
    collect = [sys.executable, "manage.py", "collectstatic", "--noinput"]
    collect_env = pod_base_env(tmp_path, "collectstatic") | env
    subprocess.run(collect, cwd=PROJECT_ROOT, env=collect_env, check=True, capture_output=True)
    pod = pod_factory(env, argv=on_loopback(deployment_argv())).wait_listening()
    assert "DEBUG" not in pod.env
    url = f"http://127.0.0.1:{pod.port}/static/admin/css/base.css"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/css")
        assert response.read() == (static_root / "admin/css/base.css").read_bytes()
    gzipped = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(gzipped, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
    # A miss goes on to Django, which checks the Host header against ALLOWED_HOSTS.
    missing = "/static/admin/css/no-such-file.css"
    assert pod.http_get(missing, host=env["ALLOWED_HOSTS"])[0] == 404


def test_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    (kustomization,) = manifests("kustomization.yaml")
    on_disk = {path.name for path in K8S.glob("*.yaml")}
    applied_by_hand = {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == on_disk - applied_by_hand
    images = {image["name"] for image in kustomization["images"]}
    spec = the("deployment.yaml", "Deployment")["spec"]["template"]["spec"]
    assert {c["image"] for c in spec["containers"] + spec["initContainers"]} == images


def test_manifests_refer_to_each_other() -> None:
    deployment = the("deployment.yaml", "Deployment")
    app = {"app": "murror-api"}
    assert deployment["spec"]["selector"]["matchLabels"] == app
    assert deployment["spec"]["template"]["metadata"]["labels"] == app
    service = the("service.yaml", "Service")
    assert service["spec"]["selector"] == app
    assert the("pdb.yaml", "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == app
    target = the("hpa.yaml", "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    for filename in ("ingress.yaml", "ingress-socketio.yaml"):
        (rule,) = the(filename, "Ingress")["spec"]["rules"]
        for backend_path in rule["http"]["paths"]:
            backend = backend_path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    container_ports = {p["name"]: p["containerPort"] for p in deployment_container()["ports"]}
    assert container_ports == {"http": 8000}
    assert {port["targetPort"] for port in service["spec"]["ports"]} == {"http"}


def test_the_ingress_publishes_only_the_public_paths() -> None:
    (rule,) = the("ingress.yaml", "Ingress")["spec"]["rules"]
    routed = {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}
    assert routed == {
        ("/ws/", "Prefix"),
        ("/realtime/token", "Exact"),
        ("/client/murror.js", "Exact"),
        ("/admin/", "Prefix"),
        ("/static/", "Prefix"),
    }
    for internal in ("/healthz", "/readyz", "/metrics", "/"):
        assert not any(internal == p or (t == "Prefix" and internal.startswith(p))
                       for p, t in routed), internal  # fmt: skip


def test_the_autoscaler_alone_sets_the_number_of_pods() -> None:
    assert "replicas" not in the("deployment.yaml", "Deployment")["spec"]
    hpa = the("hpa.yaml", "HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] >= 2


def test_the_deployment_is_closed_by_default() -> None:
    secret = {"REDIS_URL": "x", "SECRET_KEY": "x", "DATABASE_URL": "x"}
    env = container_env(deployment_container(), secret)
    assert env["REALTIME_REQUIRE_AUTH"] == "true"


def test_the_network_policy_lets_in_the_ingress_and_the_scraper_and_out_redis_and_dns() -> None:
    policy = the("networkpolicy.yaml", "NetworkPolicy")["spec"]
    deployment = the("deployment.yaml", "Deployment")
    assert (
        policy["podSelector"]["matchLabels"] == deployment["spec"]["template"]["metadata"]["labels"]
    )
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    (allowed_in,) = policy["ingress"]
    namespaces = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for peer in allowed_in["from"]}  # fmt: skip
    assert namespaces == {"ingress-nginx", "monitoring"}
    container_port = deployment_container()["ports"][0]["containerPort"]
    assert [p["port"] for p in allowed_in["ports"]] == [container_port]
    out = {(p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]}
    assert {(53, "UDP"), (53, "TCP"), (6379, "TCP"), (6380, "TCP"), (5432, "TCP")} <= out
    example_redis = the("secret.example.yaml", "Secret")["stringData"]["REDIS_URL"]
    assert (int(example_redis.rsplit(":", 1)[1].split("/")[0]), "TCP") in out


def test_the_pods_are_announced_to_a_prometheus_scraper() -> None:
    template = the("deployment.yaml", "Deployment")["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    container_port = deployment_container()["ports"][0]["containerPort"]
    assert annotations == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(container_port),
        "prometheus.io/path": "/metrics",
    }


def test_socketio_is_routed_with_affinity_and_long_timeouts() -> None:
    """Polling needs every request of a session on its pod: a hash of the client address (no
    cookie), and timeouts far above pingInterval + pingTimeout."""
    ingress = the("ingress-socketio.yaml", "Ingress")
    (rule,) = ingress["spec"]["rules"]
    (route,) = rule["http"]["paths"]
    assert (route["path"], route["pathType"]) == ("/socket.io/", "Prefix")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$binary_remote_addr"
    assert "affinity" not in " ".join(annotations)  # no cookie affinity
    ping_interval, ping_timeout = 25, 20
    for direction in ("read", "send"):
        timeout = int(annotations[f"nginx.ingress.kubernetes.io/proxy-{direction}-timeout"])
        assert timeout > ping_interval + ping_timeout
    main = the("ingress.yaml", "Ingress")["spec"]["rules"][0]
    assert main["host"] == rule["host"]


def test_every_secret_key_used_is_in_the_example_secret() -> None:
    example = the("secret.example.yaml", "Secret")
    assert example["metadata"]["name"] == SECRET_NAME
    spec = the("deployment.yaml", "Deployment")["spec"]["template"]["spec"]
    for container in spec["containers"] + spec["initContainers"]:
        env = container_env(container, example["stringData"])
        assert "SECRET_KEY" in env
        # Every pod on one database: sessions and admin users (test_shared_database.py).
        assert env["DATABASE_URL"].startswith("postgres://")


def test_pods_run_as_the_images_user() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    pod_security = the("deployment.yaml", "Deployment")["spec"]["template"]["spec"]
    user = pod_security["securityContext"]["runAsUser"]
    assert f"USER {user}:" in dockerfile
    assert pod_security["securityContext"]["runAsNonRoot"] is True
