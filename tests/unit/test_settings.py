"""murror.settings read in a fresh process from a given environment and `.env` file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.support.servers import PROJECT_ROOT, pod_base_env

PRINT_SETTINGS = """
import json
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG, "SECRET_KEY": s.SECRET_KEY, "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "POD_NAME": s.POD_NAME, "REDIS_REQUIRED": s.REDIS_REQUIRED,
    "DATABASE": s.DATABASES["default"]["ENGINE"] + " " + str(s.DATABASES["default"]["NAME"]),
    "LAYER": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "LIMITS": [s.REALTIME_MAX_FRAME_BYTES, s.REALTIME_MAX_ROOMS, s.REALTIME_RATE, s.REALTIME_BURST],
    "TLS": [s.REDIS_TLS.ca_file, s.REDIS_TLS.verify],
    "DEMO": s.REALTIME_DEMO,
}))
"""


def settings_in(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = pod_base_env(tmp_path, "unused")
    for name in ("POD_NAME", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"):
        del full_env[name]
    full_env |= {"DJANGO_SETTINGS_MODULE": "murror.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=PROJECT_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of(tmp_path: Path, env: dict[str, str]) -> dict:
    result = settings_in(tmp_path, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_secret_key_required_without_debug(tmp_path: Path) -> None:
    result = settings_in(tmp_path, {})
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is false" in result.stderr


def test_debug_defaults(tmp_path: Path) -> None:
    values = settings_of(tmp_path, {"DEBUG": "true"})
    assert values["SECRET_KEY"]
    assert values["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1"]
    assert values["POD_NAME"] == socket.gethostname()
    assert values["REDIS_REQUIRED"] is False
    assert values["DATABASE"] == f"django.db.backends.sqlite3 {PROJECT_ROOT / 'db.sqlite3'}"
    assert values["LAYER"] == "channels.layers.InMemoryChannelLayer"
    assert values["LIMITS"] == [65536, 100, 50.0, 100]
    assert values["TLS"] == [None, True]


def test_environment_drives_every_setting(tmp_path: Path) -> None:
    values = settings_of(
        tmp_path,
        {
            "SECRET_KEY": "k",
            "ALLOWED_HOSTS": "api.example.com,.murror.io",
            "POD_NAME": "murror-api-7c9d",
            "REDIS_URL": "rediss://default:pw@h:25061/0",
            "REDIS_REQUIRED": "true",
            "REDIS_TLS_CA_FILE": "/etc/ca.pem",
            "REDIS_TLS_VERIFY": "false",
            "DATABASE_URL": "postgres://u:p@db:5432/murror",
            "REALTIME_MAX_FRAME_BYTES": "1024",
            "REALTIME_MAX_ROOMS": "5",
            "REALTIME_RATE": "2.5",
            "REALTIME_BURST": "7",
        },
    )
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["api.example.com", ".murror.io"]
    assert values["POD_NAME"] == "murror-api-7c9d"
    assert values["REDIS_REQUIRED"] is True
    assert values["LAYER"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert values["DATABASE"] == "django.db.backends.postgresql murror"
    assert values["LIMITS"] == [1024, 5, 2.5, 7]
    assert values["TLS"] == ["/etc/ca.pem", False]


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SECRET_KEY=from-file\nPOD_NAME=file-pod\nREALTIME_MAX_ROOMS=9\n")
    values = settings_of(tmp_path, {"ENV_FILE": str(env_file), "POD_NAME": "env-pod"})
    assert values["SECRET_KEY"] == "from-file"
    assert values["POD_NAME"] == "env-pod"
    assert values["LIMITS"][1] == 9


def test_malformed_redis_url_does_not_break_settings(tmp_path: Path) -> None:
    values = settings_of(tmp_path, {"DEBUG": "true", "REDIS_URL": "redis://:pw@host:notaport"})
    assert values["LAYER"] == "channels.layers.InMemoryChannelLayer"


def test_passwords_are_validated() -> None:
    with pytest.raises(ValidationError):
        validate_password("password")
    with pytest.raises(ValidationError):
        validate_password("12345678901")
    validate_password("a long passphrase nobody guesses")
