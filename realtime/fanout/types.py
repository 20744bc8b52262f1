"""What the fan-out core works with, and the interfaces protocols and transports plug into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Encoder", "FailureLog", "Member", "Membership", "RoomEvent", "Transport"]


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """One event for every member of a room, in no protocol's wire format.

    `data` is already JSON text, encoded once where the event was emitted: each protocol's
    encoder places it in its frame as it is, so nothing is decoded or re-encoded on the way.
    """

    room: str
    event: str
    data: str
    sender: str | None = None


class Encoder(Protocol):
    """A protocol's frame for a room event. The hub encodes each event once per encoder among
    the room's members and hands the same encoded value to each of them."""

    def encode(self, event: RoomEvent) -> Any: ...


class Member(Protocol):
    """A connection in a room, whatever its protocol."""

    connection_id: str
    encoder: Encoder

    async def deliver(self, encoded: Any) -> None:
        """Write what `encoder` made of an event; never waits for the client."""

    async def close(self, code: int) -> None:
        """Close the connection with `code` (the protocol says how)."""


class Transport(Protocol):
    """How room events reach the other pods: one channel per pod, one group per room."""

    name: str  # "redis" or "memory", as the welcome and /readyz report the layer
    channel: str  # this pod's own channel, after open()

    async def open(self) -> None: ...

    async def room_subscribe(self, room: str) -> None: ...

    async def room_unsubscribe(self, room: str) -> None: ...

    async def events_publish(self, room: str, events: list[RoomEvent], origin: str | None) -> None:
        """The one way room events leave for the other pods, in order: a hub's forwarding, and
        server-side emits from processes that are no pod. `origin` is the sending pod's id."""

    async def receive(self) -> dict[str, Any]: ...

    async def send(self, channel: str, message: dict[str, Any]) -> None: ...


class Membership(Protocol):
    """Member counts over all pods: each pod keeps its own local counts where the others see
    them (Redis), or nowhere when it is the only pod."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Stop, and take this pod's counts out of every room at once."""

    async def room_changed(self, room: str) -> None:
        """This pod's count of `room` changed: returns once the others can see it."""

    async def others_count(self, room: str) -> int:
        """Members of `room` on the other live pods."""


class FailureLog(Protocol):
    """Where the hub reports a failed forward to other pods (counted, logged once an outage)."""

    failures: int

    def failed(self, error: BaseException, lost: int = 1) -> None: ...

    def recovered(self) -> None: ...
