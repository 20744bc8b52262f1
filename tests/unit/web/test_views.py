"""The JavaScript client at /client/murror.js and the demo page at /, gated by REALTIME_DEMO."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client, override_settings

from realtime.web.views import CLIENT_PATH
from tests.unit.test_settings import settings_of


def test_client_script_is_served_as_javascript_with_revalidation() -> None:
    response = Client().get("/client/murror.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert response.content == CLIENT_PATH.read_bytes()
    again = Client().get("/client/murror.js", headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304


def test_client_script_refuses_writes() -> None:
    assert Client().post("/client/murror.js").status_code == 405


@override_settings(REALTIME_DEMO=True)
def test_demo_page_uses_the_client_when_on() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    assert 'import { connect } from "/client/murror.js"' in response.content.decode()


@override_settings(REALTIME_DEMO=False)
def test_demo_page_is_not_found_when_off() -> None:
    assert Client().get("/").status_code == 404
    assert Client().get("/client/murror.js").status_code == 200


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEBUG": "true"}, True),
        ({"DEBUG": "false", "SECRET_KEY": "k"}, False),
        ({"DEBUG": "true", "REALTIME_DEMO": "false"}, False),
        ({"DEBUG": "false", "SECRET_KEY": "k", "REALTIME_DEMO": "true"}, True),
    ],
)
def test_demo_setting_follows_debug_unless_set(
    tmp_path: Path, env: dict[str, str], expected: bool
) -> None:
    assert settings_of(tmp_path, env)["DEMO"] is expected
