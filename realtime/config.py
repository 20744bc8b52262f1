"""The project's settings for realtime, read once into one typed object.

murror/settings.py reads the environment (docs/operations.md, Configuration); this turns what it
read into `RealtimeConfig`, parsing REDIS_URL once. Nothing deeper reads `django.conf.settings`
at call time: code asks `realtime_config()`, which is rebuilt when a test changes a setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from realtime.redis.url import RedisUrlSetting, TlsOptions, redis_url_setting


@dataclass(frozen=True)
class RedisConfig:
    """REDIS_URL (parsed) and how the pod uses it."""

    url: RedisUrlSetting
    tls: TlsOptions
    required: bool
    connect_timeout: float
    retry_seconds: float


@dataclass(frozen=True)
class RealtimeConfig:
    pod_name: str
    debug: bool
    # Limits per connection.
    max_frame_bytes: int
    max_rooms: int
    rate: float
    burst: int
    # The pod's queues, heartbeat and stats.
    pod_inbox: int
    heartbeat_seconds: float
    pod_timeout_seconds: int
    stats_seconds: float
    drain_seconds: float
    # Who may connect.
    require_auth: bool
    origin_hosts: tuple[str, ...]
    token_max_age: int
    session_cookie_name: str
    session_engine: str
    demo: bool
    # Socket.IO: the server's ping, how long a client may take to answer, and to CONNECT.
    sio_ping_interval: float
    sio_ping_timeout: float
    sio_connect_timeout: float
    # Modules of server-side event handlers, imported at start-up.
    handlers: tuple[str, ...]
    redis: RedisConfig


def config_from(source: Any) -> RealtimeConfig:
    """The config of a settings object (django.conf.settings, or anything with its names)."""
    tls = source.REDIS_TLS
    # Browsers may connect from ALLOWED_HOSTS and REALTIME_ALLOWED_ORIGINS; with DEBUG and no
    # ALLOWED_HOSTS Django itself allows the loopback names, so the origin check does too.
    origin_hosts = [*source.ALLOWED_HOSTS, *source.REALTIME_ALLOWED_ORIGINS]
    if source.DEBUG and not source.ALLOWED_HOSTS:
        origin_hosts += ["localhost", "127.0.0.1", "[::1]"]
    return RealtimeConfig(
        pod_name=source.POD_NAME,
        debug=source.DEBUG,
        max_frame_bytes=source.REALTIME_MAX_FRAME_BYTES,
        max_rooms=source.REALTIME_MAX_ROOMS,
        rate=source.REALTIME_RATE,
        burst=source.REALTIME_BURST,
        pod_inbox=source.REALTIME_POD_INBOX,
        heartbeat_seconds=source.REALTIME_HEARTBEAT_SECONDS,
        pod_timeout_seconds=source.REALTIME_POD_TIMEOUT_SECONDS,
        stats_seconds=source.REALTIME_STATS_SECONDS,
        drain_seconds=source.REALTIME_DRAIN_SECONDS,
        require_auth=source.REALTIME_REQUIRE_AUTH,
        origin_hosts=tuple(origin_hosts),
        token_max_age=source.REALTIME_TOKEN_MAX_AGE,
        session_cookie_name=source.SESSION_COOKIE_NAME,
        session_engine=source.SESSION_ENGINE,
        demo=source.REALTIME_DEMO,
        sio_ping_interval=source.REALTIME_SIO_PING_INTERVAL,
        sio_ping_timeout=source.REALTIME_SIO_PING_TIMEOUT,
        sio_connect_timeout=source.REALTIME_SIO_CONNECT_TIMEOUT,
        handlers=tuple(source.REALTIME_HANDLERS),
        redis=RedisConfig(
            url=redis_url_setting(source.REDIS_URL, tls),
            tls=tls,
            required=source.REDIS_REQUIRED,
            connect_timeout=source.REDIS_CONNECT_TIMEOUT,
            retry_seconds=source.REALTIME_REDIS_RETRY_SECONDS,
        ),
    )


@cache
def realtime_config() -> RealtimeConfig:
    return config_from(settings)


def _settings_changed(**kwargs: Any) -> None:
    realtime_config.cache_clear()


# pytest-django's `settings` fixture and override_settings both send it.
setting_changed.connect(_settings_changed)
