"""realtime.config: settings read once into one typed object, rebuilt when a setting changes."""

from __future__ import annotations

from realtime.config import realtime_config
from realtime.redis.url import InvalidRedisUrl


def test_the_config_is_read_once_and_follows_a_changed_setting(settings) -> None:
    first = realtime_config()
    assert realtime_config() is first
    settings.REALTIME_MAX_ROOMS = 7
    assert realtime_config() is not first
    assert realtime_config().max_rooms == 7


def test_redis_url_is_parsed_into_a_target_or_its_error(settings) -> None:
    assert not realtime_config().redis.url.configured
    settings.REDIS_URL = "redis://:pw@cache.internal:6380/2"
    target = realtime_config().redis.url.target
    assert target is not None and (target.host, target.port, target.db) == (
        "cache.internal",
        6380,
        2,
    )
    settings.REDIS_URL = "redis://:pw@host:notaport"
    error = realtime_config().redis.url.error
    assert isinstance(error, InvalidRedisUrl) and "port must be a number" in str(error)
    assert realtime_config().redis.url.target is None


def test_browser_origins_are_allowed_hosts_and_the_extra_origins(settings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]
    settings.REALTIME_ALLOWED_ORIGINS = ["https://app.example.com"]
    assert realtime_config().origin_hosts == ("api.example.com", "https://app.example.com")
    settings.ALLOWED_HOSTS, settings.DEBUG = [], True  # Django's own rule with DEBUG
    assert realtime_config().origin_hosts == (
        "https://app.example.com",
        "localhost",
        "127.0.0.1",
        "[::1]",
    )
