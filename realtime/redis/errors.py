"""Turn whatever went wrong with Redis into its documented error text and a one-line solution.

Start-up logs, check_redis and the admin's Redis panel all print these, so an operator
sees the same words everywhere, and never a password.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from redis import exceptions as redis_exceptions
from redis.asyncio.sentinel import MasterNotFoundError

from realtime.redis.url import (
    CLUSTER_FORM,
    SENTINEL_FORM,
    URL_FORM,
    InvalidRedisUrl,
    RedisTarget,
)

EXIT_UNHEALTHY = 1
EXIT_CONFIGURATION = 2
# redis-py's texts for a peer that hung up; the OS error is not always kept as the cause.
_CLOSED_BY_SERVER = ("Connection reset by peer", "Connection closed by server")


@dataclass(frozen=True)
class RedisProblem:
    """What is wrong, in the documented words (docs/operations.md, Troubleshooting), and what
    the operator should do about it."""

    error: str
    solution: str
    exit_code: int = EXIT_UNHEALTHY

    def __str__(self) -> str:
        return self.error


class RedisUnavailable(RuntimeError):
    """Redis cannot be used; carries the classified problem."""

    def __init__(self, problem: RedisProblem) -> None:
        super().__init__(problem.error)
        self.problem = problem


def redis_problem_missing() -> RedisProblem:
    return RedisProblem(
        "Error: REDIS_URL is required for Redis connection",
        f"Solution: set REDIS_URL in the environment or .env, as {URL_FORM}",
        EXIT_CONFIGURATION,
    )


def redis_problem_invalid_url(error: InvalidRedisUrl) -> RedisProblem:
    return RedisProblem(
        f"Error: {error}",
        f"Solution: fix REDIS_URL to the form {URL_FORM}; "
        "URL-escape special characters in the password",
        EXIT_CONFIGURATION,
    )


def redis_problem_classify(error: BaseException, target: RedisTarget) -> RedisProblem:
    """Classify an exception raised while talking to `target`."""
    for cause in _causes(error):
        if isinstance(cause, redis_exceptions.ReadOnlyError):
            return redis_problem_replica()
        if isinstance(cause, (redis_exceptions.MovedError, redis_exceptions.ClusterCrossSlotError)):
            return redis_problem_cluster_node()
        if isinstance(cause, MasterNotFoundError):
            return _sentinel_problem(str(cause), target)
        if isinstance(cause, redis_exceptions.RedisClusterException) and "not enabled" in str(
            cause
        ):
            return redis_problem_not_cluster()
        if isinstance(cause, ssl.SSLCertVerificationError):
            return RedisProblem(
                f"Error: TLS certificate verification failed for {target.address}: "
                f"{cause.verify_message}",
                "Solution: set REDIS_TLS_CA_FILE to the CA that signed the server's certificate "
                "(or REDIS_TLS_VERIFY=false, only for testing)",
            )
        if isinstance(cause, ssl.SSLError):
            return RedisProblem(
                f"Error: TLS handshake failed with {target.address}: {cause.reason or cause}",
                "Solution: check that the port speaks TLS (rediss://) and the CA file is right",
            )
        if isinstance(cause, socket.gaierror):
            return RedisProblem(
                f"Error: getaddrinfo ENOTFOUND {target.host}",
                f"Solution: check the host name {target.host} in REDIS_URL and the pod's DNS",
            )
        if isinstance(cause, ConnectionRefusedError):
            return RedisProblem(
                f"Error: connect ECONNREFUSED {target.address}",
                f"Solution: start Redis on {target.address}, or fix the host and port in REDIS_URL",
            )
        if isinstance(cause, (TimeoutError, redis_exceptions.TimeoutError)):
            # A TLS client on a plain port waits for a handshake that never comes.
            scheme_hint = "redis:// for a plain port" if target.tls else "rediss:// for a TLS port"
            return RedisProblem(
                f"Error: connect ETIMEDOUT {target.address}",
                f"Solution: check that {target.address} is reachable (firewall, security group, "
                f"VPC) and that the port is Redis ({scheme_hint})",
            )
        text = str(cause)
        if isinstance(cause, ConnectionResetError) or any(
            closed in text for closed in _CLOSED_BY_SERVER
        ):
            # A plain client on a TLS port: Redis drops the connection at the first bytes.
            return RedisProblem(
                f"Error: read ECONNRESET {target.address}",
                "Solution: the server closed the connection: use rediss:// if the port speaks "
                "TLS, and check that it is Redis and below its maxclients",
            )
        if isinstance(cause, redis_exceptions.NoPermissionError):
            return RedisProblem(
                f"Error: NOPERM {_scrubbed(text, target)}",
                'Solution: give this Redis user the ACL of docs/operations.md, "A '
                'least-privilege Redis user": its commands on ~murror:* and &murror*',
            )
        if "WRONGPASS" in text or "invalid username-password" in text:
            return RedisProblem(
                "Error: WRONGPASS invalid username-password pair or user is disabled.",
                "Solution: fix the user name and password in REDIS_URL "
                "(URL-escape special characters)",
            )
        if isinstance(cause, redis_exceptions.AuthenticationError) or "NOAUTH" in text:
            # redis-py 8 opens with HELLO 3; Redis then answers "HELLO must be called with the
            # client already authenticated", which is NOAUTH by another name.
            return RedisProblem(
                "Error: NOAUTH Authentication required",
                "Solution: put the password in REDIS_URL: redis://:password@host:port or "
                "redis://user:password@host:port",
            )
    return RedisProblem(
        f"Error: Redis at {target.address} failed: {_scrubbed(str(error), target)}",
        "Solution: run `python manage.py check_redis` for a full diagnosis",
    )


def redis_problem_cluster_node() -> RedisProblem:
    return RedisProblem(
        "Error: REDIS_URL points at a Redis Cluster node",
        f"Solution: use {CLUSTER_FORM} (rediss+cluster:// for TLS), naming one or more nodes",
    )


def redis_problem_replica() -> RedisProblem:
    return RedisProblem(
        "Error: REDIS_URL points at a read-only replica",
        "Solution: point REDIS_URL at the primary (a managed Redis's primary endpoint, not its "
        f"reader endpoint), or follow failovers through Sentinel: {SENTINEL_FORM}",
    )


def redis_problem_cluster_unhealthy(state: str, unhealthy: list[str]) -> RedisProblem:
    failed = f"; primaries down: {', '.join(unhealthy)}" if unhealthy else ""
    return RedisProblem(
        f"Error: Redis Cluster is not healthy: cluster_state:{state}{failed}",
        "Solution: wait for the cluster to fail over (a replica takes over a failed primary), or "
        "bring the failed nodes back; `redis-cli --cluster check HOST:PORT` shows each slot",
    )


def redis_problem_not_cluster() -> RedisProblem:
    return RedisProblem(
        "Error: REDIS_URL names a cluster, but the node is not in cluster mode",
        f"Solution: use redis:// for one server, or {CLUSTER_FORM} for a Redis Cluster",
        EXIT_CONFIGURATION,
    )


def _sentinel_problem(text: str, target: RedisTarget) -> RedisProblem:
    """No sentinel gave a master. redis-py keeps only each sentinel's error kind, after " - " in
    its text ("auth:AuthenticationError", "network:ConnectionError")."""
    kinds = [part.split(", <redis")[0] for part in text.split(" - ")[1:]]
    if any("AuthenticationError" in kind for kind in kinds):
        if target.sentinel_password:
            return RedisProblem(
                f"Error: WRONGPASS the sentinels at {target.address} refused "
                "REDIS_SENTINEL_PASSWORD",
                "Solution: set REDIS_SENTINEL_PASSWORD to the sentinels' own password "
                "(requirepass in sentinel.conf); the URL's password is the data nodes'",
            )
        return RedisProblem(
            f"Error: NOAUTH the sentinels at {target.address} require a password",
            "Solution: set REDIS_SENTINEL_PASSWORD to the sentinels' own password "
            "(requirepass in sentinel.conf)",
        )
    if kinds and all("TimeoutError" in kind for kind in kinds):
        return RedisProblem(
            f"Error: connect ETIMEDOUT {target.address}",
            f"Solution: check that the sentinels at {target.address} are reachable (firewall, "
            "security group) and listen there",
        )
    if kinds:
        return RedisProblem(
            f"Error: connect ECONNREFUSED {target.address}",
            f"Solution: start the sentinels on {target.address}, or fix the hosts and ports "
            "in REDIS_URL (sentinels listen on 26379 by default)",
        )
    return RedisProblem(
        f"Error: no sentinel at {target.address} knows a master named {target.master_name}",
        f"Solution: fix the master name at the end of REDIS_URL ({SENTINEL_FORM}); "
        "`SENTINEL MASTERS` on a sentinel lists the names it monitors",
    )


def redis_problem_in_layer(problem: RedisProblem) -> RedisProblem:
    """PING worked but a message did not go through the channel layer: say it was that step."""
    reason = problem.error.removeprefix("Error: ")
    return RedisProblem(
        f"Error: channel layer round trip failed: {reason}", problem.solution, problem.exit_code
    )


def redis_error_is_read_only(error: BaseException) -> bool:
    """A write refused because the server is a replica now (a failover happened)."""
    return any(isinstance(cause, redis_exceptions.ReadOnlyError) for cause in _causes(error))


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it was raised from, innermost last; redis-py hides the OS error there."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _scrubbed(text: str, target: RedisTarget) -> str:
    for password in target.secrets:
        for secret in (password, quote(password, safe="")):
            text = text.replace(secret, "***")
    return text
