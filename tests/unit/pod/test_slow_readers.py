"""realtime.pod.slow_readers: the kernel's count of what a TCP peer acknowledged, on real
loopback sockets (the pod's use of it, with daphne, is in tests/integration/test_slow_client.py)."""

from __future__ import annotations

import socket

from realtime.pod.slow_readers import bytes_acked, reader_watch
from tests.support.servers import wait_for


def test_bytes_acked_grows_with_what_the_peer_takes() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    sender = socket.create_connection(listener.getsockname())
    receiver, _ = listener.accept()
    try:
        before = bytes_acked(sender)
        assert before is not None
        sender.sendall(b"x" * 100_000)
        taken = 0
        while taken < 100_000:
            taken += len(receiver.recv(65536))
        wait_for(
            lambda: (bytes_acked(sender) or 0) >= before + 100_000, 5, "the kernel's ack count"
        )
    finally:
        for each in (sender, receiver, listener):
            each.close()


def test_a_send_that_is_not_daphnes_is_not_watched() -> None:
    async def plain_send(message: dict) -> None:
        return None

    assert reader_watch(plain_send) is None
