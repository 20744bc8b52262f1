"""Logging in through the admin's form on a pod, as a browser would."""

from __future__ import annotations

import re

import aiohttp

from tests.support.servers import DaphnePod


async def session_cookie_from_login(pod: DaphnePod, username: str, password: str) -> str:
    """The session cookie of a login through the admin's form on `pod` (Host localhost)."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1, an IP address
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as http:
        login = f"http://127.0.0.1:{pod.port}/admin/login/"
        async with http.get(login, headers={"Host": "localhost"}) as page:
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', await page.text())
        assert token
        form = {"csrfmiddlewaretoken": token[1], "username": username, "password": password}
        headers = {"Host": "localhost", "Referer": login, "Origin": "http://localhost"}
        async with http.post(login, data=form, headers=headers, allow_redirects=False) as done:
            assert done.status == 302, await done.text()
        (cookie,) = [c for c in jar if c.key == "sessionid"]
        return cookie.value
