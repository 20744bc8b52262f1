"""A Redis Cluster of the test's own: redis-server nodes on free loopback ports, joined by
`redis-cli --cluster create`, with replicas that take over a killed master in about 2 s.

One failover per cluster: Redis 7.0 may not replace a master at all when its shard failed over a
moment before. A replica keeps the election it won for 2 x cluster-node-timeout (Valkey resets
it, valkey-io/valkey#1711; Redis 7.0 does not): demoted, and its new master dying within that
time, it "wins" again on the old votes with the old config epoch, the other nodes refuse the
claim, and the slots stay unserved. And a demoted master that has not reached its new master yet
counts as disconnected since ever ("Disconnected from master for longer than allowed"). Both
seen here under load: 20 s and more without a master.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from redis.crc import key_slot

from tests.support.servers import free_port, wait_for

# A master is marked failed after this many milliseconds without an answer; Redis's default
# (15 s) would leave a killed master's slots unserved far past the 10 s the SPEC allows.
NODE_TIMEOUT_MS = 1000
START_TIMEOUT = 30
FAILOVER_TIMEOUT = 20
# CLUSTER NODES flags of a node the others are still making up their minds about.
_UNSETTLED = {"fail", "fail?", "handshake", "noaddr"}


class RedisClusterServers:
    """`masters` primaries, each with `replicas` replicas, all with `password` if given."""

    def __init__(
        self, workdir: Path, masters: int = 3, replicas: int = 0, password: str | None = None
    ):
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            raise RuntimeError("redis-server and redis-cli are needed: run bin/install-system-deps")
        self.workdir = workdir
        self.masters = masters
        self.replicas = replicas
        self.password = password
        # The bus port is given explicitly (Redis 7's cluster-port): port + 10000, Redis's
        # default, is past 65535 for most ephemeral ports.
        self.bus_ports = {free_port(): free_port() for _ in range(masters * (1 + replicas))}
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def ports(self) -> list[int]:
        return list(self.bus_ports)

    @property
    def nodes(self) -> list[str]:
        return [_address(port) for port in self.ports]

    def url(self, scheme: str = "redis+cluster") -> str:
        secret = quote(self.password or "", safe="")
        credentials = f":{secret}@" if secret else ""
        return f"{scheme}://{credentials}{','.join(self.nodes)}"

    def command(self, port: int) -> list[str]:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port)]
        command += ["--cluster-enabled", "yes", "--cluster-port", str(self.bus_ports[port])]
        command += ["--cluster-config-file", f"nodes-{port}.conf"]
        command += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        # The nodes share the workdir: a replica's full sync writes its own RDB file, not the
        # one a restarted node would load. No 5 s wait for more replicas before a sync starts.
        command += ["--dbfilename", f"dump-{port}.rdb", "--repl-diskless-sync-delay", "0"]
        if self.password:
            command += ["--requirepass", self.password, "--masterauth", self.password]
        return command

    def start(self) -> RedisClusterServers:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            for port in self.ports:
                self.node_start(port)
            create = ["redis-cli", *self._auth(), "--cluster", "create", *self.nodes]
            create += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
            subprocess.run(create, check=True, capture_output=True, timeout=START_TIMEOUT)
            wait_for(
                self.healthy, START_TIMEOUT, "cluster_state:ok on every node, replicas in sync"
            )
        except BaseException:
            self.stop()  # no fixture teardown follows a failed start
            raise
        return self

    def node_start(self, port: int) -> None:
        log = open(self.workdir / f"redis-{port}.log", "ab")  # noqa: SIM115
        self.processes[port] = subprocess.Popen(
            self.command(port), stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(lambda: self._answers_ping(port), 10, f"redis-server on port {port}")

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.password, socket_timeout=2, protocol=2)

    def live_ports(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def master_for_key(self, key: str | bytes) -> int:
        """The port of the master that owns `key`'s slot (a channel name hashes the same)."""
        return self.master_for_slot(key_slot(key.encode() if isinstance(key, str) else key))

    def master_for_slot(self, slot: int) -> int:
        for port, (first, last) in self._slot_ranges():
            if first <= slot <= last:
                return port
        raise AssertionError(f"no live master reported for slot {slot}")

    def kill(self, port: int) -> None:
        """SIGKILL one node: no goodbye to the cluster or to its clients."""
        process = self.processes[port]
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

    def wait_replica_promoted(self, old_port: int, timeout: float = FAILOVER_TIMEOUT) -> int:
        """Wait until `old_port` (killed) owns no slots any more and every live node says
        cluster_state:ok; return the port of the master that took its place."""
        owned = [first for port, (first, _) in self._slot_ranges() if port == old_port]
        assert owned, f"port {old_port} owned no slots to begin with"

        def promoted() -> int | None:
            try:
                new_owner = self.master_for_slot(owned[0])
            except (redis.RedisError, AssertionError):
                return None
            return new_owner if new_owner != old_port and self._states_ok() else None

        return wait_for(promoted, timeout, f"a replica to take over the slots of {old_port}")

    def failover(self, port: int, timeout: float = FAILOVER_TIMEOUT) -> int:
        """CLUSTER FAILOVER on a replica of master `port`, which stays up as a replica; return
        the port of the new master once it owns the slots."""
        # A master ignores the replica's request unless it sees the replica as its own, and the
        # replica gives up 5 s later without a word (CLUSTER_MF_TIMEOUT).
        wait_for(self.healthy, START_TIMEOUT, "the cluster to settle before CLUSTER FAILOVER")
        replica = self.replica_of(port)
        owned = next(first for owner, (first, _) in self._slot_ranges() if owner == port)
        with self.client(replica) as client:
            client.execute_command("CLUSTER", "FAILOVER")

        def promoted() -> bool:
            try:
                return self.master_for_slot(owned) == replica and self._states_ok()
            except (redis.RedisError, AssertionError):
                return False

        wait_for(promoted, timeout, f"replica {replica} to take over from {port}")
        return replica

    def replica_of(self, port: int) -> int:
        for candidate in self.live_ports():
            with self.client(candidate) as client:
                replication = client.info("replication")
            if replication["role"] == "slave" and int(replication["master_port"]) == port:
                return candidate
        raise AssertionError(f"master {port} has no live replica")

    def shard_subscribers(self, channel: str | bytes) -> int:
        """How many connections are subscribed to a shard channel (SSUBSCRIBE) on its master."""
        with self.client(self.master_for_key(channel)) as client:
            return int(client.execute_command("PUBSUB", "SHARDNUMSUB", channel)[1])

    def healthy(self) -> bool:
        return (
            self._states_ok()
            and all(self._replica_in_sync(port) for port in self.live_ports())
            and self._views_agree()
        )

    def stop(self) -> None:
        for port in list(self.processes):
            self.kill(port)

    def _auth(self) -> list[str]:
        return ["-a", self.password, "--no-auth-warning"] if self.password else []

    def _answers_ping(self, port: int) -> bool:
        try:
            with self.client(port) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _state_ok(self, port: int) -> bool:
        with self.client(port) as client:
            return client.cluster("INFO").get("cluster_state") == "ok"

    def _states_ok(self) -> bool:
        try:
            return all(self._state_ok(port) for port in self.live_ports())
        except redis.RedisError:
            return False

    def _views_agree(self) -> bool:
        """Every live node sees every live node connected, not failing, and with the role and
        master that node gives itself. Replication can be up a second before the cluster bus
        says so: until then a master still sees its replica as a master without slots."""
        try:
            views = {port: self._cluster_nodes(port) for port in self.live_ports()}
        except redis.RedisError:
            return False
        selves = {_address(port): nodes[_address(port)] for port, nodes in views.items()}
        for nodes in views.values():
            for address, itself in selves.items():
                seen = nodes.get(address)
                if seen is None or not seen["connected"] or _role(seen) != _role(itself):
                    return False
                if _UNSETTLED.intersection(seen["flags"].split(",")):
                    return False
        return True

    def _cluster_nodes(self, port: int) -> dict[str, dict[str, Any]]:
        with self.client(port) as client:
            return client.cluster("NODES")

    def _replica_in_sync(self, port: int) -> bool:
        try:
            with self.client(port) as client:
                replication = client.info("replication")
        except redis.RedisError:
            return False
        return replication["role"] == "master" or replication.get("master_link_status") == "up"

    def _slot_ranges(self) -> list[tuple[int, tuple[int, int]]]:
        """(master port, (first slot, last slot)) for every range, from a live node's view."""
        for port in self.live_ports():
            try:
                with self.client(port) as client:
                    slots = client.execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                continue
            # Each entry: first slot, last slot, [master host, port, id], [replica ...]...
            return [(int(entry[2][1]), (int(entry[0]), int(entry[1]))) for entry in slots]
        raise AssertionError("no live node answered CLUSTER SLOTS")


def _address(port: int) -> str:
    return f"127.0.0.1:{port}"


def _role(node: dict[str, Any]) -> tuple[str, str]:
    """("master", "-") or ("slave", its master's ID), from a node's CLUSTER NODES entry."""
    flags = node["flags"].split(",")
    return ("master" if "master" in flags else "slave", node["master_id"])
