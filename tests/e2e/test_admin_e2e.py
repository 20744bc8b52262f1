"""End to end: three daphne pods on one redis-server, real WebSocket clients on each, and a
staff user in headless Chromium reading the admin's Realtime page and disconnecting clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from realtime.access.tokens import token_for
from realtime.protocols.closecodes import CloseCode
from tests.conftest import REDIS_PASSWORD
from tests.support.servers import (
    DaphnePod,
    RedisServer,
    manage_py_ok,
    pods_serving,
    wait_for,
)

STAFF, STAFF_PASSWORD = "staff", "staff-pw-e2e-12345"
CLIENTS_PER_POD = {"pod-1": 1, "pod-2": 2, "pod-3": 3}
TIMEOUT = 5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[DaphnePod]]:
    workdir = tmp_path_factory.mktemp("admin-e2e")
    redis = RedisServer(workdir / "redis", password=REDIS_PASSWORD).start()
    env = {"REDIS_URL": redis.url(), "REALTIME_STATS_SECONDS": "1"}
    try:
        # One SQLite file in workdir for all pods and the commands: the same staff user.
        manage_py_ok(workdir, env, "migrate", "--noinput")
        superuser = env | {"DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD}
        manage_py_ok(workdir, superuser, "createsuperuser", "--noinput", "--username", STAFF,
               "--email", "staff@example.com")  # fmt: skip
        # A token is for a user who still exists and is active.
        create = "from django.contrib.auth.models import User; User.objects.create_user(pk=7, "
        manage_py_ok(workdir, env, "shell", "-c", create + "username='mobile-user')")
        with pods_serving(workdir, env, list(CLIENTS_PER_POD)) as pods:
            yield pods
    finally:
        redis.stop()


def welcome(client: ClientConnection) -> str:
    message = json.loads(client.recv(timeout=TIMEOUT))
    assert message["type"] == "welcome"
    client.send(json.dumps({"type": "join", "room": "e2e-room"}))
    assert json.loads(client.recv(timeout=TIMEOUT))["type"] == "joined"
    return message["connection_id"]


def answers_ping(client: ClientConnection) -> bool:
    client.send(json.dumps({"type": "ping", "id": "alive"}))
    return json.loads(client.recv(timeout=TIMEOUT)) == {"type": "pong", "id": "alive"}


def close_code(client: ClientConnection) -> int | None:
    """Wait for the server to close `client`; its close code."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            client.recv(timeout=10)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_staff_see_every_pod_and_disconnect_one_client(cluster, browser) -> None:
    pods = {pod.name: pod for pod in cluster}
    with ExitStack() as stack:
        # pod-1's client is a known user (a signed token, as a mobile app would connect).
        token = token_for(SimpleNamespace(pk=7, get_username=lambda: "mobile-user"))
        urls = {name: pod.ws_url for name, pod in pods.items()} | {
            "pod-1": f"{pods['pod-1'].ws_url}?token={token}"
        }
        clients = {
            name: [stack.enter_context(connect(urls[name])) for _ in range(count)]
            for name, count in CLIENTS_PER_POD.items()
        }
        ids = {client: welcome(client) for group in clients.values() for client in group}

        page = browser.new_page()
        stack.callback(page.close)
        page.goto(f"http://127.0.0.1:{pods['pod-1'].port}/admin/realtime/")
        assert "/admin/login/" in page.url  # anonymous: the login page first
        page.fill("#id_username", STAFF)
        page.fill("#id_password", STAFF_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/realtime/")

        def page_shows(counts: dict[str, str], total: str) -> bool:
            page.reload()
            shown = dict(
                zip(
                    page.locator("#pods tr.pod th").all_inner_texts(),
                    page.locator("#pods tr.pod td.connections").all_inner_texts(),
                    strict=True,
                )
            )
            return shown == counts and page.locator("#total td.connections").inner_text() == total

        expected = {name: str(count) for name, count in CLIENTS_PER_POD.items()}
        wait_for(lambda: page_shows(expected, "6"), 20, "three pods and Total 6", interval=0.5)
        assert page.locator("#total th").inner_text() == "Total"
        assert page.locator("#rooms td").all_inner_texts()[:2] == ["e2e-room", "6"]
        assert "Connected clients" in page.locator("#redis").inner_text()
        known = page.locator(f'tr[data-connection="{ids[clients["pod-1"][0]]}"]').inner_text()
        assert "mobile-user" in known
        html = page.content()
        assert REDIS_PASSWORD not in html and quote(REDIS_PASSWORD, safe="") not in html

        # The button on one client's row: that client only, on pod-2, through the layer.
        target = clients["pod-2"][1]
        page.click(f'tr[data-connection="{ids[target]}"] input[type=submit]')
        page.wait_for_url("**/admin/realtime/")
        assert f"close connection {ids[target]}" in page.locator("ul.messagelist").inner_text()
        assert close_code(target) == CloseCode.CLOSED_BY_STAFF
        others = [client for client in ids if client is not target]
        assert all(answers_ping(client) for client in others)

        # An id typed in: every pod is asked, only its owner (pod-3) closes it.
        typed = clients["pod-3"][0]
        page.fill("#connection-id", ids[typed])
        page.click("#disconnect-by-id input[type=submit]")
        page.wait_for_url("**/admin/realtime/")
        assert close_code(typed) == CloseCode.CLOSED_BY_STAFF
        others.remove(typed)
        assert all(answers_ping(client) for client in others)

        expected.update({"pod-2": "1", "pod-3": "2"})
        wait_for(lambda: page_shows(expected, "4"), 20, "Total 4 after two disconnects", 0.5)
