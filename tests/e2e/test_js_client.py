"""The JavaScript client (realtime/static/realtime/murror.js) under Node's test runner: unit tests
on a fake socket, then real pods: pod-1 and pod-2 on one Redis, pod-1 killed on request."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.servers import PROJECT_ROOT, DaphnePod, RedisServer

NODE_MAJOR = 20  # the first with a WebSocket class (behind --experimental-websocket)
JS_TESTS = 18


def node_command() -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js >= {NODE_MAJOR} is needed for the JavaScript client's tests")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    if int(version.lstrip("v").split(".")[0]) < NODE_MAJOR:
        pytest.fail(f"Node.js >= {NODE_MAJOR} is needed, found {version.strip()}")
    return [node, "--experimental-websocket", "--test", "--test-timeout=30000"]


@contextmanager
def kill_switch(pods: dict[str, DaphnePod]) -> Iterator[str]:
    """An HTTP URL the Node tests POST to (`/kill/<pod name>`) to SIGKILL a pod."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            pod = pods.get(self.path.removeprefix("/kill/"))
            if pod:
                pod.kill()
            self.send_response(200 if pod else 404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_js_client_under_node(
    redis_factory: Callable[..., RedisServer], pod_factory: Callable[..., DaphnePod]
) -> None:
    command = node_command()
    redis = redis_factory(password="js client")
    pods = [pod_factory({"REDIS_URL": redis.url()}, f"pod-{n}") for n in (1, 2)]
    for pod in pods:
        pod.wait_listening()
    with kill_switch({pod.name: pod for pod in pods}) as control_url:
        result = subprocess.run(
            [*command, "tests/e2e/js/"],
            cwd=PROJECT_ROOT,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "MURROR_WS_URLS": ",".join(pod.ws_url for pod in pods),
                "MURROR_CONTROL_URL": control_url,
            },
            capture_output=True,
            text=True,
            timeout=90,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    summary = dict(re.findall(r"^# (tests|pass|fail|skipped) (\d+)$", report, re.MULTILINE))
    assert summary == {"tests": str(JS_TESTS), "pass": str(JS_TESTS), "fail": "0", "skipped": "0"}
    assert pods[0].exit_code() is not None, "the reconnect test killed pod-1"
