"""The one way every service connects to Redis: a single server or a Redis Cluster.

`REDIS_URL` names either a server (`redis://host:port/0`, `rediss://...`) or a cluster:
`redis+cluster://[user:password@]host:port[,host:port...]` lists seed nodes (any of the
cluster's nodes; more than one so that start-up does not depend on one of them), from
which the client learns every primary and replica and follows them through failovers.

What a cluster asks of the code that uses it, whichever kind it is given:
- keys used together in one transaction, Lua script or multi-key command share a hash
  tag (`{...}`), so that they live in one slot;
- no PUBLISH inside a pipeline (redis-py refuses it on a cluster): publish on its own;
- `pipeline(transaction=True)` where it must be atomic: a cluster's pipeline is not by default;
- sharded pub/sub (SSUBSCRIBE) is read per node: see `ShardedRedisManager`.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster

from .config import ConfigError, env_str

CLUSTER_SCHEME = "redis+cluster"

Client = redis.Redis | RedisCluster


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme == CLUSTER_SCHEME


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """The seed nodes a `redis+cluster://` URL lists; ValueError if it lists none or a bad one."""
    parts = urlsplit(url)
    if parts.path.strip("/") or parts.query:
        raise ValueError("a Redis Cluster URL has no database number or options: a cluster has only database 0")
    nodes = []
    for address in parts.netloc.rpartition("@")[2].split(","):
        host, _, port = address.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"Redis Cluster nodes must be host:port, not {address!r}")
        nodes.append((host, int(port)))
    return nodes


def redis_url_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """`REDIS_URL` (a server or a cluster, checked); None without Redis."""
    url = env_str("REDIS_URL", "", env) or None
    if url is not None and is_cluster_url(url):
        try:
            cluster_nodes(url)
        except ValueError as error:
            raise ConfigError(f"REDIS_URL: {error}") from None
    return url


def connect(url: str, **options: Any) -> Client:
    """A client for `url`. `options` are redis-py's connection options; `retry` is how
    often a failed command is tried again (on a cluster, after the client has learned
    the cluster's new shape, so `Retry(NoBackoff(), 0)` still follows a failover on the
    next command)."""
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **options)
    parts = urlsplit(url)
    credentials = {}
    if parts.username:
        credentials["username"] = unquote(parts.username)
    if parts.password:
        credentials["password"] = unquote(parts.password)
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in cluster_nodes(url)],
                        **credentials, **options)


def follow_failover(client: Client) -> None:
    """After a connection to a cluster node broke: ask the cluster which node owns which
    slots now (a replica may have taken over the dead primary's), so that the next
    subscription goes to the new owner. Raises while no node answers."""
    if isinstance(client, RedisCluster):
        client.nodes_manager.initialize()



class Publisher:
    """PUBLISH/SPUBLISH on a message's path: the commands of one call go, in order, in one
    round trip on one connection; raises if Redis did not take every one.

    Through redis-py's client each command has its own round trip, pool checkout and return
    (with their locks; 26 µs alone), retry wrapper and metrics hooks: two publishes cost
    149-172 µs of CPU in one measurement, against 56-60 µs here (one: 51-54 µs). Here
    connections wait in a list of their own between calls (one per concurrent caller at
    most). A cluster spreads the channels over nodes, so there each command goes through
    the cluster client, which knows which node owns which.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._idle: deque[redis.Connection] = deque()  # pop/append are atomic: no lock

    def publish_all(self, commands: list[tuple[str, ...]]) -> list[Any]:
        """Each command's reply (for a PUBLISH, how many subscribers got it)."""
        if isinstance(self.client, RedisCluster):
            return [self.client.execute_command(*command) for command in commands]
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = self.client.connection_pool.make_connection()
        try:
            _ready(connection)
            connection.send_packed_command(connection.pack_commands(commands))
            return [connection.read_response() for _ in commands]
        except BaseException:
            # Replies left unread would answer the next caller's commands: start afresh
            # (a disconnected connection connects again when next used).
            connection.disconnect()
            raise
        finally:
            self._idle.append(connection)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().disconnect()


def _ready(connection: redis.Connection) -> None:
    """Connected, with nothing waiting to be read: as redis-py's pool checks a connection it
    hands out. A connection whose server closed it (a Redis restart) reads as readable;
    it is replaced here, so the first publish after a restart is not lost."""
    try:
        connection.connect()
        if connection.can_read():
            raise redis.ConnectionError("Connection has data")
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        connection.disconnect()
        connection.connect()
