"""socket.io-client 4.8 under node, as the Node service's apps use it: one socket per process,
driven through tests/e2e/node/sio-client.mjs (a JSON command per line in, a report per line out).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

from tests.support.servers import PROJECT_ROOT, npm_ci

NODE_DIR = PROJECT_ROOT / "tests" / "e2e" / "node"
TIMEOUT = 10


class NodeSioClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.backlog: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())
        self._acks = 0

    @classmethod
    async def start(cls) -> NodeSioClient:
        npm_ci(NODE_DIR)
        node = shutil.which("node")
        assert node, "the Socket.IO tests need Node.js 20+"
        process = await asyncio.create_subprocess_exec(
            node,
            str(NODE_DIR / "sio-client.mjs"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=NODE_DIR,
        )
        return cls(process)

    async def connect(self, url: str, **options: Any) -> dict[str, Any]:
        """Connect, and return the `connect` report (its `id` is the socket id); a
        connect_error fails the test (`connect_refused` expects one)."""
        report = await self._connect_reported(url, options)
        assert report["kind"] == "connect", report
        return report

    async def connect_refused(self, url: str, **options: Any) -> str:
        """Connect expecting a connect_error; its message."""
        report = await self._connect_reported(url, options)
        assert report["kind"] == "connect_error", report
        return report["message"]

    async def _connect_reported(self, url: str, options: dict[str, Any]) -> dict[str, Any]:
        await self._command({"cmd": "connect", "url": url, "options": options})
        return await self.expect_one_of("connect", "connect_error")

    async def emit(self, event: str, *args: Any) -> list[Any]:
        """Emit with an ack callback; what the ack received."""
        self._acks += 1
        number = self._acks
        await self._command({"cmd": "emit", "n": number, "event": event, "args": args, "ack": True})
        return (await self.expect("ack", n=number))["args"]

    async def emit_no_ack(self, event: str, *args: Any) -> None:
        await self._command({"cmd": "emit", "event": event, "args": args, "ack": False})

    async def event(self, name: str, timeout: float = TIMEOUT) -> list[Any]:
        """The arguments of the next event `name` (other reports are kept for later)."""
        return (await self.expect("event", timeout, event=name))["args"]

    async def disconnect(self) -> str:
        await self._command({"cmd": "disconnect"})
        return (await self.expect("disconnect"))["reason"]

    async def expect(self, kind: str, timeout: float = TIMEOUT, **fields: Any) -> dict[str, Any]:
        """The first report of `kind` with those fields, waiting at most `timeout` seconds."""
        return await self._first(lambda r: r["kind"] == kind and _has(r, fields), timeout, kind)

    async def expect_one_of(self, *kinds: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        return await self._first(lambda r: r["kind"] in kinds, timeout, " or ".join(kinds))

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def _first(self, wanted: Any, timeout: float, what: str) -> dict[str, Any]:
        for report in self.backlog:
            if wanted(report):
                self.backlog.remove(report)
                return report
        try:
            async with asyncio.timeout(timeout):
                while not wanted(report := await self.reports.get()):
                    self.backlog.append(report)
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout}s; got {self.backlog}") from None
        return report

    async def _command(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            await self.reports.put(json.loads(line))


def _has(report: dict[str, Any], fields: dict[str, Any]) -> bool:
    return all(report.get(name) == value for name, value in fields.items())
