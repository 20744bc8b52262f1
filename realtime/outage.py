"""One log line when Redis starts failing and one when it is back, not one per failed call;
every failure is counted in the pod's stats (`murror_redis_errors_total`)."""

from __future__ import annotations

import logging

from django.conf import settings

from realtime.redis_errors import redis_problem_classify
from realtime.redis_url import InvalidRedisUrl, redis_target_parse
from realtime.stats import pod_stats


class OutageLog:
    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.failures = 0
        self.down = False

    def failed(self, error: BaseException, lost: int = 1) -> None:
        """One failed Redis operation, which cost `lost` of the things this log counts."""
        self.failures += lost
        pod_stats.redis_errors += 1
        if not self.down:
            self.down = True
            self.logger.warning(
                "%s: %s (counted, not logged again until it recovers)", self.what, _said(error)
            )

    def recovered(self) -> None:
        if self.down:
            self.down = False
            self.logger.warning("%s: working again", self.what)


def _said(error: BaseException) -> str:
    """SPEC.md's words for the error, as start-up and check_redis print them."""
    try:
        target = redis_target_parse(settings.REDIS_URL, settings.REDIS_TLS)
    except InvalidRedisUrl:
        return type(error).__name__
    return redis_problem_classify(error, target).error
