"""`python manage.py emit ROOM EVENT [JSON]`: one event to a room, on every pod."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from realtime.config import realtime_config
from realtime.emit import room_emit_sync
from realtime.protocols.rules import ProtocolError
from realtime.redis.errors import (
    EXIT_CONFIGURATION,
    RedisProblem,
    redis_problem_classify,
    redis_problem_invalid_url,
    redis_problem_missing,
)


class Command(BaseCommand):
    help = "Send one event to every member of a room on every pod (needs REDIS_URL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("room")
        parser.add_argument("event")
        parser.add_argument("data", nargs="?", default="null", help="JSON; default null")

    def handle(self, *args: Any, room: str, event: str, data: str, **options: Any) -> None:
        redis_url = realtime_config().redis.url
        if redis_url.error is not None:
            self._fail(redis_problem_invalid_url(redis_url.error))
        target = redis_url.target
        if target is None:
            self._fail(redis_problem_missing())
        try:
            payload = json.loads(data)
        except ValueError:
            self._fail(_usage_problem("DATA is not valid JSON", 'quote it: \'{"text": "hi"}\''))
        try:
            room_emit_sync(room, event, payload)
        except ProtocolError as error:
            self._fail(_usage_problem(error.message, "fix the room or event name"))
        except Exception as error:
            self._fail(redis_problem_classify(error, target))
        self.stdout.write(f"Sent {event} to room {room}")

    def _fail(self, problem: RedisProblem) -> NoReturn:
        self.stderr.write(problem.error)
        self.stderr.write(problem.solution)
        raise SystemExit(problem.exit_code)


def _usage_problem(error: str, solution: str) -> RedisProblem:
    return RedisProblem(f"Error: {error}", f"Solution: {solution}", EXIT_CONFIGURATION)
