"""Test helpers for tests that need a real server (PostgreSQL, Redis, nginx, Chromium).

Outside CI a missing server skips the test with a visible reason; with
`CI=true` nothing is skipped: a missing server fails the test.
"""

from __future__ import annotations

import glob
import os
import secrets
import selectors
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (in CI) because a server or tool is missing."""
    if in_ci():
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_executable(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if not path:
        unavailable(f"{name} is not installed")
    return path


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def require_postgres() -> str:
    url = postgres_admin_url()
    parts = urlsplit(url)
    if not port_open(parts.hostname or "127.0.0.1", parts.port or 5432):
        unavailable(f"PostgreSQL is not reachable at {parts.hostname}:{parts.port or 5432}")
    return url


def require_redis() -> str:
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    parts = urlsplit(url)
    if not port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        unavailable(f"Redis is not reachable at {parts.hostname}:{parts.port or 6379}")
    return url


@contextmanager
def temporary_postgres_database(prefix: str) -> Iterator[str]:
    """Create an empty database for one test session and drop it afterwards."""
    import psycopg2

    admin_url = require_postgres()
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    parts = urlsplit(admin_url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    try:
        yield url
    finally:
        conn = psycopg2.connect(admin_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()



class TcpRelay:
    """Forwards 127.0.0.1:<port> to `host:port`; a test breaks it as an outage would:
    `drop_connections` (the server terminated them) or `cut` (the network or server is
    down: open connections dropped, new ones refused) until `restore`. Lets a test take
    a server away from one client without touching the shared server."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def __enter__(self) -> "TcpRelay":
        return self

    def __exit__(self, *exc_info) -> None:
        self.cut()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown wakes the accepting thread; close alone would not
        self.drop_connections()

    def drop_connections(self) -> None:
        with self._lock:
            doomed = list(self._sockets)
            self._sockets.clear()
        for sock in doomed:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            for sock in (a, b):
                with self._lock:
                    self._sockets.discard(sock)
                _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class RedisServer:
    """A redis-server of its own on a spare port, never the machine's shared one, which
    a test may kill (SIGKILL, like a crash) and start again on the same port. With
    `cluster_node_timeout` (ms) it is a Redis Cluster node (see `RedisClusterServers`)."""

    def __init__(self, directory: str, cluster_node_timeout: int | None = None) -> None:
        self.directory = directory
        self.port = free_port()
        self.cluster_node_timeout = cluster_node_timeout
        self.bus_port = free_port() if cluster_node_timeout is not None else None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.kill()

    def start(self) -> "RedisServer":
        argv = [require_executable("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.directory]
        if self.cluster_node_timeout is not None:
            # A bus port of its own: the default (port + 10000) may be taken or past 65535.
            argv += ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{self.port}.conf",
                     "--cluster-node-timeout", str(self.cluster_node_timeout), "--cluster-port", str(self.bus_port)]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port, timeout=0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


class RedisClusterServers:
    """A Redis Cluster of its own: 3 primaries with a replica each, redis-server processes
    on spare ports joined by `redis-cli --cluster create`. A node missing its peers for
    `node_timeout` ms counts as failed, so a killed primary's replica takes over within
    a few seconds."""

    PRIMARIES = 3

    def __init__(self, directory: str, node_timeout: int = 1000) -> None:
        self.nodes = [RedisServer(directory, cluster_node_timeout=node_timeout) for _ in range(2 * self.PRIMARIES)]

    @property
    def url(self) -> str:
        """Seed nodes for `shared.redis_client` (every node, so that any may be killed)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def __enter__(self) -> "RedisClusterServers":
        try:
            for node in self.nodes:
                node.start()
            subprocess.run([require_executable("redis-cli"), "--cluster", "create",
                            *(f"127.0.0.1:{node.port}" for node in self.nodes),
                            "--cluster-replicas", "1", "--cluster-yes"],
                           check=True, capture_output=True, timeout=60)
            wait_until(self.healthy, 30, "the Redis Cluster to cover every slot, with every replica in sync")
        except BaseException:
            self.kill()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.kill()

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()

    def _info(self, node: RedisServer, *command: str) -> dict[str, str]:
        answer = subprocess.run([require_executable("redis-cli"), "-p", str(node.port), *command],
                                capture_output=True, text=True, timeout=10).stdout
        return dict(line.strip().split(":", 1) for line in answer.splitlines() if ":" in line)

    def healthy(self) -> bool:
        """Every live node sees the cluster whole, and every live replica is in sync."""
        live = [node for node in self.nodes if node.process is not None]
        states = [self._info(node, "cluster", "info").get("cluster_state") for node in live]
        replication = [self._info(node, "info", "replication") for node in live]
        return (all(state == "ok" for state in states)
                and all(r.get("master_link_status") == "up" for r in replication if r.get("role") == "slave"))

    def primary_for(self, key: str) -> RedisServer:
        """The node that owns `key`'s slot now."""
        from redis.cluster import RedisCluster

        live = next(node for node in self.nodes if node.process is not None)
        client = RedisCluster(host="127.0.0.1", port=live.port)
        try:
            port = client.get_node_from_key(key).port
        finally:
            client.close()
        return next(node for node in self.nodes if node.port == port)


class PostgresCluster:
    """A PostgreSQL server of its own, never the machine's shared one: a throwaway
    cluster (initdb in a temporary directory) on a spare port, which a test may stop
    and start again or whose connections it may terminate. Tuned for speed, not
    durability (no fsync)."""

    def __init__(self) -> None:
        initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not initdbs:
            unavailable("PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin)")
        self.bin = os.path.dirname(initdbs[-1])
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="test-postgres-")
        self.data = os.path.join(self.directory, "data")
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.directory, "postgres", "postgres")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> "PostgresCluster":
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c max_connections=200 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.directory, "server.log"), "-w",
                  "-o", options, "start")

    def stop(self) -> None:
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def terminate_connections(self) -> int:
        """Terminate every client connection (as an administrator or a failover would)."""
        return self.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")

    def execute(self, statement: str):
        import psycopg2

        connection = psycopg2.connect(self.url(), connect_timeout=5)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchone()[0] if cursor.description else None
        finally:
            connection.close()

    def _run(self, program: str, *args: str) -> None:
        argv = [os.path.join(self.bin, program), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=60, cwd=self.directory)
def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> float:
    """Poll `condition` until it is true; the seconds it took. Fails the test after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started


class SocketEvents:
    """Every event a Socket.IO test client receives, in order, for a test to wait on."""

    def __init__(self, client: Any) -> None:
        self.received: list[tuple[str, Any]] = []
        self._arrived = threading.Condition()
        client.on("*", self._on_event)

    def _on_event(self, name: str, data: Any = None) -> None:
        with self._arrived:
            self.received.append((name, data))
            self._arrived.notify_all()

    def wait_for(self, name: str, match: Callable[[Any], bool] = lambda _data: True,
                 timeout: float = 10.0) -> Any:
        """The data of the first `name` event that matches, taken off the list (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for index, (event, data) in enumerate(self.received):
                    if event == name and match(data):
                        del self.received[index]
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching {name!r} event within {timeout:g} s; got {self.received}")
                self._arrived.wait(remaining)


# The flaskr-style fixtures of a service's tests; its conftest provides `make_app`
# (a factory of configured apps) and imports these.
@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
