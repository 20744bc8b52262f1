"""A loopback TCP proxy that stands for a managed Redis endpoint (ElastiCache, Azure Cache,
Memorystore): one address whose new connections go to the current primary after a failover,
while connections made before it stay on the old node, now a replica."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from tests.support.redis_sentinel import replication_swap
from tests.support.servers import RedisServer

CHUNK = 65536
START_TIMEOUT = 5


class TcpProxy:
    """Forwards each connection to `127.0.0.1:target_port`, on an event loop in a thread of its
    own; `switch` changes the target for connections accepted from then on."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0  # known once started: the proxy listens on a port the OS picks
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._forwarding: set[asyncio.Task[None]] = set()

    def start(self) -> TcpProxy:
        self._thread.start()
        listening = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accepted, "127.0.0.1", 0), self._loop
        )
        self._server = listening.result(START_TIMEOUT)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def switch(self, new_port: int) -> None:
        """From now on, new connections go to `new_port`; open ones stay where they are."""
        self.target_port = new_port

    def stop(self) -> None:
        """Stop listening and close every connection, both sides."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(START_TIMEOUT)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def _close(self) -> None:
        assert self._server
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        # Each connection's task ends once its sockets are closed; none is left pending.
        if self._forwarding:
            await asyncio.wait(self._forwarding, timeout=START_TIMEOUT)
        await self._server.wait_closed()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The target is read once, at accept: what `switch` must not change for this connection.
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.close()  # as an endpoint whose node is down: the client sees it close
            return
        task = asyncio.current_task()
        assert task
        self._writers |= {writer, upstream_writer}
        self._forwarding.add(task)
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            self._writers -= {writer, upstream_writer}
            self._forwarding.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until either side closes, then close the other: Redis needs no half-open sockets."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


def managed_failover(primary: RedisServer, replica: RedisServer, proxy: TcpProxy) -> None:
    """Fail over as a managed Redis does: promote the replica, make the old primary its replica
    (it stays up, and keeps the connections it had), then point the endpoint at the new one."""
    replication_swap(primary, replica)
    proxy.switch(replica.port)
