"""Whatever arrives, the answer is a 4xx (or 2xx) with the error envelope, never a 500."""

import pytest

from shared.testing import free_port

from .conftest import assert_error

POST_ENDPOINTS = ["/auth/register", "/auth/login", "/auth/token", "/auth/refresh", "/auth/logout"]
GET_ENDPOINTS = ["/auth/me", "/auth/users?q=a", "/auth/users/alice"]

MALFORMED_BODIES = [
    {"data": "{not json", "content_type": "application/json"},
    {"data": "[1, 2]", "content_type": "application/json"},
    {"data": "null", "content_type": "application/json"},
    {"data": '"text"', "content_type": "application/json"},
    {"data": "\xff\xfe", "content_type": "application/json"},
    {"data": b"\xff\xfe\x00", "content_type": "application/json"},
    {"data": "NaN", "content_type": "application/json"},
    {"data": "[" * 100000, "content_type": "application/json"},
    {"data": "username=alice&password=x", "content_type": "application/x-www-form-urlencoded"},
    {"data": "hello", "content_type": "text/plain"},
    {"json": {"username": {"$ne": None}, "password": [], "email": 1.5, "refresh_token": {"a": 1}}},
    {"json": {"username": True, "password": False, "email": None, "refresh_token": True}},
    {"json": {"username": "a" * 10000, "password": "\ud800", "email": "\x00", "refresh_token": "\ud800"}},
    {"headers": {"Authorization": "Basic !!!not-base64"}},
    {"headers": {"Authorization": "Basic " + "YTpi" * 4}},
    {"headers": {"Authorization": "Bearer"}},
]


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize("kwargs", MALFORMED_BODIES)
def test_malformed_bodies_get_a_4xx_envelope(client, path, kwargs):
    response = client.post(path, **kwargs)
    if response.status_code == 204:  # logout with nothing to revoke
        assert path == "/auth/logout"
        return
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] and error["message"]


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize("body", ["[" * 1000 + "]" * 1000, '{"username": ' * 1000 + "1" + "}" * 1000])
def test_deeply_nested_json_is_400(client, path, body):
    assert_error(client.post(path, data=body, content_type="application/json"), 400, "bad_request")


@pytest.mark.parametrize("path", GET_ENDPOINTS)
@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer " + "a.b.c"},
    {"Authorization": "Bearer " + "x" * 20000},
    {"Authorization": "Bearer \u00e9\u00e9.\u00e9.\u00e9"},
    {"Cookie": "access_token=%ff%00"},
])
def test_malformed_credentials_get_401(client, path, headers):
    assert_error(client.get(path, headers=headers), 401, "unauthorized")


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_oversized_body_is_413(client, path):
    response = client.post(path, data='{"username": "' + "a" * 70000 + '"}', content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_unknown_path_and_wrong_method_use_the_envelope(client):
    assert_error(client.get("/auth/nothing-here"), 404, "not_found")
    response = client.get("/auth/login")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/healthz", "/auth/healthz"])
def test_healthz_ok(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_healthz_checks_redis_when_configured(make_app, redis_settings):
    assert make_app(**redis_settings).test_client().get("/healthz").get_json() == {"status": "ok"}
    down = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    assert_error(down.get("/healthz"), 503, "unavailable")


@pytest.fixture
def app_without_database(tmp_path):
    from auth_service import create_app
    from auth_service.config import Config

    from .conftest import TEST_KEYS

    missing = tmp_path / "missing-dir" / "auth.sqlite3"
    return create_app(Config(key_ring=TEST_KEYS, database_url=f"sqlite:///{missing}", scrypt_n=2**10))


def test_database_down_is_503_everywhere(app_without_database):
    client = app_without_database.test_client()
    assert_error(client.get("/healthz"), 503, "unavailable")
    body = {"username": "alice", "email": "a@example.com", "password": "long enough"}
    assert_error(client.post("/auth/register", json=body), 503, "unavailable")
    assert_error(client.post("/auth/login", json=body), 503, "unavailable")


def test_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abcdef123456"})
    assert response.headers["X-Request-ID"] == "abcdef123456"
