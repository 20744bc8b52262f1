"""realtime.rooms: the pod's bounded inbox and its fan-out, on the in-memory layer."""

from __future__ import annotations

import asyncio
import json

from channels.layers import InMemoryChannelLayer

from realtime.membership import LocalMembership
from realtime.rooms import (
    FORWARD_BATCH,
    ROOM_EVENT,
    WRITES_PER_TURN,
    EventQueue,
    PodRooms,
    room_group,
)
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


async def test_a_message_that_cannot_be_handled_costs_only_itself() -> None:
    layer = InMemoryChannelLayer()
    rooms = PodRooms(layer, lambda pod: LocalMembership(), "p", inbox_size=10)
    member = SlowMember()
    member.release.set()
    await rooms.join("r", member)
    rooms.inbox.put({"type": ROOM_EVENT, "room": "r", "text": "before"})
    rooms.inbox.put({"type": ROOM_EVENT, "room": "r"})  # neither text nor event
    rooms.inbox.put({"type": ROOM_EVENT, "room": "r", "text": "after"})
    await rooms.start()
    await async_wait_for(lambda: "after" in member.received, 5, "the event after the bad one")
    assert member.received == ["before", "after"]
    await rooms.stop()


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


class TurnCounter:
    """Counts event-loop turns: a task that steps once per turn."""

    def __init__(self) -> None:
        self.turns = 0
        self.task = asyncio.create_task(self._count())

    async def _count(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)


class TurnMember:
    """A member that notes the loop turn of each frame written to it."""

    def __init__(self, connection_id: str, counter: TurnCounter) -> None:
        self.connection_id = connection_id
        self.counter = counter
        self.turns: list[int] = []

    async def send(self, frame: dict) -> None:
        self.turns.append(self.counter.turns)


async def remote_events_delivered(room_size: int, events: int) -> list[int]:
    """The loop turns in which a pod wrote `events` remote events to a room of `room_size`."""
    layer = InMemoryChannelLayer(capacity=1000)
    rooms = PodRooms(layer, lambda pod: LocalMembership(), "p", inbox_size=1000)
    counter = TurnCounter()
    members = [TurnMember(str(n), counter) for n in range(room_size)]
    for member in members:
        await rooms.join("r", member)
    for number in range(events):  # waiting in the inbox together, as for a pod behind
        rooms.inbox.put({"type": ROOM_EVENT, "room": "r", "text": str(number)})
    await rooms.start()
    await async_wait_for(lambda: len(members[-1].turns) == events, 5, "every event")
    counter.task.cancel()
    await rooms.stop()
    return members[-1].turns


async def test_a_pod_behind_writes_several_events_for_a_small_room_in_one_loop_turn() -> None:
    # The server sends everything written to a socket during one turn with one system call.
    turns = await remote_events_delivered(room_size=10, events=50)
    assert len(set(turns)) == 1


async def test_a_big_rooms_events_each_give_the_loop_a_turn() -> None:
    turns = await remote_events_delivered(room_size=WRITES_PER_TURN, events=5)
    assert len(set(turns)) == 5
