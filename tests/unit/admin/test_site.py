"""The admin's Realtime page and disconnect action, in process (memory layer): staff only,
the pod and its Total, Redis health without the password."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.conftest import REDIS_PASSWORD

PAGE = "/admin/realtime/"
DISCONNECT = "/admin/realtime/disconnect/"


def test_anonymous_users_go_to_the_login_page(client) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={PAGE}"
    assert client.post(DISCONNECT, {"connection_id": "x"})["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_users_who_are_not_staff_go_to_the_login_page(client) -> None:
    User.objects.create_user("visitor", password="pw-visitor-1")
    client.login(username="visitor", password="pw-visitor-1")
    assert client.get(PAGE)["Location"].startswith("/admin/login/")


def test_the_index_links_to_the_realtime_page(admin_client) -> None:
    page = admin_client.get("/admin/").content.decode()
    assert f'<a href="{PAGE}" class="section"' in page
    assert ">Realtime</a>" in page


def test_without_redis_the_page_shows_this_pod_and_its_total(admin_client, settings) -> None:
    settings.POD_NAME = "solo-pod"
    response = admin_client.get(PAGE)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-pod="solo-pod"' in page
    assert '<th scope="row">Total</th>' in page
    assert "REDIS_URL is not set" in page
    assert '<svg id="chart"' in page
    assert '<meta http-equiv="refresh"' in page


def test_the_redis_panel_shows_figures_and_never_the_password(
    admin_client, settings, redis_with_password
) -> None:
    settings.REDIS_URL = redis_with_password.url()
    page = admin_client.get(PAGE).content.decode()
    assert "redis://***@127.0.0.1:" in page
    assert "Connected clients" in page
    assert REDIS_PASSWORD not in page
    settings.REDIS_URL = redis_with_password.url(password="wrong " + REDIS_PASSWORD)
    page = admin_client.get(PAGE).content.decode()
    assert "Error: WRONGPASS" in page
    assert REDIS_PASSWORD not in page


def test_a_malformed_redis_url_is_an_error_without_the_password(admin_client, settings) -> None:
    settings.REDIS_URL = "redis://:hunter2-secret@host:notaport"
    page = admin_client.get(PAGE).content.decode()
    assert "REDIS_URL port must be a number" in page
    assert "hunter2" not in page


def test_disconnect_is_a_post_with_a_valid_id(admin_client) -> None:
    assert admin_client.get(DISCONNECT).status_code == 405
    response = admin_client.post(DISCONNECT, {"connection_id": "<script>"}, follow=True)
    assert "Not a connection id" in response.content.decode()
