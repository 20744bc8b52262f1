"""One log line when Redis starts failing and one when it is back, not one per failed call."""

from __future__ import annotations

import logging
from collections.abc import Callable

from realtime.redis.errors import redis_problem_classify
from realtime.redis.url import RedisTarget


class OutageLog:
    """Counts the failures of one kind of Redis operation and logs each outage once.

    `on_error` is called for every failed operation: the pod counts them all in
    `murror_redis_errors_total`. `target` names the Redis in the error text, as start-up and
    check_redis print it (never the password).
    """

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        target: RedisTarget | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.logger = logger
        self.what = what
        self.target = target
        self.on_error = on_error
        self.failures = 0
        self.down = False

    def failed(self, error: BaseException, lost: int = 1) -> None:
        """One failed Redis operation, which cost `lost` of the things this log counts."""
        self.failures += lost
        if self.on_error:
            self.on_error(error)
        if not self.down:
            self.down = True
            self.logger.warning(
                "%s: %s (counted, not logged again until it recovers)", self.what, self._said(error)
            )

    def recovered(self) -> None:
        if self.down:
            self.down = False
            self.logger.warning("%s: working again", self.what)

    def _said(self, error: BaseException) -> str:
        if self.target is None:
            return type(error).__name__
        return redis_problem_classify(error, self.target).error
