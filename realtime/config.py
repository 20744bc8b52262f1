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
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from realtime.access.addresses import Network, trusted_proxies_parse
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
class JwtConfig:
    """How JWTs from another backend are verified: a secret (HS*) or a PEM public key."""

    key: str
    algorithms: tuple[str, ...]
    audience: str | None

    def __repr__(self) -> str:
        return (
            f"JwtConfig(key=<hidden>, algorithms={self.algorithms!r}, audience={self.audience!r})"
        )


# HMAC algorithms, with the shortest secret each may have (RFC 7518 3.2: the hash's size).
_SECRET_ALGORITHMS = {"HS256": 32, "HS384": 48, "HS512": 64}
_PUBLIC_KEY_ALGORITHMS = {
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
}


def jwt_config(key: str, algorithms: list[str], audience: str) -> JwtConfig | None:
    """REALTIME_JWT_*, checked: algorithms PyJWT verifies, and of one kind, so that a public
    key can never be taken for an HMAC secret."""
    if not key:
        return None
    chosen = set(algorithms)
    unknown = chosen - _SECRET_ALGORITHMS.keys() - _PUBLIC_KEY_ALGORITHMS
    if not chosen or unknown:
        raise ImproperlyConfigured(
            f"REALTIME_JWT_ALGORITHMS: {', '.join(sorted(unknown)) or 'none given'} not among "
            f"{', '.join(sorted(_SECRET_ALGORITHMS.keys() | _PUBLIC_KEY_ALGORITHMS))}"
        )
    if chosen & _SECRET_ALGORITHMS.keys() and chosen & _PUBLIC_KEY_ALGORITHMS:
        raise ImproperlyConfigured(
            "REALTIME_JWT_ALGORITHMS: HS* and public-key algorithms cannot share one "
            "REALTIME_JWT_KEY; choose one kind"
        )
    shortest = max((_SECRET_ALGORITHMS.get(a, 0) for a in chosen), default=0)
    if len(key.encode()) < shortest:
        raise ImproperlyConfigured(
            f"REALTIME_JWT_KEY: a secret for {', '.join(sorted(chosen))} needs at least "
            f"{shortest} bytes (RFC 7518)"
        )
    # A PEM key in one environment line often has its newlines written as \n.
    if key.lstrip().startswith("-----BEGIN"):
        key = key.replace("\\n", "\n")
    return JwtConfig(key, tuple(algorithms), audience or None)


@dataclass(frozen=True)
class RealtimeConfig:
    pod_name: str
    debug: bool
    # Limits per pod and per client address (0: none), then per connection.
    max_connections: int
    max_connections_per_address: int
    trusted_proxies: tuple[Network, ...]
    max_frame_bytes: int
    max_rooms: int
    rate: float
    burst: int
    # The pod's queues, heartbeat and stats.
    pod_inbox: int
    heartbeat_seconds: float
    members_cache_seconds: float
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
    sio_poll_buffer_bytes: int
    # A WebSocket whose transport stays over its buffer this long is closed (0: never).
    slow_client_seconds: float
    # Modules of server-side event handlers, imported at start-up.
    handlers: tuple[str, ...]
    # Room access: the authorizer's dotted path, and JWTs from other backends.
    room_authorizer: str | None
    jwt: JwtConfig | None
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
        max_connections=source.REALTIME_MAX_CONNECTIONS,
        max_connections_per_address=source.REALTIME_MAX_CONNECTIONS_PER_ADDRESS,
        trusted_proxies=trusted_proxies_parse(source.REALTIME_TRUSTED_PROXIES),
        max_frame_bytes=source.REALTIME_MAX_FRAME_BYTES,
        max_rooms=source.REALTIME_MAX_ROOMS,
        rate=source.REALTIME_RATE,
        burst=source.REALTIME_BURST,
        pod_inbox=source.REALTIME_POD_INBOX,
        heartbeat_seconds=source.REALTIME_HEARTBEAT_SECONDS,
        members_cache_seconds=source.REALTIME_MEMBERS_CACHE_SECONDS,
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
        sio_poll_buffer_bytes=source.REALTIME_SIO_POLL_BUFFER_BYTES,
        slow_client_seconds=source.REALTIME_SLOW_CLIENT_SECONDS,
        handlers=tuple(source.REALTIME_HANDLERS),
        room_authorizer=source.REALTIME_ROOM_AUTHORIZER or None,
        jwt=jwt_config(
            source.REALTIME_JWT_KEY, source.REALTIME_JWT_ALGORITHMS, source.REALTIME_JWT_AUDIENCE
        ),
        redis=RedisConfig(
            url=redis_url_setting(source.REDIS_URL, tls, source.REDIS_SENTINEL_PASSWORD),
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
