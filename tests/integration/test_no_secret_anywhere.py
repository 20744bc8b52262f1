"""No secret in any output: a pod and the management commands run with every secret set (the
Redis password, SECRET_KEY, the JWT key, the database password) and with their failures
provoked (a Redis that refuses the password, a database that refuses the login, a forged
token), and random fragments of every secret are searched in every log, page, frame and
command output."""

from __future__ import annotations

import asyncio
import random
import secrets
import string
from urllib.parse import quote

import websockets

from tests.support.servers import manage_py

FRAGMENT = 8  # long enough that a match is no coincidence


def secret_of(length: int) -> str:
    # Characters a URL must escape too: a secret may show up escaped or not.
    alphabet = string.ascii_letters + string.digits + "@/:%"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def fragments(secret: str, count: int = 12) -> set[str]:
    starts = random.Random(secret).sample(range(len(secret) - FRAGMENT + 1), count)
    pieces = {secret[i : i + FRAGMENT] for i in starts}
    return pieces | {quote(piece, safe="") for piece in pieces} | {secret, quote(secret, safe="")}


async def test_no_fragment_of_any_secret_in_any_output(
    tmp_path, pod_factory, redis_factory
) -> None:
    redis_password, wrong_password = secret_of(32), secret_of(32)
    secret_key, jwt_key, db_password = secret_of(50), secret_of(40), secret_of(24)
    server = redis_factory(password=redis_password)
    env = {
        # The wrong password: every Redis failure path logs and falls back to memory.
        "REDIS_URL": f"redis://:{quote(wrong_password, safe='')}@127.0.0.1:{server.port}/0",
        "SECRET_KEY": secret_key,
        "REALTIME_JWT_KEY": jwt_key,
        "DATABASE_URL": f"postgres://nobody:{quote(db_password, safe='')}@127.0.0.1:5432/nowhere",
        "ALLOWED_HOSTS": "localhost,127.0.0.1",
    }
    pod = pod_factory(env).wait_listening()
    outputs = [pod.http_get(path, host="localhost")[1]
               for path in ("/healthz", "/readyz", "/metrics", "/admin/login/", "/realtime/token",
                            "/admin/", "/no-such-page")]  # fmt: skip
    forged = f"ws://127.0.0.1:{pod.port}/ws/?token={secret_of(30)}"
    async with websockets.connect(forged, open_timeout=10) as refused:
        try:
            outputs.append(str(await asyncio.wait_for(refused.recv(), 10)))
        except websockets.ConnectionClosed as closed:
            outputs.append(str(closed))
    async with websockets.connect(pod.ws_url, open_timeout=10) as client:
        outputs.append(str(await asyncio.wait_for(client.recv(), 10)))
        await client.send('{"type":"join","room":"r","id":1}')
        outputs.append(str(await asyncio.wait_for(client.recv(), 10)))

    for command in (["check_redis"], ["check_redis", "--json"], ["emit", "r", "e", "{}"],
                    ["check", "--deploy"], ["migrate", "--check"]):  # fmt: skip
        result = manage_py(tmp_path, env, *command, timeout=60)
        outputs += [result.stdout, result.stderr]
    pod.stop()
    outputs.append(pod.log())

    everything = "\n".join(outputs)
    assert "WRONGPASS" in everything or "NOAUTH" in everything  # the failures did happen
    assert 'role "nobody" does not exist' in everything  # the database refused the login
    for name, secret in [("Redis password", redis_password), ("wrong Redis password",
                         wrong_password), ("SECRET_KEY", secret_key), ("JWT key", jwt_key),
                         ("database password", db_password)]:  # fmt: skip
        found = [piece for piece in fragments(secret) if piece in everything]
        assert not found, f"{name}: {found} in the outputs"
