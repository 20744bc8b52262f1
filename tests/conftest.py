"""Shared fixtures: real redis-server and daphne processes, stopped whatever the test did."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import DaphnePod, RedisServer

REDIS_PASSWORD = "s3cret p@ss/word:x%"
ACL_USER, ACL_PASSWORD = "murror-app", "acl-pa55:w@rd"


@pytest.fixture(scope="session")
def redis_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis-pw"), password=REDIS_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_with_acl_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    acl = ["--user", ACL_USER, "on", f">{ACL_PASSWORD}", "~*", "&*", "+@all"]
    server = RedisServer(
        tmp_path_factory.mktemp("redis-acl"),
        password="default-user-password",
        args=acl,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Fresh redis-servers a test may kill and restart at will."""
    started: list[RedisServer] = []

    def start(**kwargs: object) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(started)}", **kwargs).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def pod_factory(tmp_path: Path) -> Iterator[Callable[..., DaphnePod]]:
    """Start daphne pods; each is stopped at the end of the test."""
    pods: list[DaphnePod] = []

    def start(env: dict[str, str] | None = None, name: str | None = None) -> DaphnePod:
        pod = DaphnePod(tmp_path, env or {}, name=name or f"pod-{len(pods) + 1}").start()
        pods.append(pod)
        return pod

    yield start
    for pod in pods:
        pod.stop()


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A TCP port that accepts connections and never answers: a Redis that times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hold() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    listener.close()


# Module scope: sync Playwright leaves its event loop running in the main thread until it stops,
# and every asyncio test after it would fail with "cannot be called from a running event loop".
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium for end-to-end tests; use it from sync (not async) tests."""
    from tests.browser import chromium

    with chromium() as instance:
        yield instance
