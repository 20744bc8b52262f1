"""realtime.fanout.queue: what a full queue drops is counted in events, not in items."""

from __future__ import annotations

from realtime.fanout import wire
from realtime.fanout.queue import EventQueue
from realtime.fanout.types import RoomEvent


def test_a_dropped_batch_counts_each_of_its_events() -> None:
    queue: EventQueue[dict] = EventQueue(1, wire.events_in)
    events = [RoomEvent("r", "e", str(n)) for n in range(3)]
    queue.put(wire.events_message("r", events, "pod"))
    queue.put({"type": wire.ROOM_EVENT, "room": "r", "event": "e"})  # a plain message: one
    queue.put(wire.events_message("r", events[:1], "pod"))
    assert queue.dropped == 4
    assert len(queue.items) == 1
