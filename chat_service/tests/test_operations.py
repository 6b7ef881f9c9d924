"""auth lookup failures, health checks, Redis-backed presence across instances."""

import pytest

from chat_service import create_app
from chat_service.state import EXTENSION
from chat_service.services.presence import RedisPresence
from shared.testing import free_port, require_redis

from .conftest import make_config


def test_auth_unreachable_is_503_not_500(database_url, fake_auth, auth):
    app = create_app(make_config(database_url, f"http://127.0.0.1:{free_port()}", auth_timeout=0.5))
    try:
        client = app.test_client()
        alice = auth.user("alice", seen=False)
        fake_auth.register("bob")
        response = client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers)
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"
        response = client.post("/api/conversations/direct", json={"username": "bob"}, headers=alice.headers)
        assert response.status_code == 503
    finally:
        app.extensions[EXTENSION].shutdown()


def test_auth_errors_are_503(client, auth, fake_auth):
    alice = auth.user("alice")
    fake_auth.register("bob")
    fake_auth.status_override = 500
    response = client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"
    fake_auth.status_override = None
    assert client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers).status_code == 201


def test_users_already_known_need_no_auth_lookup(client, auth, fake_auth):
    alice, _ = auth.user("alice"), auth.user("bob")
    fake_auth.requests.clear()
    assert client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers).status_code == 201
    assert fake_auth.requests == []


def test_healthz(client):
    for path in ("/healthz", "/api/healthz"):
        response = client.get(path)
        assert response.status_code == 200 and response.get_json()["status"] == "ok"


def test_healthz_is_503_when_the_database_is_unreachable(fake_auth):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(make_config(url, fake_auth.url))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"


def test_healthz_checks_redis_when_configured(sqlite_url, fake_auth):
    redis_url = require_redis()
    app = create_app(make_config(sqlite_url, fake_auth.url, redis_url=redis_url))
    assert app.test_client().get("/healthz").get_json()["checks"] == {"database": "ok", "redis": "ok"}
    down = create_app(make_config(sqlite_url, fake_auth.url, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    assert down.test_client().get("/healthz").status_code == 503


@pytest.fixture
def presence_pair():
    url = require_redis()
    import secrets

    prefix = f"chat-test:{secrets.token_hex(4)}"
    one = RedisPresence(url, "instance-one", ttl=30, prefix=prefix)
    two = RedisPresence(url, "instance-two", ttl=30, prefix=prefix)
    yield one, two
    for key in one.redis.scan_iter(f"{prefix}:*"):
        one.redis.delete(key)


def test_redis_presence_counts_connections_across_instances(presence_pair):
    one, two = presence_pair
    assert one.connected(7) is True
    assert two.connected(7) is False
    assert one.online([7, 8]) == {7} == two.online([7, 8])
    assert one.disconnected(7) is False
    assert two.online([7]) == {7}
    assert two.disconnected(7) is True
    assert one.online([7]) == set()
    assert one.disconnected(7) is False  # a stray extra close never goes negative


def test_redis_presence_forgets_a_dead_instance(presence_pair):
    one, two = presence_pair
    assert one.connected(7) is True
    assert two.connected(8) is True and two.connected(7) is False
    one.redis.delete(one._heartbeat_key(one.instance_id))  # instance one crashed; its heartbeat expired
    assert two.online([7, 8]) == {7, 8}  # 7 is still connected through instance two
    two.disconnected(7)
    assert two.online([7]) == set()
    assert one.connected(9) is True  # (one is back; unrelated user)
    one.redis.delete(one._heartbeat_key(one.instance_id))
    assert two.heartbeat() == [9]  # the survivor reaps the dead instance and reports who went offline
    assert two.heartbeat() == []
    assert two.online([8, 9]) == {8}
