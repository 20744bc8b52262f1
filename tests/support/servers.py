"""Real servers for tests: redis-server and daphne processes on free loopback ports."""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import redis

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# As the shipped command listens (Dockerfile): Twisted's default backlog of 50 drops the SYNs of
# a burst of connections, and clients retry them only after a second.
LISTEN_BACKLOG = 4096
T = TypeVar("T")


def loopback_endpoint(port: int) -> str:
    """daphne's endpoint (`-e`) for `port` of the loopback, with the shipped backlog."""
    return f"tcp:port={port}:interface=127.0.0.1:backlog={LISTEN_BACKLOG}"


def npm_ci(directory: Path) -> None:
    """Install a folder's pinned npm packages, unless its package-lock.json did not change."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("Node.js 20+ and npm are needed here")
    installed = directory / "node_modules" / ".package-lock.json"
    lock = directory / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=directory, check=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class TlsFiles:
    """A test CA, a server certificate it signed (for 127.0.0.1 and localhost), and an
    unrelated CA that signed nothing here."""

    ca: Path
    cert: Path
    key: Path
    other_ca: Path


def tls_files_make(directory: Path) -> TlsFiles:
    """Generate the TlsFiles with openssl; they live for one test session."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for ca in ("ca", "other-ca"):
        new_ca = f"req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN={ca} -keyout"
        _openssl(new_ca, d / f"{ca}.key", "-out", d / f"{ca}.crt")
    new_csr = "req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout"
    _openssl(new_csr, d / "server.key", "-out", d / "server.csr")
    sign = ["x509 -req -days 2 -CAcreateserial -in", d / "server.csr", "-extfile", d / "san.cnf"]
    _openssl(*sign, "-CA", d / "ca.crt", "-CAkey", d / "ca.key", "-out", d / "server.crt")
    return TlsFiles(d / "ca.crt", d / "server.crt", d / "server.key", d / "other-ca.crt")


def _openssl(*parts: str | Path) -> None:
    """Run openssl; text parts are split into words, paths stay whole."""
    words = [w for part in parts for w in (part.split() if isinstance(part, str) else [str(part)])]
    subprocess.run(["openssl", *words], check=True, capture_output=True, timeout=60)


async def async_wait_for(
    check: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> None:
    """The asyncio twin of `wait_for`: call (and await, if it is a coroutine function) `check`
    until it is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ((await check()) if inspect.iscoroutinefunction(check) else check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class RedisServer:
    """A redis-server of the test's own, with a password, ACL users or TLS as asked."""

    def __init__(
        self,
        workdir: Path,
        *,
        password: str | None = None,
        args: Sequence[str] = (),
        tls: TlsFiles | None = None,
    ):
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed: run bin/install-system-deps")
        self.workdir = workdir
        self.password = password
        self.extra_args = list(args)
        self.tls = tls
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, *, username: str = "", password: str | None = None, db: int | None = None) -> str:
        secret = quote((self.password if password is None else password) or "", safe="")
        credentials = f"{username}:{secret}@" if secret else (f"{username}@" if username else "")
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{credentials}127.0.0.1:{self.port}" + (
            f"/{db}" if db is not None else ""
        )

    def command(self) -> list[str]:
        command = ["redis-server", "--bind", "127.0.0.1"]
        if self.tls:
            # Only the TLS port listens: --port 0 turns the plain one off.
            command += ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            command += ["--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key)]
            command += ["--tls-ca-cert-file", str(self.tls.ca)]
        else:
            command += ["--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        if self.password:
            command += ["--requirepass", self.password]
        return command + self.extra_args

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / f"redis-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.answers_ping, 10, f"redis-server on port {self.port}")
        return self

    def client(self) -> redis.Redis:
        tls = {"ssl": True, "ssl_ca_certs": str(self.tls.ca)} if self.tls else {}
        return redis.Redis(
            port=self.port, password=self.password, socket_timeout=2, protocol=2, **tls
        )

    def answers_ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    restart = start


class DaphnePod:
    """One pod of the product: `daphne murror.asgi:application` in its own process."""

    def __init__(
        self, workdir: Path, env: dict[str, str], name: str = "pod", root: Path = PROJECT_ROOT
    ):
        """`root`: the checkout whose code the pod runs (the benchmark compares two)."""
        self.workdir = workdir
        self.root = root
        self.name = name
        self.port = free_port()
        self.env = {**pod_base_env(workdir, name), **env}
        self.log_path = workdir / f"{name}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, argv: Sequence[str] | None = None, module: str = "daphne") -> DaphnePod:
        """Run `argv` from the project root; by default `python -m <module>` (daphne's command
        line) serving murror.asgi:application on this pod's loopback port."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115
        daphne = [sys.executable, "-m", module, "-e", loopback_endpoint(self.port)]
        self.process = subprocess.Popen(
            argv or [*daphne, "murror.asgi:application"],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_listening(self, timeout: float = 30) -> DaphnePod:
        def listening_or_exited() -> bool:
            return "Listening on TCP address" in self.log() or self.exit_code() is not None

        wait_for(listening_or_exited, timeout, f"daphne pod {self.name} to listen")
        if self.exit_code() is not None:
            raise AssertionError(f"pod {self.name} exited early:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 10) -> str:
        return wait_for(lambda: text in self.log() and self.log(), timeout, f"{text!r} in log")

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process else None

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.process
        return self.process.wait(timeout=timeout)

    def http_get(self, path: str, host: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if host:
            request.add_header("Host", host)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def pods_serving(
    workdir: Path, env: dict[str, str], names: Sequence[str]
) -> Iterator[list[DaphnePod]]:
    """Daphne pods of those names, started together and listening; stopped on the way out."""
    pods = [DaphnePod(workdir, env, name) for name in names]
    try:
        for pod in pods:
            pod.start()
        for pod in pods:
            pod.wait_listening()
        yield pods
    finally:
        for pod in pods:
            pod.stop()


# Test pods speak plain HTTP on loopback, with no TLS proxy in front: no redirect to HTTPS, and
# cookies a client may send back over HTTP. test_production.py runs without these.
PLAIN_HTTP_ENV = {
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
}


def pod_base_env(workdir: Path, name: str) -> dict[str, str]:
    """A pod's environment: this machine's, minus anything a developer's shell or .env set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REDIS_", "REALTIME_", "DJANGO_"))
        and key not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "POD_NAME")
    }
    return env | {
        "ENV_FILE": str(workdir / "no.env"),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "POD_NAME": name,
        "PYTHONUNBUFFERED": "1",
        "REDIS_CONNECT_TIMEOUT": "2",
        **PLAIN_HTTP_ENV,
    }


def manage_py(
    workdir: Path, env: dict[str, str], *argv: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python manage.py ARGV` as an operator runs it beside the pods: their environment (the
    same SQLite file in `workdir`) plus `env`; what it printed, and its exit status."""
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=PROJECT_ROOT,
        env=pod_base_env(workdir, "manage") | env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def manage_py_ok(workdir: Path, env: dict[str, str], *argv: str) -> None:
    result = manage_py(workdir, env, *argv)
    assert result.returncode == 0, result.stderr
