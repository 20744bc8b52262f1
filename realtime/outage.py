"""One log line when Redis starts failing and one when it is back, not one per failed call."""

from __future__ import annotations

import logging


class OutageLog:
    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.failures = 0
        self.down = False

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if not self.down:
            self.down = True
            self.logger.warning(
                "%s: %s (counted, not logged again until it recovers)", self.what, error
            )

    def recovered(self) -> None:
        if self.down:
            self.down = False
            self.logger.warning("%s: working again", self.what)
