"""REDIS_URL: parse it once, mask it for humans, turn it into connection settings.

This is the only code that reads a Redis URL, once, for realtime.config: the server's start-up,
check_redis, emit and the admin's Redis panel all use what it made, so a password can leak from
none.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from redis.asyncio.connection import SSLConnection

DEFAULT_PORT = 6379
URL_FORM = "redis://[user][:password]@host[:port][/db], or rediss:// for TLS"
# Only a scheme that looks like one is echoed back: text before "://" may be a pasted secret.
_SCHEME = re.compile(r"[a-z][a-z+.-]{0,15}")
_HOST = re.compile(r"^[A-Za-z0-9_.-]+$|^\[[0-9A-Fa-f:.]+\]$")


class InvalidRedisUrl(ValueError):
    """REDIS_URL cannot be used; the message names the problem, never the password."""


@dataclass(frozen=True)
class TlsOptions:
    """How a rediss:// connection checks the server: a CA file, or no check at all."""

    ca_file: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class RedisTarget:
    """One Redis server as REDIS_URL names it."""

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    username: str | None = None
    # Out of the repr: a `%r` in a log line or a debug page's locals must not show it.
    password: str | None = field(default=None, repr=False)
    tls: TlsOptions | None = None
    db_in_url: bool = False

    @property
    def address(self) -> str:
        """`host:port`, as the error texts print it."""
        return f"{self.host}:{self.port}"

    @property
    def masked(self) -> str:
        """The URL with any credentials replaced by `***`, safe for logs and pages."""
        scheme = "rediss" if self.tls else "redis"
        credentials = "***@" if self.username or self.password else ""
        db = f"/{self.db}" if self.db_in_url else ""
        return f"{scheme}://{credentials}{self.host}:{self.port}{db}"

    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for redis-py's ConnectionPool and channels_redis's `hosts`."""
        kwargs: dict[str, Any] = {
            "host": self.host.strip("[]"),
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password,
        }
        if self.tls:
            kwargs["connection_class"] = SSLConnection
            kwargs["ssl_ca_certs"] = self.tls.ca_file
            kwargs["ssl_cert_reqs"] = ssl.CERT_REQUIRED if self.tls.verify else ssl.CERT_NONE
            kwargs["ssl_check_hostname"] = self.tls.verify
        return kwargs


@dataclass(frozen=True)
class RedisUrlSetting:
    """REDIS_URL as configured: unset, a target, or the reason it cannot be used. The raw URL is
    not kept: nothing can print it."""

    target: RedisTarget | None = None
    error: InvalidRedisUrl | None = None

    @property
    def configured(self) -> bool:
        return self.target is not None or self.error is not None


def redis_url_setting(url: str, tls: TlsOptions | None = None) -> RedisUrlSetting:
    if not url:
        return RedisUrlSetting()
    try:
        return RedisUrlSetting(target=redis_target_parse(url, tls))
    except InvalidRedisUrl as error:
        return RedisUrlSetting(error=error)


def redis_target_parse(url: str, tls: TlsOptions | None = None) -> RedisTarget:
    """Parse REDIS_URL; raise InvalidRedisUrl naming what is wrong (never echoing credentials)."""
    url = url.strip()
    if not url:
        raise InvalidRedisUrl("REDIS_URL is empty")
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise InvalidRedisUrl(f"REDIS_URL is not a URL: expected {URL_FORM}")
    if scheme.lower() not in ("redis", "rediss"):
        shown = f"{scheme}://" if _SCHEME.fullmatch(scheme) else "another scheme"
        raise InvalidRedisUrl(f"REDIS_URL must start with redis:// or rediss://, got {shown}")
    # Split on the last "@" first, so that a password with an unescaped "/", "?" or "#"
    # stays in the credentials and never reaches an error message about the host or db.
    userinfo, at, location = rest.rpartition("@")
    username, password = _credentials_parse(userinfo) if at else (None, None)
    if "?" in location or "#" in location:
        raise InvalidRedisUrl(
            "REDIS_URL query parameters are not supported: "
            "set REDIS_TLS_CA_FILE or REDIS_TLS_VERIFY instead"
        )
    hostport, _, path = location.partition("/")
    host, port = _host_port_parse(hostport)
    db = _db_parse(path)
    tls_options = (tls or TlsOptions()) if scheme.lower() == "rediss" else None
    return RedisTarget(
        host=host,
        port=port,
        db=db,
        username=username,
        password=password,
        tls=tls_options,
        db_in_url=bool(path),
    )


def redis_url_mask(url: str) -> str:
    """The masked form of any REDIS_URL, even a malformed one: credentials never shown."""
    try:
        return redis_target_parse(url).masked
    except InvalidRedisUrl:
        return "(malformed REDIS_URL)"


def _credentials_parse(userinfo: str) -> tuple[str | None, str | None]:
    username, colon, password = userinfo.partition(":")
    return (unquote(username) or None, unquote(password) if colon and password else None)


def _host_port_parse(hostport: str) -> tuple[str, int]:
    if hostport.startswith("["):
        host, _, port_text = hostport.partition("]")
        host += "]"
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise InvalidRedisUrl(f"REDIS_URL has no host: expected {URL_FORM}")
    if not _HOST.match(host):
        raise InvalidRedisUrl(f"REDIS_URL host {host!r} is not a valid host name or address")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InvalidRedisUrl(f"REDIS_URL port must be a number from 1 to 65535, got {port_text!r}")
    return host, int(port_text)


def _db_parse(path: str) -> int:
    if not path:
        return 0
    if not path.isdigit():
        raise InvalidRedisUrl(f"REDIS_URL database must be a number after the '/', got {path!r}")
    return int(path)
