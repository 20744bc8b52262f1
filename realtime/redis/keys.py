"""Every Redis key and channel name the product uses, in one place.

A new key or channel goes here first. Everything starts with `murror`, so one key pattern
(`~murror:*`) and one channel pattern (`&murror*`) cover them all in a Redis ACL.
"""

from __future__ import annotations

PREFIX = "murror"
# channels_redis's prefix for the layer's own channels (pod channels and room groups).
LAYER_PREFIX = PREFIX

# Member counts: live pods (sorted set, score: last heartbeat) and one hash per room (field: pod).
PODS_KEY = f"{PREFIX}:pods"
# Stats: pods that published in the last hour (sorted set), distinct from the live-pods set above.
STATS_PODS_KEY = f"{PREFIX}:stats-pods"
# The probe's pub/sub channel and layer group, one per check, never reused.
PROBE_PREFIX = f"{PREFIX}.probe."
# A pod's own channel on the layer (staff disconnects reach it there).
POD_CHANNEL_PREFIX = "pod."


def room_members_key(room: str) -> str:
    return f"{PREFIX}:room:{room}:members"


def stats_key(pod_id: str) -> str:
    return f"{PREFIX}:stats:{pod_id}"


def stats_history_key(pod_id: str) -> str:
    return f"{PREFIX}:stats-history:{pod_id}"


def room_group(room: str) -> str:
    """The channel-layer group of a room; `group_send(room_group(R), ...)` reaches its pods."""
    return f"room.{room}"
