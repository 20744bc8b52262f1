"""REDIS_URL: parse it once, mask it for humans, turn it into connection settings.

This is the only code that reads a Redis URL, once, for realtime.config: the server's start-up,
check_redis, emit and the admin's Redis panel all use what it made, so a password can leak from
none. Three topologies (docs/operations.md, "Redis topologies"): one server (`redis://`), a
master found through Sentinel (`redis+sentinel://`), and Redis Cluster (`redis+cluster://`).
"""

from __future__ import annotations

import enum
import re
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from realtime.redis.connections import PrimaryConnection, PrimarySSLConnection

DEFAULT_PORT = 6379
SENTINEL_PORT = 26379
URL_FORM = "redis://[user][:password]@host[:port][/db], or rediss:// for TLS"
SENTINEL_FORM = "redis+sentinel://[user][:password]@host:26379[,host:port...]/[db/]MASTER_NAME"
CLUSTER_FORM = "redis+cluster://[user][:password]@host:port[,host:port...]"
# Only a scheme that looks like one is echoed back: text before "://" may be a pasted secret.
_SCHEME = re.compile(r"[a-z][a-z+.-]{0,15}")
_HOST = re.compile(r"^[A-Za-z0-9_.-]+$|^\[[0-9A-Fa-f:.]+\]$")
_MASTER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class InvalidRedisUrl(ValueError):
    """REDIS_URL cannot be used; the message names the problem, never the password."""


class RedisMode(enum.Enum):
    """How the pods reach Redis; `check_redis --json` reports it as `mode`."""

    STANDALONE = "standalone"
    SENTINEL = "sentinel"
    CLUSTER = "cluster"


_SCHEMES = {
    "redis": (RedisMode.STANDALONE, False),
    "rediss": (RedisMode.STANDALONE, True),
    "redis+sentinel": (RedisMode.SENTINEL, False),
    "rediss+sentinel": (RedisMode.SENTINEL, True),
    "redis+cluster": (RedisMode.CLUSTER, False),
    "rediss+cluster": (RedisMode.CLUSTER, True),
}


@dataclass(frozen=True)
class TlsOptions:
    """How a rediss:// connection checks the server: a CA file, or no check at all."""

    ca_file: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class RedisTarget:
    """Redis as REDIS_URL names it: one server, or the sentinels or cluster nodes to ask.

    `host` and `port` are the first node's; `nodes` lists them all.
    """

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    username: str | None = None
    # Out of the repr: a `%r` in a log line or a debug page's locals must not show it.
    password: str | None = field(default=None, repr=False)
    tls: TlsOptions | None = None
    db_in_url: bool = False
    mode: RedisMode = RedisMode.STANDALONE
    nodes: tuple[tuple[str, int], ...] = ()
    master_name: str | None = None
    # REDIS_SENTINEL_PASSWORD: the sentinels' own, when they have one.
    sentinel_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.nodes:
            object.__setattr__(self, "nodes", ((self.host, self.port),))

    @property
    def address(self) -> str:
        """`host:port` (each node's, comma separated), as the error texts print it."""
        return ",".join(f"{host}:{port}" for host, port in self.nodes)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every password this target holds, for scrubbing texts that might echo one."""
        return tuple(secret for secret in (self.password, self.sentinel_password) if secret)

    @property
    def masked(self) -> str:
        """The URL with any credentials replaced by `***`, safe for logs and pages."""
        scheme = "rediss" if self.tls else "redis"
        if self.mode is not RedisMode.STANDALONE:
            scheme += f"+{self.mode.value}"
        credentials = "***@" if self.username or self.password else ""
        path = f"/{self.db}" if self.db_in_url else ""
        if self.master_name:
            path += f"/{self.master_name}"
        return f"{scheme}://{credentials}{self.address}{path}"

    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for redis-py's ConnectionPool and channels_redis's `hosts`."""
        kwargs: dict[str, Any] = {"host": self.host.strip("[]"), "port": self.port}
        kwargs |= self.credentials_kwargs()
        kwargs["connection_class"] = PrimarySSLConnection if self.tls else PrimaryConnection
        if self.tls:
            kwargs |= self._tls_kwargs()
        return kwargs

    def credentials_kwargs(self) -> dict[str, Any]:
        """The data nodes' database and credentials, whichever node a client reaches."""
        kwargs: dict[str, Any] = {"username": self.username, "password": self.password}
        if self.mode is not RedisMode.CLUSTER:  # a cluster has database 0 only, and no SELECT
            kwargs["db"] = self.db
        return kwargs

    def node_kwargs(self) -> dict[str, Any]:
        """Connection settings for the nodes a Sentinel or cluster client finds by itself: TLS
        as `ssl=True`, which both pick their connection class by (not `connection_class`)."""
        kwargs = self.credentials_kwargs()
        if self.tls:
            kwargs |= {"ssl": True, **self._tls_kwargs()}
        return kwargs

    def sentinel_kwargs(self) -> dict[str, Any]:
        """How to talk to the sentinels themselves: their own password, the URL's TLS, and each
        asked once: redis-py moves on to the next sentinel itself, while its default retries
        took 11.7 s (seen here) to report a wrong sentinel password."""
        kwargs: dict[str, Any] = {
            "password": self.sentinel_password,
            "retry": Retry(NoBackoff(), 0),
        }
        if self.tls:
            kwargs |= {"ssl": True, **self._tls_kwargs()}
        return kwargs

    def _tls_kwargs(self) -> dict[str, Any]:
        assert self.tls is not None
        return {
            "ssl_ca_certs": self.tls.ca_file,
            "ssl_cert_reqs": ssl.CERT_REQUIRED if self.tls.verify else ssl.CERT_NONE,
            "ssl_check_hostname": self.tls.verify,
        }


@dataclass(frozen=True)
class RedisUrlSetting:
    """REDIS_URL as configured: unset, a target, or the reason it cannot be used. The raw URL is
    not kept: nothing can print it."""

    target: RedisTarget | None = None
    error: InvalidRedisUrl | None = None

    @property
    def configured(self) -> bool:
        return self.target is not None or self.error is not None


def redis_url_setting(
    url: str, tls: TlsOptions | None = None, sentinel_password: str | None = None
) -> RedisUrlSetting:
    if not url:
        return RedisUrlSetting()
    try:
        return RedisUrlSetting(target=redis_target_parse(url, tls, sentinel_password))
    except InvalidRedisUrl as error:
        return RedisUrlSetting(error=error)


def redis_target_parse(
    url: str, tls: TlsOptions | None = None, sentinel_password: str | None = None
) -> RedisTarget:
    """Parse REDIS_URL; raise InvalidRedisUrl naming what is wrong (never echoing credentials)."""
    url = url.strip()
    if not url:
        raise InvalidRedisUrl("REDIS_URL is empty")
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise InvalidRedisUrl(f"REDIS_URL is not a URL: expected {URL_FORM}")
    if scheme.lower() not in _SCHEMES:
        shown = f"{scheme}://" if _SCHEME.fullmatch(scheme) else "another scheme"
        raise InvalidRedisUrl(
            "REDIS_URL must start with redis://, rediss://, redis+sentinel:// or "
            f"redis+cluster:// (rediss+ for TLS), got {shown}"
        )
    mode, uses_tls = _SCHEMES[scheme.lower()]
    # Split on the last "@" first, so that a password with an unescaped "/", "?" or "#"
    # stays in the credentials and never reaches an error message about the host or db.
    userinfo, at, location = rest.rpartition("@")
    username, password = _credentials_parse(userinfo) if at else (None, None)
    if "?" in location or "#" in location:
        raise InvalidRedisUrl(
            "REDIS_URL query parameters are not supported: "
            "set REDIS_TLS_CA_FILE or REDIS_TLS_VERIFY instead"
        )
    hostports, _, path = location.partition("/")
    default_port = SENTINEL_PORT if mode is RedisMode.SENTINEL else DEFAULT_PORT
    nodes = _nodes_parse(hostports, mode, default_port)
    db, db_in_url, master_name = _path_parse(path, mode)
    return RedisTarget(
        host=nodes[0][0],
        port=nodes[0][1],
        db=db,
        username=username,
        password=password,
        tls=(tls or TlsOptions()) if uses_tls else None,
        db_in_url=db_in_url,
        mode=mode,
        nodes=nodes,
        master_name=master_name,
        sentinel_password=sentinel_password if mode is RedisMode.SENTINEL else None,
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


def _nodes_parse(hostports: str, mode: RedisMode, default_port: int) -> tuple[tuple[str, int], ...]:
    parts = hostports.split(",")
    if len(parts) > 1 and mode is RedisMode.STANDALONE:
        raise InvalidRedisUrl(
            "REDIS_URL names several hosts: use redis+sentinel:// for sentinels or "
            "redis+cluster:// for cluster nodes"
        )
    return tuple(_host_port_parse(part, default_port) for part in parts)


def _host_port_parse(hostport: str, default_port: int) -> tuple[str, int]:
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
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InvalidRedisUrl(f"REDIS_URL port must be a number from 1 to 65535, got {port_text!r}")
    return host, int(port_text)


def _path_parse(path: str, mode: RedisMode) -> tuple[int, bool, str | None]:
    """The database, whether the URL named it, and Sentinel's master name."""
    if mode is RedisMode.CLUSTER:
        if path:
            raise InvalidRedisUrl(
                "REDIS_URL for a cluster takes no /db or other path: Redis Cluster has "
                f"database 0 only; expected {CLUSTER_FORM}"
            )
        return 0, False, None
    if mode is RedisMode.STANDALONE:
        return _db_parse(path), bool(path), None
    db_text, slash, master_name = path.rpartition("/")
    if not master_name:
        raise InvalidRedisUrl(f"REDIS_URL for Sentinel needs the master's name: {SENTINEL_FORM}")
    if not _MASTER_NAME.match(master_name):
        raise InvalidRedisUrl(
            f"REDIS_URL master name {master_name!r} is not a valid name: {SENTINEL_FORM}"
        )
    return _db_parse(db_text), bool(slash and db_text), master_name


def _db_parse(path: str) -> int:
    if not path:
        return 0
    if not path.isdigit():
        raise InvalidRedisUrl(f"REDIS_URL database must be a number after the '/', got {path!r}")
    return int(path)
