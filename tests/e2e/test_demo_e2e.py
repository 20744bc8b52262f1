"""The demo page in headless Chromium: two pages on two pods share a room over one Redis, and the
page whose pod is killed reconnects to the other pod, rejoins the room and receives again."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from playwright.sync_api import Browser, Page, expect

from tests.support.servers import DaphnePod, RedisServer

RECONNECT_TIMEOUT_MS = 15_000


def demo_open(browser: Browser, pod: DaphnePod, ws_urls: list[str] | None = None) -> Page:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    query = f"?{urlencode({'ws': ','.join(ws_urls)})}" if ws_urls else ""
    page.goto(f"http://127.0.0.1:{pod.port}/{query}")
    expect(page.locator("#state")).to_have_text("open")
    return page


def room_join(page: Page, room: str) -> None:
    page.locator("input[name=room]").fill(room)
    page.locator("#join").click()
    expect(page.locator("#room")).to_have_text(room)


def message_send(page: Page, text: str) -> None:
    page.locator("input[name=text]").fill(text)
    page.locator("#send").click()
    expect(page.locator("input[name=text]")).to_have_value("")  # cleared once acknowledged


def test_two_pages_on_two_pods_then_one_pod_killed(
    browser: Browser,
    redis_factory: Callable[..., RedisServer],
    pod_factory: Callable[..., DaphnePod],
) -> None:
    redis = redis_factory(password="demo e2e")
    env = {"REDIS_URL": redis.url(), "REALTIME_DEMO": "true"}
    pod1, pod2 = pod_factory(env, "pod-1"), pod_factory(env, "pod-2")
    pod1.wait_listening()
    pod2.wait_listening()
    # Both pages come from pod-2, which stays up; A's socket goes to pod-1 first, pod-2 next.
    page_a = demo_open(browser, pod2, [pod1.ws_url, pod2.ws_url])
    page_b = demo_open(browser, pod2)  # its WebSocket URL derived from the page's location
    expect(page_a.locator("#pod")).to_have_text("pod-1")
    expect(page_b.locator("#pod")).to_have_text("pod-2")

    room_join(page_a, "demo")
    room_join(page_b, "demo")
    expect(page_b.locator("#members")).to_have_text("2")
    message_send(page_a, "hello from A")
    expect(page_b.locator("#log")).to_contain_text("hello from A")
    expect(page_a.locator("#log")).to_contain_text("me: hello from A")
    message_send(page_b, "hello from B")
    expect(page_a.locator("#log")).to_contain_text("hello from B")

    pod1.kill()
    expect(page_a.locator("#pod")).to_have_text("pod-2", timeout=RECONNECT_TIMEOUT_MS)
    expect(page_a.locator("#state")).to_have_text("open", timeout=RECONNECT_TIMEOUT_MS)
    expect(page_a.locator("#log")).to_contain_text("reconnecting (close code 1006")
    expect(page_a.locator("#room")).to_have_text("demo")
    message_send(page_b, "after the move")
    expect(page_a.locator("#log")).to_contain_text("after the move")
    message_send(page_a, "A is back")
    expect(page_b.locator("#log")).to_contain_text("A is back")

    for page in (page_a, page_b):
        assert page.errors == []  # type: ignore[attr-defined]
        page.close()
