"""A real daphne pod's start-up: the documented log lines, fallback, REDIS_REQUIRED, health
endpoints."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from realtime.pod.startup import FALLBACK_MESSAGE
from tests.conftest import ACL_PASSWORD, ACL_USER, REDIS_PASSWORD
from tests.support.servers import free_port, wait_for

CONNECTED_LINES = [
    "Redis pub client connected",
    "Redis sub client connected",
    "Redis adapter initialized successfully",
]


def startup_messages(log: str) -> list[str]:
    return [
        line.split("realtime.pod.startup: ", 1)[1]
        for line in log.splitlines()
        if "realtime.pod.startup: " in line
    ]


def assert_no_secret(log: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in log
        assert quote(secret, safe="") not in log


def test_pod_with_redis_logs_the_four_lines_in_order(pod_factory, redis_with_password) -> None:
    url = redis_with_password.url(db=0)
    pod = pod_factory({"REDIS_URL": url}).wait_listening()
    expected = f"Connecting to Redis: redis://***@127.0.0.1:{redis_with_password.port}/0"
    assert startup_messages(pod.log()) == [expected, *CONNECTED_LINES]
    assert pod.http_get("/readyz") == (200, json.dumps({"status": "ok", "layer": "redis"}))
    assert_no_secret(pod.log(), REDIS_PASSWORD)


def test_pod_with_acl_user(pod_factory, redis_with_acl_user) -> None:
    url = redis_with_acl_user.url(username=ACL_USER, password=ACL_PASSWORD)
    pod = pod_factory({"REDIS_URL": url}).wait_listening()
    masked = f"Connecting to Redis: redis://***@127.0.0.1:{redis_with_acl_user.port}"
    assert startup_messages(pod.log()) == [masked, *CONNECTED_LINES]
    assert_no_secret(pod.log(), ACL_PASSWORD, ACL_USER)


def test_a_line_is_logged_only_once_it_is_true(pod_factory, redis_factory) -> None:
    """A user that may PING but not SUBSCRIBE: the pub client connects, the sub client never."""
    no_pubsub = ["--user", "nosub", "on", ">pw", "~*", "&*", "+@all", "-subscribe"]
    server = redis_factory(args=no_pubsub)
    pod = pod_factory({"REDIS_URL": server.url(username="nosub", password="pw")})
    messages = startup_messages(pod.wait_listening().log())
    assert messages[1] == "Redis pub client connected"
    assert "Redis sub client connected" not in messages
    assert "Redis adapter initialized successfully" not in messages
    assert messages[-1] == FALLBACK_MESSAGE


def fallback_cases(silent_server, redis_with_password) -> dict[str, tuple[str, str]]:
    refused_port = free_port()
    host, silent_port = silent_server
    return {
        "refused": (
            f"redis://:pw@127.0.0.1:{refused_port}",
            f"Error: connect ECONNREFUSED 127.0.0.1:{refused_port}",
        ),
        "unknown host": (
            "redis://murror-test.invalid:6379",
            "Error: getaddrinfo ENOTFOUND murror-test.invalid",
        ),
        "timeout": (
            f"redis://{host}:{silent_port}",
            f"Error: connect ETIMEDOUT {host}:{silent_port}",
        ),
        "noauth": (
            f"redis://127.0.0.1:{redis_with_password.port}",
            "Error: NOAUTH Authentication required",
        ),
        "wrongpass": (
            redis_with_password.url(password="Wr0ngSecret"),
            "Error: WRONGPASS invalid username-password pair or user is disabled.",
        ),
        "malformed": (
            "redis://:Wr0ngSecret@host:notaport",
            "Error: REDIS_URL port must be a number from 1 to 65535, got 'notaport'",
        ),
    }


@pytest.mark.parametrize(
    "case", ["refused", "unknown host", "timeout", "noauth", "wrongpass", "malformed"]
)
def test_unreachable_redis_falls_back_and_serves(
    case, pod_factory, silent_server, redis_with_password
) -> None:
    url, error = fallback_cases(silent_server, redis_with_password)[case]
    pod = pod_factory({"REDIS_URL": url}).wait_listening()
    messages = startup_messages(pod.log())
    assert error in messages
    assert messages.index(error) < messages.index(FALLBACK_MESSAGE) == len(messages) - 1
    assert messages[messages.index(error) + 1].startswith("Solution: ")
    assert "Redis adapter initialized successfully" not in messages
    status, body = pod.http_get("/readyz")
    assert (status, json.loads(body)) == (
        200,
        {"status": "ok", "layer": "memory", "degraded": True},
    )
    assert_no_secret(pod.log(), "Wr0ngSecret", REDIS_PASSWORD)


@pytest.mark.parametrize("case", ["refused", "noauth", "malformed"])
def test_redis_required_refuses_to_start(
    case, pod_factory, silent_server, redis_with_password
) -> None:
    url, error = fallback_cases(silent_server, redis_with_password)[case]
    pod = pod_factory({"REDIS_URL": url, "REDIS_REQUIRED": "true"})
    assert pod.wait_exit(timeout=30) != 0
    messages = startup_messages(pod.log())
    assert error in messages
    assert FALLBACK_MESSAGE not in messages
    assert "Listening on TCP address" not in pod.log()
    assert_no_secret(pod.log(), "Wr0ngSecret", REDIS_PASSWORD)


def test_no_redis_url_serves_in_memory(pod_factory) -> None:
    pod = pod_factory().wait_listening()
    assert pod.http_get("/readyz") == (200, json.dumps({"status": "ok", "layer": "memory"}))
    assert "Connecting to Redis" not in pod.log()


def test_health_endpoints_answer_any_host_header(pod_factory) -> None:
    pod = pod_factory().wait_listening()
    assert pod.http_get("/healthz", host="10.42.0.17:8000") == (200, json.dumps({"status": "ok"}))
    assert pod.http_get("/readyz", host="10.42.0.17:8000")[0] == 200
    assert pod.http_get("/admin/login/", host="10.42.0.17:8000")[0] == 400


def test_readyz_fails_when_required_redis_goes_away(pod_factory, redis_factory) -> None:
    server = redis_factory(password="pw")
    pod = pod_factory({"REDIS_URL": server.url(), "REDIS_REQUIRED": "true"})
    pod.wait_listening()
    assert pod.http_get("/readyz")[0] == 200
    server.stop()
    status, body = pod.http_get("/readyz")
    assert status == 503
    assert json.loads(body)["status"] == "unavailable"
    # The pooled connection first reports the close; the next probe finds the port refused.
    refused = {
        "status": "unavailable",
        "layer": "redis",
        "error": "Error: connect ECONNREFUSED the host of REDIS_URL",
    }
    wait_for(lambda: pod.http_get("/readyz") == (503, json.dumps(refused)), 10, "refused")
    assert str(server.port) not in pod.http_get("/readyz")[1]
    assert pod.http_get("/healthz")[0] == 200
