"""Every Redis key and channel name the product uses, in one place.

A new key or channel goes here first. Everything starts with `murror`, so one key pattern
(`~murror:*`) and one channel pattern (`&murror*`) cover them all in a Redis ACL.

On a Redis Cluster a script or MULTI may only touch keys of one hash slot. The member-count
keys share the hash tag `{members}` (the count script reads a room's hash and the live pods
together), the stats keys `{stats}` (one MGET reads every pod's); each is a few small writes
per join or per stats interval, so one shard holds them without strain.
"""

from __future__ import annotations

PREFIX = "murror"
# channels_redis's prefix for the layer's own channels (pod channels and room groups).
LAYER_PREFIX = PREFIX

# Member counts: live pods (sorted set, score: last heartbeat) and one hash per room (field: pod).
_MEMBERS = f"{PREFIX}:{{members}}"
_STATS = f"{PREFIX}:{{stats}}"
PODS_KEY = f"{_MEMBERS}:pods"
# Stats: pods that published in the last hour (sorted set), distinct from the live-pods set above.
STATS_PODS_KEY = f"{_STATS}:pods"
# The probe's pub/sub channel and layer group, one per check, never reused.
PROBE_PREFIX = f"{PREFIX}.probe."
# A pod's own channel on the layer (staff disconnects reach it there).
POD_CHANNEL_PREFIX = "pod."


def room_members_key(room: str) -> str:
    return f"{_MEMBERS}:room:{room}"


def stats_key(pod_id: str) -> str:
    return f"{_STATS}:latest:{pod_id}"


def stats_history_key(pod_id: str) -> str:
    return f"{_STATS}:history:{pod_id}"


def room_group(room: str) -> str:
    """The channel-layer group of a room; `group_send(room_group(R), ...)` reaches its pods."""
    return f"room.{room}"
