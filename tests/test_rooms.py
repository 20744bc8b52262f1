"""realtime.rooms: the pod's bounded inbox and its fan-out, on the in-memory layer."""

from __future__ import annotations

import asyncio
import json

from channels.layers import InMemoryChannelLayer

from realtime.membership import LocalMembership
from realtime.rooms import FORWARD_BATCH, ROOM_EVENT, EventQueue, PodRooms, room_group
from tests.servers import async_wait_for


class SlowMember:
    """A member whose socket write blocks until released, like a server stuck on a send."""

    connection_id = "slow"

    def __init__(self) -> None:
        self.received: list[str] = []
        self.release = asyncio.Event()

    async def send(self, frame: dict) -> None:
        await self.release.wait()
        self.received.append(frame["text"])


async def test_inbox_is_bounded_and_counts_what_it_drops() -> None:
    layer = InMemoryChannelLayer(capacity=1000)
    rooms = PodRooms(layer, lambda pod: LocalMembership(), "p", inbox_size=3)
    await rooms.start()
    member = SlowMember()
    await rooms.join("r", member)
    for number in range(10):
        message = {"type": ROOM_EVENT, "room": "r", "text": str(number)}
        await layer.group_send(room_group("r"), message)
    # 1 being written, 3 kept, 6 dropped
    await async_wait_for(lambda: rooms.dropped >= 6, 5, "6 dropped events")
    member.release.set()
    await async_wait_for(lambda: len(member.received) >= 4, 5, "4 deliveries")
    assert member.received == ["0", "7", "8", "9"]
    assert rooms.dropped == 6
    await rooms.stop()


def test_a_dropped_batch_counts_each_of_its_events() -> None:
    queue = EventQueue(1)
    queue.put({"type": ROOM_EVENT, "room": "r", "texts": ["a", "b", "c"]})
    queue.put({"type": ROOM_EVENT, "room": "r", "text": "d"})
    queue.put({"type": ROOM_EVENT, "room": "r", "text": "e"})
    assert queue.dropped == 4


async def test_events_from_this_pod_are_not_delivered_twice() -> None:
    layer = InMemoryChannelLayer()
    rooms = PodRooms(layer, lambda pod: LocalMembership(), "p", inbox_size=10)
    await rooms.start()
    member = SlowMember()
    member.release.set()
    await rooms.join("r", member)
    await rooms.emit("r", "e", 1, sender=member, echo=True)
    other_pod_message = {"type": ROOM_EVENT, "room": "r", "text": "remote"}
    await layer.group_send(room_group("r"), other_pod_message)
    await async_wait_for(lambda: "remote" in member.received, 5, "the remote event")
    assert len(member.received) == 2
    await rooms.stop()


class RecordingLayer(InMemoryChannelLayer):
    """The in-memory layer, keeping each group send: what would be one Redis PUBLISH each."""

    def __init__(self) -> None:
        super().__init__(capacity=1000)
        self.group_sends: list[dict] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.group_sends.append(message)
        await super().group_send(group, message)


async def test_events_waiting_in_the_outbox_go_to_other_pods_together_in_order() -> None:
    layer = RecordingLayer()
    sender_pod = PodRooms(layer, lambda pod: LocalMembership(), "a", inbox_size=1000)
    receiver_pod = PodRooms(layer, lambda pod: LocalMembership(), "b", inbox_size=1000)
    sender, receiver = SlowMember(), SlowMember()
    receiver.connection_id = "receiver"
    for pod, member in ((sender_pod, sender), (receiver_pod, receiver)):
        member.release.set()
        await pod.start()
        await pod.join("r", member)
    # Emitted faster than the forwarding task runs, as under load while a PUBLISH is out.
    for number in range(100):
        await sender_pod.emit("r", "e", number, sender=sender, echo=False)
    await async_wait_for(lambda: len(receiver.received) == 100, 5, "100 remote deliveries")
    assert [json.loads(text)["data"] for text in receiver.received] == list(range(100))
    assert [len(message["texts"]) for message in layer.group_sends] == [FORWARD_BATCH, 36]
    await sender_pod.stop()
    await receiver_pod.stop()
