"""The least-privilege Redis ACL of docs/operations.md, exactly as written there, is enough for
everything the product does: fan-out across pods, member counts, stats, `manage.py emit`,
`check_redis` and a drain; nothing is refused (NOPERM) or counted as a Redis error."""

from __future__ import annotations

import asyncio
import json
import re
import signal

import redis

from realtime.ops.stats_read import snapshots_read
from realtime.redis.clients import redis_client
from realtime.redis.url import redis_target_parse
from tests.support.servers import (
    PROJECT_ROOT,
    RedisServer,
    async_wait_for,
    manage_py,
    pods_serving,
)
from tests.support.ws_client import WsClient

USER, PASSWORD = "murror-app", "least-privilege pw"


def documented_acl() -> list[str]:
    """The rules of the ACL SETUSER line in docs/operations.md, after the user and password."""
    text = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    (line,) = re.findall(r"^ACL SETUSER murror-app on >PASSWORD (.+)$", text, re.MULTILINE)
    return line.split()


def acl_refusals(admin: redis.Redis) -> set[str]:
    """What ACL LOG says was refused: `command:NAME`, `key:NAME`, `channel:NAME`."""
    refusals = set()
    for entry in admin.execute_command("ACL", "LOG"):
        fields = (
            entry if isinstance(entry, dict) else dict(zip(entry[::2], entry[1::2], strict=True))
        )
        refusals.add(f"{fields[b'reason'].decode()}:{fields[b'object'].decode()}")
    return refusals


async def test_the_documented_acl_is_enough_for_everything(tmp_path) -> None:
    acl = ["--user", USER, "on", f">{PASSWORD}", *documented_acl()]
    server = RedisServer(tmp_path / "redis", password="admin pw", args=acl).start()
    try:
        url = server.url(username=USER, password=PASSWORD, db=1)
        env = {"REDIS_URL": url, "REALTIME_STATS_SECONDS": "1"}
        with pods_serving(tmp_path, env, ["acl-1", "acl-2"]) as (first, second):
            sender = await WsClient.connect(first.ws_url)
            receiver = await WsClient.connect(second.ws_url)
            for client in (sender, receiver):
                await client.join("acl")
            assert await receiver.members("acl") == 2  # counts across pods, through Redis
            await sender.emit("acl", "chat", {"n": 1})
            assert (await receiver.receive())["data"] == {"n": 1}

            emitted = await asyncio.to_thread(
                manage_py, tmp_path, env, "emit", "acl", "notice", "{}"
            )
            assert emitted.returncode == 0, emitted.stderr
            assert (await receiver.receive())["event"] == "notice"

            reader = redis_client(redis_target_parse(url), 2)

            async def both_pods_in_the_stats() -> bool:
                snapshots, _ = await snapshots_read(reader)
                return {s["pod"] for s in snapshots} == {"acl-1", "acl-2"}

            await async_wait_for(both_pods_in_the_stats, 10, "both pods' stats snapshots")
            await reader.aclose()

            checked = await asyncio.to_thread(manage_py, tmp_path, env, "check_redis", "--json")
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert json.loads(checked.stdout)["healthy"] is True

            await sender.close()
            assert first.process
            first.process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(first.wait_exit, 15) == 0
            assert "Drained: this pod has left every room" in first.log()
            assert await receiver.members("acl") == 1
            metrics = second.http_get("/metrics")[1]
            await receiver.close()
        for pod in (first, second):
            assert "NOPERM" not in pod.log(), pod.log()
            assert "Redis" not in " ".join(
                line
                for line in pod.log().splitlines()
                if "failed" in line or "not reaching" in line
            ), pod.log()
        assert re.search(r"^murror_redis_errors_total\{[^}]*\} 0\.0$", metrics, re.MULTILINE), (
            metrics
        )
        # Redis's own record of every refused command, the clean stop's included.
        with server.client() as admin:
            assert acl_refusals(admin) == set()
    finally:
        server.stop()
