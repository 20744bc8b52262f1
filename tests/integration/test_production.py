"""What the shipped Deployment's environment gives when DEBUG is false, with none of the test
pods' plain-HTTP overrides: `manage.py check --deploy` clean, our own deploy checks, HTTPS
behind the TLS proxy (redirect, HSTS, secure cookies), and the probes and scrapers that speak
plain HTTP left alone."""

from __future__ import annotations

import http.client
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_deploy import deployment_argv, manifest_env, on_loopback
from tests.support.servers import PLAIN_HTTP_ENV, PROJECT_ROOT, DaphnePod, pod_base_env

HOST = "api.murror.example"


def production_env(workdir: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = pod_base_env(workdir, "production") | manifest_env(redis_url, workdir)
    env["SECRET_KEY"] = secrets.token_urlsafe(50)  # a real one: Django checks its strength
    for name in PLAIN_HTTP_ENV:
        env.pop(name)
    return env | extra


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_shipped_environment(tmp_path) -> None:
    result = deploy_check(production_env(tmp_path, "redis://127.0.0.1:6399/0"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_our_deploy_checks_name_what_leaves_the_deployment_open(tmp_path) -> None:
    env = production_env(
        tmp_path,
        "rediss://127.0.0.1:6399/0",
        REALTIME_REQUIRE_AUTH="false",
        REDIS_TLS_VERIFY="false",
        REALTIME_ALLOWED_ORIGINS="*",
    )
    result = deploy_check(env)
    assert result.returncode != 0
    for check_id, text in [
        ("realtime.W001", "REALTIME_REQUIRE_AUTH is false"),
        ("realtime.W002", "REDIS_TLS_VERIFY is false"),
        ("realtime.W003", "* in ALLOWED_HOSTS or REALTIME_ALLOWED_ORIGINS"),
    ]:
        assert f"({check_id}) {text}" in result.stderr, result.stderr


def get(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """One request, redirects not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.fixture
def production_pod(tmp_path, redis_with_password):
    pod = DaphnePod(tmp_path, {}, name="production")
    pod.env = production_env(tmp_path, redis_with_password.url())
    pod.start(on_loopback(deployment_argv())(pod.port)).wait_listening()
    yield pod
    pod.stop()


def test_django_redirects_plain_http_and_secures_https_behind_the_proxy(production_pod) -> None:
    port = production_pod.port
    plain = get(port, "/admin/login/", {"Host": HOST})
    assert plain.status == 301
    assert plain.getheader("Location") == f"https://{HOST}/admin/login/"
    proxied = get(port, "/admin/login/", {"Host": HOST, "X-Forwarded-Proto": "https"})
    assert proxied.status == 200
    assert proxied.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    cookies = proxied.headers.get_all("Set-Cookie") or []
    (csrf,) = [cookie for cookie in cookies if cookie.startswith("csrftoken=")]
    assert "Secure" in csrf


def test_probes_and_scrapers_over_plain_http_are_not_redirected(production_pod) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert get(production_pod.port, path, {"Host": "10.0.0.7:8000"}).status == 200, path
