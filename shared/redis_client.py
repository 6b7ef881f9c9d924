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


def publish_all(client: Client, commands: list[tuple[str, str, str]]) -> None:
    """Send PUBLISH/SPUBLISH commands, in order, in one round trip on one connection;
    raises if Redis did not take every one.

    On a message's path (one command per shard its recipients fall in), redis-py's
    per-command path -- pool checkout, retry wrapper, metrics hooks, return -- cost
    71 µs of CPU per publish, two publishes 122 µs; this costs 47 µs for one and 52 µs
    for two (docs/benchmarks.md). A cluster spreads the channels over nodes, so there
    each command goes through the cluster client, which knows which node owns which.
    """
    if isinstance(client, RedisCluster):
        for command in commands:
            client.execute_command(*command)
        return
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        for _ in commands:
            connection.read_response()
    except BaseException:
        # Replies left unread would answer the next user's commands: start afresh.
        connection.disconnect()
        raise
    finally:
        pool.release(connection)
