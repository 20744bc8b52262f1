"""Replicated Redis of the test's own, to fail over for real (SPEC, "Redis topologies and
failover"): a primary and a replica on free loopback ports, and three sentinels watching them."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from urllib.parse import quote

import redis

from tests.support.servers import RedisServer, free_port, wait_for

# Sentinel's own timings, shortened so that a failover takes seconds: the master counts as down
# after 1 s without an answer, and a failover that stalls is given up (and may be retried) soon.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
SENTINELS = 3
QUORUM = 2
# Sentinels find each other through hello messages on the master every 2 s, and the replica
# through the master's INFO: a few rounds of that.
DISCOVERY_TIMEOUT = 20


def config_quoted(text: str) -> str:
    """`text` as one argument of a redis.conf line, whatever characters a password has."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SentinelNode:
    """One `redis-server s.conf --sentinel`; its conf file is its own, as sentinel rewrites it."""

    def __init__(self, workdir: Path, password: str | None) -> None:
        self.workdir = workdir
        self.password = password
        self.port = free_port()
        self.conf = workdir / f"sentinel-{self.port}.conf"
        self.process: subprocess.Popen[bytes] | None = None

    def configure(self, lines: list[str]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        own = [f"port {self.port}", "bind 127.0.0.1", f"dir {config_quoted(str(self.workdir))}"]
        if self.password:
            # Sentinels vote over connections to each other: they need the password too.
            own += [f"requirepass {config_quoted(self.password)}"]
            own += [f"sentinel sentinel-pass {config_quoted(self.password)}"]
        self.conf.write_text("\n".join([*own, *lines]) + "\n")

    def start(self) -> SentinelNode:
        """Start from the conf file as sentinel last rewrote it (a restart keeps what it knew)."""
        log = open(self.workdir / f"sentinel-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            ["redis-server", str(self.conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(self.answers_ping, 10, f"sentinel on port {self.port}")
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=2, protocol=2)

    def answers_ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            assert self.process
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


class SentinelServers:
    """A master, a replica of it and three sentinels watching it under `master_name`.

    `password` is the data nodes' (and so the URL's); `sentinel_password` the sentinels' own
    requirepass (REDIS_SENTINEL_PASSWORD for the pods). Neither may hold whitespace or quotes:
    Redis 7.0's sentinel rewrites its conf with them unquoted, and then cannot restart from it.
    """

    def __init__(
        self,
        workdir: Path,
        master_name: str = "murror",
        password: str | None = None,
        sentinel_password: str | None = None,
    ) -> None:
        for secret in (password, sentinel_password):
            if secret and any(c.isspace() or c in "\"'" for c in secret):
                raise ValueError("a sentinel set-up's passwords cannot hold whitespace or quotes")
        self.workdir = workdir
        self.master_name = master_name
        self.password = password
        self.sentinel_password = sentinel_password
        # Made by start(): each server's free port is picked once the ones before it listen,
        # so that no two of them pick the same.
        self.nodes: list[RedisServer] = []
        self.sentinels: list[SentinelNode] = []

    def start(self) -> SentinelServers:
        self.nodes = list(replicated_pair(self.workdir, self.password))
        master = self.nodes[0]
        monitor = [
            "sentinel resolve-hostnames no",
            f"sentinel monitor {self.master_name} 127.0.0.1 {master.port} {QUORUM}",
            f"sentinel down-after-milliseconds {self.master_name} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {self.master_name} {FAILOVER_TIMEOUT_MS}",
        ]
        if self.password:
            monitor += [f"sentinel auth-pass {self.master_name} {config_quoted(self.password)}"]
        for _ in range(SENTINELS):
            sentinel = SentinelNode(self.workdir / "sentinels", self.sentinel_password)
            sentinel.configure(monitor)
            self.sentinels.append(sentinel)  # first: stop() ends it even if it never answers
            sentinel.start()
        wait_for(self.sentinels_agree, DISCOVERY_TIMEOUT, "the sentinels to know each other")
        return self

    def sentinels_agree(self) -> bool:
        """Every running sentinel watches the master, knows a replica and the other sentinels."""
        running = [s for s in self.sentinels if s.running()]
        try:
            for sentinel in running:
                with sentinel.client() as client:
                    state = client.sentinel_master(self.master_name)
                if state["flags"] != "master" or state["num-slaves"] < 1:
                    return False
                if state["num-other-sentinels"] != SENTINELS - 1:
                    return False
        except redis.RedisError:
            return False
        return True

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes:
            node.stop()

    def url(self, scheme: str = "redis+sentinel", password: str | None = None) -> str:
        """The SPEC's `redis+sentinel://[:password]@host:port,host:port,.../MASTER_NAME`."""
        secret = quote((self.password if password is None else password) or "", safe="")
        credentials = f":{secret}@" if secret else ""
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"{scheme}://{credentials}{hosts}/{self.master_name}"

    def master_port(self) -> int:
        """The master's port as the first running sentinel names it."""
        sentinel = next(s for s in self.sentinels if s.running())
        with sentinel.client() as client:
            _, port = client.sentinel_get_master_addr_by_name(self.master_name)
        return int(port)

    def node(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def kill_master(self) -> int:
        """SIGKILL the master, with no warning to anyone; its port."""
        port = self.master_port()
        self.node(port).stop()
        return port

    def failover(self) -> int:
        """SENTINEL FAILOVER with the old master left up (a planned switch); its port."""
        port = self.master_port()
        sentinel = next(s for s in self.sentinels if s.running())
        with sentinel.client() as client:
            client.sentinel_failover(self.master_name)
        return port

    def wait_failover(self, old_port: int, timeout: float) -> int:
        """Wait until every running sentinel names a master other than `old_port`, and that
        node answers ROLE as a master; its port."""

        def new_master() -> int | None:
            try:
                ports = set()
                for sentinel in (s for s in self.sentinels if s.running()):
                    with sentinel.client() as client:
                        ports.add(client.sentinel_get_master_addr_by_name(self.master_name)[1])
                if len(ports) != 1 or (port := int(ports.pop())) == old_port:
                    return None
                with self.node(port).client() as client:
                    return port if client.execute_command("ROLE")[0] == b"master" else None
            except redis.RedisError:
                return None

        return wait_for(new_master, timeout, f"a master other than port {old_port}")


def replicated_pair(workdir: Path, password: str | None = None) -> tuple[RedisServer, RedisServer]:
    """A primary and a replica of it, started and synced; either can sync from the other later."""
    # Redis waits 5 s by default for more replicas before a diskless full sync starts.
    args = ["--repl-diskless-sync-delay", "0"]
    # On both nodes: after a failover the old primary syncs from the new one.
    args += ["--masterauth", password] if password else []
    # Each node keeps its files in a folder of its own: a replica writes what it was sent into
    # its dir, which the other node must never load on a restart.
    primary = RedisServer(workdir / "node-0", password=password, args=args).start()
    replica_of = ["--replicaof", "127.0.0.1", str(primary.port)]
    replica = RedisServer(workdir / "node-1", password=password, args=[*args, *replica_of])
    try:
        replica.start()
        wait_for(lambda: replica_linked(replica), 10, f"the replica on port {replica.port} to sync")
    except BaseException:
        primary.stop()
        replica.stop()
        raise
    return primary, replica


def replication_swap(primary: RedisServer, replica: RedisServer) -> None:
    """Promote the replica, and make the old primary (left up) a replica of it, synced."""
    with replica.client() as client:
        client.execute_command("REPLICAOF", "NO", "ONE")
    with primary.client() as client:
        client.execute_command("REPLICAOF", "127.0.0.1", str(replica.port))
    wait_for(lambda: replica_linked(primary), 10, f"port {primary.port} to sync as a replica")


def replica_linked(server: RedisServer) -> bool:
    """`server` is a replica whose link to its master is up (the initial sync done)."""
    try:
        with server.client() as client:
            info = client.info("replication")
    except redis.RedisError:
        return False
    return info.get("role") == "slave" and info.get("master_link_status") == "up"
