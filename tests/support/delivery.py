"""Watching delivery across pods while Redis fails over: numbered events from one client to
another until delivery is steady, with the gap and the events lost; member counts; clients that
never had to reconnect. Shared by the Sentinel, managed-endpoint and cluster tests."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from websockets.protocol import State

from tests.support.servers import DaphnePod, async_wait_for
from tests.support.ws_client import WsClient

# SPEC: after a failover, delivery and member counts are back within this, for open connections.
RECOVERY_SECONDS = 10
TICK_SECONDS = 0.1
# Ticks in a row that must arrive, then the marker after them, for delivery to count as back.
TICKS_AFTER = 5
MARKER_SECONDS = 1.0
# Each measurement's own number in its events' data.
RUNS = itertools.count(1)


@dataclass(frozen=True)
class Crossing:
    """How a stream of numbered events from one pod to another fared after a failover."""

    seconds: float  # from the failover to the first event of the run that all arrived
    emitted: int  # events emitted after the failover and before that one
    lost: int  # of those, the ones that never arrived

    def __str__(self) -> str:
        return (
            f"delivery across pods steady again {self.seconds:.2f} s after the failover; "
            f"{self.lost} of the {self.emitted} events emitted before it never arrived"
        )


async def delivery_back(
    sender: WsClient, receiver: WsClient, room: str, since: float, within: float
) -> Crossing:
    """Emit a numbered event every 0.1 s until delivery is steady: a run of TICKS_AFTER that
    all arrived, then a marker that arrives after them (sent last by the same client, it comes
    after any of them that still can). A run broken by a pod moving to another node does not
    count. Fails when delivery is not steady `within` seconds of `since`."""
    run = next(RUNS)
    emitted = 0
    arrivals: dict[int, float] = {}
    markers = 0
    while time.monotonic() - since <= within:
        await sender.emit(room, "tick", [run, emitted], echo=False)
        emitted += 1
        # Receiving paces the ticks: no sleep, and every frame is seen as it comes.
        await ticks_receive(receiver, run, arrivals, time.monotonic() + TICK_SECONDS)
        start = run_start(arrivals)
        if start is None or emitted - start < TICKS_AFTER:
            continue
        markers += 1
        await sender.emit(room, "marker", [run, markers], echo=False)
        until = time.monotonic() + MARKER_SECONDS
        confirmed = await ticks_receive(receiver, run, arrivals, until, markers)
        if confirmed and all(n in arrivals for n in range(start, emitted)):
            lost = sum(n not in arrivals for n in range(start))
            return Crossing(arrivals[start] - since, start, lost)
    raise AssertionError(
        f"delivery across pods not steady within {within} s of the failover: "
        f"{len(arrivals)} of {emitted} events arrived"
    )


async def ticks_receive(
    receiver: WsClient, run: int, arrivals: dict[int, float], until: float, marker: int = 0
) -> bool:
    """Note when each tick of `run` arrives, until `until` or, for a `marker` (from 1), until
    it comes; whether it came. Frames an earlier measurement left in flight are passed over."""
    while (wait := until - time.monotonic()) > 0:
        try:
            frame = await receiver.receive(timeout=wait)
        except TimeoutError:
            break
        data = frame.get("data")
        if frame.get("type") != "event" or not isinstance(data, list) or data[0] != run:
            continue
        if frame["event"] == "tick":
            arrivals.setdefault(data[1], time.monotonic())
        elif frame["event"] == "marker" and data[1] == marker:
            return True
    return False


def run_start(arrivals: dict[int, float]) -> int | None:
    """The first number of the unbroken run of arrived ticks that ends with the last one."""
    if not arrivals:
        return None
    start = max(arrivals)
    while start - 1 in arrivals:
        start -= 1
    return start


async def counts_back(clients: list[WsClient], room: str, since: float) -> None:
    """Every client's `members` over all pods counts them all, within the SPEC's 10 s."""
    expected = [len(clients)] * len(clients)
    counts: list[int] = []

    async def all_right() -> bool:
        counts[:] = [await client.members(room) for client in clients]
        return counts == expected

    within = max(0.1, RECOVERY_SECONDS - (time.monotonic() - since))
    try:
        await async_wait_for(all_right, within, f"member counts of {expected}", interval=0.2)
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; the last seen: {counts}") from None


async def clients_in_room(pods: list[DaphnePod], room: str) -> list[WsClient]:
    """A client on each pod, in `room`; both ways across pods work before the test breaks it."""
    clients = [await WsClient.connect(pod.ws_url) for pod in pods]
    for client, pod in zip(clients, pods, strict=True):
        assert client.welcome["layer"] == "redis", f"{pod.name} is not on Redis:\n{pod.log()}"
        await client.join(room)
    now = time.monotonic()
    await delivery_back(clients[0], clients[1], room, now, within=5)
    await delivery_back(clients[1], clients[0], room, now, within=5)
    return clients


async def assert_never_reconnected(clients: list[WsClient]) -> None:
    """The WebSockets the clients opened before the failover are open still: none closed, so
    none had to reconnect."""
    for client in clients:
        assert client.connection.state is State.OPEN, client.connection.close_code
        assert await client.request({"type": "ping", "id": "p"}) == {"type": "pong", "id": "p"}
