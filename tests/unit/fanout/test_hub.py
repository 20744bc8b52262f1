"""realtime.fanout.hub: local rooms, encoding once per protocol, forwarding, the bounded inbox,
the handler table and a clean stop, on the in-memory layer."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.layers import InMemoryChannelLayer

from realtime.fanout import wire
from realtime.fanout.hub import FORWARD_BATCH, WRITES_PER_TURN, Hub
from realtime.fanout.membership import LocalMembership
from realtime.fanout.transport import ChannelLayerTransport
from realtime.fanout.types import RoomEvent
from realtime.redis.keys import room_group
from realtime.redis.outage import OutageLog
from tests.support.servers import async_wait_for


class CountingEncoder:
    """An encoder that says which protocol it is and counts its calls."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0

    def encode(self, event: RoomEvent) -> dict[str, str]:
        self.calls += 1
        return {"protocol": self.name, "text": f"{event.event}:{event.data}"}


TEXT = CountingEncoder("text")


class RecordingMember:
    """A member that keeps what it was handed; its writes block while `release` is clear,
    like a server stuck on a send."""

    def __init__(self, connection_id: str, encoder: Any = TEXT) -> None:
        self.connection_id = connection_id
        self.encoder = encoder
        self.received: list[Any] = []
        self.release = asyncio.Event()
        self.release.set()
        self.closed_with: int | None = None

    @property
    def texts(self) -> list[str]:
        return [frame["text"] for frame in self.received]

    async def deliver(self, encoded: Any) -> None:
        await self.release.wait()
        self.received.append(encoded)

    async def close(self, code: int) -> None:
        self.closed_with = code


class BrokenMember(RecordingMember):
    async def deliver(self, encoded: Any) -> None:
        raise ConnectionResetError("the socket is gone")


class RecordingLayer(InMemoryChannelLayer):
    """The in-memory layer, keeping each group send (what would be one Redis PUBLISH each)
    and each group left."""

    def __init__(self) -> None:
        super().__init__(capacity=1000)
        self.group_sends: list[dict] = []
        self.groups_left: list[str] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.group_sends.append(message)
        await super().group_send(group, message)

    async def group_discard(self, group: str, channel: str) -> None:
        self.groups_left.append(group)
        await super().group_discard(group, channel)


def hub_new(pod_id: str = "p", inbox_size: int = 1000) -> Hub:
    return Hub(pod_id, inbox_size, OutageLog(logging.getLogger(__name__), "Forwarding"))


async def hub_started(
    layer: InMemoryChannelLayer, pod_id: str = "p", inbox_size: int = 1000
) -> Hub:
    hub = hub_new(pod_id, inbox_size)
    await hub.start(ChannelLayerTransport(layer, "memory"), LocalMembership())
    return hub


def event(data: Any, room: str = "r", sender: str | None = None) -> RoomEvent:
    return RoomEvent(room, "e", json.dumps(data), sender)


def remote(room: str, *data: Any, origin: str = "other-pod") -> dict[str, Any]:
    """What another pod sends for events of `room`."""
    return wire.events_message(room, [event(item, room) for item in data], origin)


async def test_each_protocol_encodes_an_event_once_and_its_members_share_it() -> None:
    hub = await hub_started(InMemoryChannelLayer())
    first, second, absent = CountingEncoder("a"), CountingEncoder("b"), CountingEncoder("c")
    members = [RecordingMember(f"a{n}", first) for n in range(5)]
    members += [RecordingMember(f"b{n}", second) for n in range(3)]
    for member in members:
        await hub.join("r", member)
    assert await hub.deliver(event(1)) == 8
    assert (first.calls, second.calls, absent.calls) == (1, 1, 0)
    frames = {member.encoder.name: member.received[0] for member in members}
    assert all(member.received[0] is frames[member.encoder.name] for member in members)
    assert frames["a"] != frames["b"]
    await hub.stop()


async def test_a_failing_member_costs_only_itself(caplog) -> None:
    layer = RecordingLayer()
    hub = await hub_started(layer)
    good, broken, last = RecordingMember("good"), BrokenMember("broken"), RecordingMember("last")
    for member in (good, broken, last):
        await hub.join("r", member)
    await hub.publish(event("hello"))
    assert good.texts == last.texts == ['e:"hello"']
    assert (hub.counters.delivered, hub.counters.delivery_failures) == (2, 1)
    assert "Delivery to 1 of 3 members of room r failed" in caplog.text
    await async_wait_for(lambda: layer.group_sends, 5, "the event forwarded to other pods")
    await hub.stop()


async def test_the_inbox_is_bounded_and_counts_what_it_drops() -> None:
    layer = InMemoryChannelLayer(capacity=1000)
    hub = await hub_started(layer, inbox_size=3)
    member = RecordingMember("slow")
    member.release.clear()
    await hub.join("r", member)
    for number in range(10):
        await layer.group_send(room_group("r"), remote("r", number))
    # 1 being written, 3 kept, 6 dropped
    await async_wait_for(lambda: hub.dropped >= 6, 5, "6 dropped events")
    member.release.set()
    await async_wait_for(lambda: len(member.received) >= 4, 5, "4 deliveries")
    assert member.texts == ["e:0", "e:7", "e:8", "e:9"]
    assert hub.dropped == 6
    await hub.stop()


async def test_a_message_that_cannot_be_read_costs_only_itself() -> None:
    hub = await hub_started(InMemoryChannelLayer())
    member = RecordingMember("m")
    await hub.join("r", member)
    hub.inbox.put(remote("r", "before"))
    hub.inbox.put({"type": wire.ROOM_EVENT, "room": "r"})  # plain, without an event
    hub.inbox.put({**remote("r", "newer"), "v": 2})  # a version this pod does not read
    hub.inbox.put({"type": wire.ROOM_EVENT, "v": 1, "room": "r", "events": [["e"]]})
    hub.inbox.put({"type": "chat.message"})  # nobody here handles it
    hub.inbox.put(remote("r", "after"))
    await async_wait_for(lambda: 'e:"after"' in member.texts, 5, "the event after the bad ones")
    assert member.texts == ['e:"before"', 'e:"after"']
    assert hub.counters.unreadable == 4
    await hub.stop()


async def test_plain_channels_messages_reach_the_room() -> None:
    layer = InMemoryChannelLayer()
    hub = await hub_started(layer)
    member = RecordingMember("m")
    await hub.join("news", member)
    plain = {"type": "room.event", "room": "news", "event": "e", "data": {"n": [1]}}
    await layer.group_send(room_group("news"), plain)
    await async_wait_for(lambda: member.received, 5, "the plain message")
    assert member.texts == ['e:{"n":[1]}']
    await hub.stop()


async def test_messages_for_the_pod_go_to_their_handler() -> None:
    layer = InMemoryChannelLayer()
    hub = await hub_started(layer)
    handled: list[dict] = []

    async def handle(message: dict) -> None:
        handled.append(message)

    hub.handler_add("pod.hello", handle)
    await layer.send(hub.channel, {"type": "pod.hello", "n": 1})
    await async_wait_for(lambda: handled, 5, "the handler")
    assert handled == [{"type": "pod.hello", "n": 1}]
    await hub.stop()


async def test_events_from_this_pod_are_not_delivered_twice() -> None:
    layer = InMemoryChannelLayer()
    hub = await hub_started(layer)
    member = RecordingMember("m")
    await hub.join("r", member)
    await hub.publish(event("mine", sender="m"))
    await layer.group_send(room_group("r"), remote("r", "remote"))
    await async_wait_for(lambda: 'e:"remote"' in member.texts, 5, "the remote event")
    assert member.texts == ['e:"mine"', 'e:"remote"']
    await hub.stop()


async def test_skip_leaves_out_the_sender_only() -> None:
    hub = await hub_started(InMemoryChannelLayer())
    sender, other = RecordingMember("sender"), RecordingMember("other")
    for member in (sender, other):
        await hub.join("r", member)
    await hub.publish(event(1, sender="sender"), skip="sender")
    assert (sender.texts, other.texts) == ([], ["e:1"])
    await hub.stop()


async def test_events_waiting_in_the_outbox_go_to_other_pods_together_in_order() -> None:
    layer = RecordingLayer()
    sender_hub = await hub_started(layer, "a")
    receiver_hub = await hub_started(layer, "b")
    sender, receiver = RecordingMember("sender"), RecordingMember("receiver")
    await sender_hub.join("r", sender)
    await receiver_hub.join("r", receiver)
    # Emitted faster than the forwarding task runs, as under load while a PUBLISH is out.
    for number in range(100):
        await sender_hub.publish(event(number, sender="sender"), skip="sender")
    await async_wait_for(lambda: len(receiver.received) == 100, 5, "100 remote deliveries")
    assert receiver.texts == [f"e:{number}" for number in range(100)]
    assert [len(message["events"]) for message in layer.group_sends] == [FORWARD_BATCH, 36]
    assert {message["origin"] for message in layer.group_sends} == {"a"}
    await sender_hub.stop()
    await receiver_hub.stop()


async def test_stop_awaits_its_tasks_and_leaves_every_room_on_the_transport() -> None:
    layer = RecordingLayer()
    hub = await hub_started(layer)
    for room in ("a", "b"):
        await hub.join(room, RecordingMember(f"m-{room}"))
    tasks = [hub._receiver, *hub._workers]
    await hub.stop()
    assert all(task is not None and task.done() for task in tasks)
    assert sorted(layer.groups_left) == [room_group("a"), room_group("b")]


async def test_rooms_move_with_the_transport() -> None:
    """A pod that fell back reaches Redis: its rooms are subscribed on the new transport."""
    old, new = InMemoryChannelLayer(), InMemoryChannelLayer()
    hub = await hub_started(old)
    member = RecordingMember("m")
    await hub.join("r", member)
    await hub.transport_replace(ChannelLayerTransport(new, "memory"), LocalMembership())
    await new.group_send(room_group("r"), remote("r", "via the new layer"))
    await async_wait_for(lambda: member.received, 5, "an event through the new transport")
    assert member.texts == ['e:"via the new layer"']
    await hub.stop()


class TurnCounter:
    """Counts event-loop turns: a task that steps once per turn."""

    def __init__(self) -> None:
        self.turns = 0
        self.task = asyncio.create_task(self._count())

    async def _count(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)


class TurnMember(RecordingMember):
    """A member that notes the loop turn of each frame written to it."""

    def __init__(self, connection_id: str, counter: TurnCounter) -> None:
        super().__init__(connection_id)
        self.counter = counter
        self.turns: list[int] = []

    async def deliver(self, encoded: Any) -> None:
        self.turns.append(self.counter.turns)


async def remote_events_delivered(room_size: int, events: int) -> list[int]:
    """The loop turns in which a pod wrote `events` remote events to a room of `room_size`."""
    hub = await hub_started(InMemoryChannelLayer(capacity=1000))
    counter = TurnCounter()
    members = [TurnMember(str(n), counter) for n in range(room_size)]
    for member in members:
        await hub.join("r", member)
    for number in range(events):  # put with no await between: waiting together, as when behind
        hub.inbox.put(remote("r", number))
    await async_wait_for(lambda: len(members[-1].turns) == events, 5, "every event")
    counter.task.cancel()
    await hub.stop()
    return members[-1].turns


async def test_a_pod_behind_writes_several_events_for_a_small_room_in_one_loop_turn() -> None:
    # The server sends everything written to a socket during one turn with one system call.
    turns = await remote_events_delivered(room_size=10, events=50)
    assert len(set(turns)) == 1


async def test_a_big_rooms_events_each_give_the_loop_a_turn() -> None:
    turns = await remote_events_delivered(room_size=WRITES_PER_TURN, events=5)
    assert len(set(turns)) == 5
