"""Django system checks of our own, beside Django's security checks in `manage.py check
--deploy`: settings that leave a deployment open (docs/deploying.md, Checks)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

AUTH_OFF = "realtime.W001"
TLS_UNVERIFIED = "realtime.W002"
ANY_ORIGIN = "realtime.W003"


@register(Tags.security, deploy=True)
def realtime_deploy_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if not settings.REALTIME_REQUIRE_AUTH:
        found.append(
            Warning(
                "REALTIME_REQUIRE_AUTH is false: anonymous clients may connect and join rooms.",
                hint="Set REALTIME_REQUIRE_AUTH=true, and REALTIME_ROOM_AUTHORIZER for rooms "
                "that are not for everyone.",
                id=AUTH_OFF,
            )
        )
    if settings.REDIS_URL.startswith("rediss") and not settings.REDIS_TLS.verify:
        found.append(
            Warning(
                "REDIS_TLS_VERIFY is false: the Redis server's certificate is not checked, so "
                "anyone on the path can read and change room events.",
                hint="Remove REDIS_TLS_VERIFY, and give a private CA with REDIS_TLS_CA_FILE.",
                id=TLS_UNVERIFIED,
            )
        )
    open_to = [o for o in [*settings.ALLOWED_HOSTS, *settings.REALTIME_ALLOWED_ORIGINS] if "*" in o]
    if open_to:
        found.append(
            Warning(
                f"{', '.join(open_to)} in ALLOWED_HOSTS or REALTIME_ALLOWED_ORIGINS: a page on any "
                "site may open WebSockets with its visitors' session cookies.",
                hint="List the hosts and origins of your front ends instead.",
                id=ANY_ORIGIN,
            )
        )
    return found
