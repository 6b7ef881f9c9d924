import pytest

from chat_service.config import Config
from shared.config import ConfigError
from shared.redis_client import cluster_nodes

CLUSTER_URL = "redis+cluster://10.0.0.1:7000,10.0.0.2:7001"


def test_a_redis_cluster_is_named_by_its_seed_nodes():
    config = Config.from_env({"REDIS_URL": CLUSTER_URL, "SOCKETIO_MANAGER": "sharded"})
    assert cluster_nodes(config.redis_url) == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]


def test_a_redis_cluster_gets_the_sharded_manager_by_default():
    assert Config.from_env({"REDIS_URL": CLUSTER_URL}).socketio_manager == "sharded"


@pytest.mark.parametrize("env, says", [
    # python-socketio's manager reads one server: it cannot follow a cluster.
    ({"REDIS_URL": CLUSTER_URL, "SOCKETIO_MANAGER": "redis"}, "SOCKETIO_MANAGER must be 'sharded'"),
    ({"REDIS_URL": "redis+cluster://10.0.0.1:7000/1", "SOCKETIO_MANAGER": "sharded"}, "database"),
    ({"REDIS_URL": "redis+cluster://10.0.0.1,10.0.0.2:7001", "SOCKETIO_MANAGER": "sharded"}, "host:port"),
])
def test_redis_cluster_settings_are_checked_at_start_up(env, says):
    with pytest.raises(ConfigError, match=says):
        Config.from_env(env)
