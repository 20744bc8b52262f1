"""`python manage.py check_redis` in a real process, against real redis-server processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import ACL_PASSWORD, ACL_USER, REDIS_PASSWORD
from tests.support.servers import PROJECT_ROOT, free_port, pod_base_env

SPEC_FIELDS = {
    "healthy": bool,
    "url": str,
    "mode": str,
    "ping_ms": float,
    "version": str,
    "role": str,
    "used_memory": int,
    "connected_clients": int,
    "ops_per_sec": int,
    "layer_roundtrip_ms": float,
}
HUMAN_LABELS = [
    "Redis URL",
    "Mode",
    "PING",
    "Version",
    "Role",
    "Memory used",
    "Connected clients",
    "Ops/sec",
    "Channel layer round trip",
]
WRONG_PASSWORD = "Wr0ng p@ss/w:rd%"


def check_redis(
    tmp_path: Path,
    env: dict[str, str],
    *args: str,
    secrets: tuple[str, ...] = (),
    limit: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run the command as an operator would; it never prints a traceback or a password."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check_redis", *args],
        cwd=PROJECT_ROOT,
        env=pod_base_env(tmp_path, "check") | env,
        capture_output=True,
        text=True,
        timeout=limit,
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    for secret in (REDIS_PASSWORD, WRONG_PASSWORD, *secrets):
        for form in (secret, quote(secret), quote(secret, safe="")):
            assert form not in output
    return result


def failure(
    tmp_path: Path, env: dict[str, str], exit_code: int, *args: str, limit: float = 30
) -> str:
    """The error line, the same in human and --json mode; a Solution line follows it."""
    human = check_redis(tmp_path, env, *args, limit=limit)
    assert human.returncode == exit_code, human.stderr
    error, solution = human.stderr.splitlines()[-2:]
    assert solution.startswith("Solution: ")
    as_json = check_redis(tmp_path, env, "--json", *args, limit=limit)
    assert as_json.returncode == exit_code
    report = json.loads(as_json.stdout)
    assert report["healthy"] is False
    assert (report["error"], report["solution"]) == (error, solution)
    return error


def healthy_report(tmp_path: Path, env: dict[str, str], secrets: tuple[str, ...] = ()) -> dict:
    result = check_redis(tmp_path, env, "--json", secrets=secrets)
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["healthy"] is True, report
    return report


def test_healthy_human_output(tmp_path: Path, redis_with_password) -> None:
    result = check_redis(tmp_path, {"REDIS_URL": redis_with_password.url(db=0)})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split(": ", 1)[0] for line in lines[:-1]] == HUMAN_LABELS
    assert lines[0] == f"Redis URL: redis://***@127.0.0.1:{redis_with_password.port}/0"
    assert lines[1] == "Mode: standalone"
    assert lines[4] == "Role: master"
    assert lines[2].endswith(" ms") and lines[-2].endswith(" ms")
    assert lines[-1] == "Healthy"


def test_healthy_json_has_every_field_typed(tmp_path: Path, redis_with_password) -> None:
    report = healthy_report(tmp_path, {"REDIS_URL": redis_with_password.url()})
    assert set(report) == set(SPEC_FIELDS)
    for field, kind in SPEC_FIELDS.items():
        assert isinstance(report[field], kind), (field, report[field])
    assert report["url"] == f"redis://***@127.0.0.1:{redis_with_password.port}"
    assert report["version"].startswith(("6.", "7.", "8."))
    assert (report["mode"], report["role"]) == ("standalone", "master")
    assert report["used_memory"] > 0 and report["connected_clients"] >= 1
    # The pub/sub layer polls every 0.1 s: a round trip takes about that long.
    assert report["ping_ms"] > 0 and 0 < report["layer_roundtrip_ms"] < 5000


def test_acl_user(tmp_path: Path, redis_with_acl_user) -> None:
    url = redis_with_acl_user.url(username=ACL_USER, password=ACL_PASSWORD, db=2)
    report = healthy_report(tmp_path, {"REDIS_URL": url}, secrets=(ACL_PASSWORD,))
    assert report["url"] == f"redis://***@127.0.0.1:{redis_with_acl_user.port}/2"


def test_missing_url(tmp_path: Path) -> None:
    assert failure(tmp_path, {}, 2) == "Error: REDIS_URL is required for Redis connection"
    assert json.loads(check_redis(tmp_path, {}, "--json").stdout)["url"] is None


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("not a url", "Error: REDIS_URL is not a URL: expected redis://"),
        ("redis://host:notaport", "Error: REDIS_URL port must be a number from 1 to 65535"),
        (f"redis://:{quote(REDIS_PASSWORD, safe='')}@host:notaport", "Error: REDIS_URL port"),
    ],
)
def test_malformed_url(tmp_path: Path, url: str, error: str) -> None:
    assert failure(tmp_path, {"REDIS_URL": url}, 2).startswith(error)


def test_refused(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://:{quote(REDIS_PASSWORD, safe='')}@127.0.0.1:{port}/0"
    assert (
        failure(tmp_path, {"REDIS_URL": url}, 1) == f"Error: connect ECONNREFUSED 127.0.0.1:{port}"
    )


def test_unknown_host(tmp_path: Path) -> None:
    url = f"redis://:{quote(REDIS_PASSWORD, safe='')}@murror-test.invalid:6379"
    assert (
        failure(tmp_path, {"REDIS_URL": url}, 1)
        == "Error: getaddrinfo ENOTFOUND murror-test.invalid"
    )


def test_timeout_is_bounded_by_the_option(tmp_path: Path, silent_server) -> None:
    """The silent server would hold the check for its default 5 s; with --timeout 1 the whole
    process (Python and Django start-up included) ends before the 4.5 s subprocess limit."""
    host, port = silent_server
    url = f"redis://:{quote(REDIS_PASSWORD, safe='')}@{host}:{port}"
    error = failure(tmp_path, {"REDIS_URL": url}, 1, "--timeout", "1", limit=4.5)
    assert error == f"Error: connect ETIMEDOUT {host}:{port}"


def test_timeout_option_must_be_positive(tmp_path: Path) -> None:
    result = check_redis(tmp_path, {}, "--timeout", "0")
    assert result.returncode == 2
    assert "expected seconds between 0 and 3600, got '0'" in result.stderr


def test_noauth(tmp_path: Path, redis_with_password) -> None:
    url = f"redis://127.0.0.1:{redis_with_password.port}"
    assert failure(tmp_path, {"REDIS_URL": url}, 1) == "Error: NOAUTH Authentication required"


def test_wrongpass(tmp_path: Path, redis_with_password) -> None:
    url = redis_with_password.url(password=WRONG_PASSWORD)
    assert failure(tmp_path, {"REDIS_URL": url}, 1) == (
        "Error: WRONGPASS invalid username-password pair or user is disabled."
    )


def test_tls_with_the_right_ca(tmp_path: Path, redis_with_tls, tls_files) -> None:
    env = {"REDIS_URL": redis_with_tls.url(db=0), "REDIS_TLS_CA_FILE": str(tls_files.ca)}
    report = healthy_report(tmp_path, env)
    assert report["url"] == f"rediss://***@127.0.0.1:{redis_with_tls.port}/0"


def test_tls_with_verification_off(tmp_path: Path, redis_with_tls) -> None:
    healthy_report(tmp_path, {"REDIS_URL": redis_with_tls.url(), "REDIS_TLS_VERIFY": "false"})


@pytest.mark.parametrize("ca", ["other", "system"])
def test_tls_with_a_ca_that_did_not_sign(tmp_path: Path, redis_with_tls, tls_files, ca) -> None:
    env = {"REDIS_URL": redis_with_tls.url()}
    if ca == "other":
        env["REDIS_TLS_CA_FILE"] = str(tls_files.other_ca)
    error = failure(tmp_path, env, 1)
    assert error.startswith(
        f"Error: TLS certificate verification failed for 127.0.0.1:{redis_with_tls.port}: "
    )


def test_plain_url_on_a_tls_port(tmp_path: Path, redis_with_tls) -> None:
    url = redis_with_tls.url().replace("rediss://", "redis://")
    error = failure(tmp_path, {"REDIS_URL": url}, 1, "--timeout", "2")
    assert error == f"Error: read ECONNRESET 127.0.0.1:{redis_with_tls.port}"


def test_tls_url_on_a_plain_port(tmp_path: Path, redis_with_password) -> None:
    url = redis_with_password.url().replace("redis://", "rediss://")
    error = failure(tmp_path, {"REDIS_URL": url}, 1, "--timeout", "1")
    assert error == f"Error: connect ETIMEDOUT 127.0.0.1:{redis_with_password.port}"


@pytest.mark.parametrize("denied", ["subscribe", "publish"])
def test_layer_round_trip_failure(tmp_path: Path, redis_factory, denied: str) -> None:
    """PING works, a message cannot go through the layer: the check says which step broke."""
    user = ["--user", "app", "on", f">{REDIS_PASSWORD}", "~*", "&*", "+@all", f"-{denied}"]
    server = redis_factory(args=user)
    env = {"REDIS_URL": server.url(username="app", password=REDIS_PASSWORD)}
    error = failure(tmp_path, env, 1)
    assert error == (
        "Error: channel layer round trip failed: "
        f"NOPERM this user has no permissions to run the '{denied}' command"
    )
    report = json.loads(check_redis(tmp_path, env, "--json").stdout)
    assert report["ping_ms"] > 0 and report["layer_roundtrip_ms"] is None


def test_info_denied_still_healthy(tmp_path: Path, redis_factory) -> None:
    """Some managed Redis users may not run INFO; the layer does not need it."""
    server = redis_factory(args=["--user", "app", "on", ">pw", "~*", "&*", "+@all", "-info"])
    env = {"REDIS_URL": server.url(username="app", password="pw")}
    result = check_redis(tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "Server info: not available (NOPERM " in result.stdout
    report = healthy_report(tmp_path, env)
    assert report["version"] is None and report["layer_roundtrip_ms"] > 0
    assert report["info_error"].startswith("NOPERM ")
