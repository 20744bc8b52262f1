"""Shared fixtures: real redis-server and daphne processes, stopped whatever the test did."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from channels.layers import get_channel_layer

from realtime.pod.lifecycle import pod_stop
from tests.support.servers import DaphnePod, RedisServer, TlsFiles, tls_files_make

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


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return tls_files_make(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def redis_with_tls(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[RedisServer]:
    """Only a TLS port, with a certificate from tls_files.ca, and a password."""
    workdir = tmp_path_factory.mktemp("redis-tls")
    server = RedisServer(workdir, password=REDIS_PASSWORD, tls=tls_files).start()
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

    def start(
        env: dict[str, str] | None = None,
        name: str | None = None,
        argv: Callable[[int], list[str]] | None = None,
    ) -> DaphnePod:
        """`argv`, when given, makes the command line from the pod's free port."""
        pod = DaphnePod(tmp_path, env or {}, name=name or f"pod-{len(pods) + 1}")
        pod.start(argv(pod.port) if argv else None)
        pods.append(pod)
        return pod

    yield start
    for pod in pods:
        pod.stop()


@pytest.fixture
async def in_process_pod() -> AsyncIterator[None]:
    """For tests of murror.asgi in this process: each test's event loop gets a fresh pod,
    stopped afterwards, and the in-memory layer is emptied."""
    yield
    await pod_stop()
    await get_channel_layer().flush()


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


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium for end-to-end tests; use it from sync (not async) tests.

    Module scope, not session: while Playwright's sync API is open its event loop counts as
    running in the main thread, and every async test after it fails with "Runner.run() cannot
    be called from a running event loop"."""
    from tests.support.browser import chromium

    with chromium() as instance:
        yield instance
