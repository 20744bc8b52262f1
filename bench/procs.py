"""The processes a benchmark run starts besides daphne pods and redis-server (tests/servers.py),
and what /proc says about any of them: CPU seconds and resident memory."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

from tests.support.servers import PROJECT_ROOT, free_port, wait_for
from tests.support.servers import npm_ci as npm_ci_in

BENCH = PROJECT_ROOT / "bench"
REFERENCE = BENCH / "reference"
_TICKS = os.sysconf("SC_CLK_TCK")


def nofile_raise(wanted: int = 65536) -> int:
    """Raise this process's open-file limit (inherited by every child) as far as allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (max(wanted, hard), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, limit), max(hard, limit)))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """utime + stime of a process (all its threads), or of one of its threads."""
    stat = Path(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def npm_ci() -> None:
    """Install bench/reference's pinned packages, unless package-lock.json did not change."""
    npm_ci_in(REFERENCE)


class NodeServer:
    """`node <script>` on a free loopback port: a reference pod, or the echo server."""

    def __init__(self, workdir: Path, script: str, name: str, env: dict[str, str] | None = None):
        self.name = name
        self.port = free_port()
        self.script = script
        self.env = {**os.environ, **(env or {}), "PORT": str(self.port)}
        self.log_path = workdir / f"{name}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> NodeServer:
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            ["node", self.script], cwd=REFERENCE, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def wait_listening(self, timeout: float = 30) -> NodeServer:
        def listening_or_exited() -> bool:
            return "Listening on" in self.log_path.read_text() or self.process.poll() is not None

        wait_for(listening_or_exited, timeout, f"{self.name} to listen")
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited early:\n{self.log_path.read_text()}")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
